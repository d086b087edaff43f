"""Numbers as the report's reader writes them, through Babel's locale data: English
`99.72 %` and `10 000 Mbit/s`, Latvian `99,72 %` and `10 000 Mbit/s` (decimal comma);
thousands are grouped with a narrow no-break space (thin space) in both languages so that a
figure never breaks across lines. Durations have one format everywhere: `0 h 45 min`,
`2 h 05 min`, `48 h 00 min`."""

from __future__ import annotations

from babel.numbers import format_decimal, get_group_symbol

from gateway.reports.language import Language

THIN_SPACE = "\u202f"
LOCALES: dict[Language, str] = {"en": "en_GB", "lv": "lv_LV"}


def number(value: float, language: Language, decimals: int = 0) -> str:
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    locale = LOCALES[language]
    text = format_decimal(value, format=pattern, locale=locale)
    return text.replace(get_group_symbol(locale), THIN_SPACE)


def percent(value: float | None, language: Language) -> str:
    return "-" if value is None else f"{number(value, language, 2)} %"


def duration(seconds: float) -> str:
    """Whole minutes, as `H h MM min`."""
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"
