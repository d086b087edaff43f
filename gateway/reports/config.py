"""The `reports:` config section: what the KPI report counts, when, and how it is published.

reports:
  timezone: Europe/Riga          # periods, holidays and opening hours are local dates/times
  max_sample_gap_s: 900          # consecutive samples further apart: the time is unknown
  resolution_s: 60               # samples are read in buckets this long (kpi/sources.py)
  opening_hours:                 # science centre: exhibits count only while it is open
    mon: "10:00-18:00"           # days left out are closed days
  holidays:                      # schools only; inclusive local dates; sites omitted = all
    - {name: Autumn break, from: 2026-10-26, to: 2026-10-30}
    - {name: Local holiday, from: 2026-11-18, to: 2026-11-18, sites: [vsk-1]}
  healthy_wifi: {max_channel_util_pct: 70, max_retry_pct: 15, max_noise_dbm: -85,
                 min_healthy_share_pct: 95}
  sensor_interval_s: 600         # each classroom sensor should send one uplink this often
  open_data: {title: ..., publisher: ..., licence: CC-BY-4.0, licence_url: ...,
              base_url: https://..., contact_email: ..., spatial: <city URI>}
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, model_validator

from gateway.inventory import Interval, Section, Slug
from gateway.reports.language import Language

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name such as Europe/Riga)"
        ) from error
    return name


def _hours(text: str) -> str:
    match = re.fullmatch(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})", text)
    if not match:
        raise ValueError("expected opening hours like 10:00-18:00")
    opens, closes = _clock(*match.group(1, 2)), _clock(*match.group(3, 4))
    if closes <= opens:
        raise ValueError("closing time must be after opening time")
    return text


def _clock(hour: str, minute: str) -> time:
    try:
        return time(int(hour), int(minute))
    except ValueError as error:
        raise ValueError(f"{hour}:{minute} is not a time of day") from error


Hours = Annotated[str, AfterValidator(_hours)]


class Holiday(Section):
    name: str = Field(min_length=1)
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    sites: list[Slug] | None = None  # None: every school

    @model_validator(mode="after")
    def _ordered(self) -> Holiday:
        if self.end < self.start:
            raise ValueError("'to' must not be before 'from'")
        return self

    def applies_to(self, site: str) -> bool:
        return self.sites is None or site in self.sites


class HealthyWifi(Section):
    """The limits of healthy classroom Wi-Fi, applied to hourly averages (gateway.reports.wifi
    has the whole definition)."""

    max_channel_util_pct: float = Field(default=70.0, gt=0, le=100)
    max_retry_pct: float = Field(default=15.0, gt=0, le=100)
    max_noise_dbm: float = Field(default=-85.0, le=0)
    min_healthy_share_pct: float = Field(default=95.0, gt=0, le=100)


class OpenData(Section):
    """What the DCAT-AP catalog says of the publication. `edumon kpi` refuses to publish
    without an absolute `base_url` (where the files are served: harvesters need absolute
    download URLs and IRIs) and a `contact_email` (the catalog's dcat:contactPoint)."""

    title: str = "School network KPIs"
    title_lv: str = "Skolu tīkla rādītāji"  # the Latvian report's and catalog's title
    publisher: str = "City IT department"
    licence: str = "CC-BY-4.0"
    base_url: str = Field(default="", pattern=r"^(https?://\S+)?$")
    contact_email: str = Field(default="", pattern=r"^([^@\s]+@[^@\s]+)?$")
    # dct:spatial: the city's URI, e.g. a GeoNames feature https://sws.geonames.org/454310/
    spatial: str = Field(default="", pattern=r"^(https?://\S+)?$")
    homepage: str = Field(default="", pattern=r"^(https?://\S+)?$")  # default: base_url
    licence_url: str = Field(
        default="https://creativecommons.org/licenses/by/4.0/", pattern=r"^https?://"
    )

    def title_in(self, language: Language) -> str:
        return self.title_lv if language == "lv" else self.title

    def publication_problems(self) -> list[str]:
        """Why the open data cannot be published as it is configured (empty: it can)."""
        problems = []
        if not self.base_url:
            problems.append("reports.open_data.base_url is not set (an absolute https:// URL)")
        if not self.contact_email:
            problems.append("reports.open_data.contact_email is not set")
        return problems


class ReportsSection(Section):
    timezone: Annotated[str, AfterValidator(_zone)] = "UTC"
    language: Language = "en"  # of the HTML report: en or lv
    max_sample_gap_s: Interval = 900.0
    resolution_s: int = Field(default=60, ge=1, le=3600)
    opening_hours: dict[Weekday, Hours] = Field(
        default_factory=lambda: (
            dict.fromkeys(WEEKDAYS[1:6], "10:00-18:00")
            | {"sat": "10:00-17:00", "sun": "10:00-17:00"}
        )
    )
    holidays: list[Holiday] = Field(default_factory=list)
    healthy_wifi: HealthyWifi = HealthyWifi()
    sensor_interval_s: Interval = 600.0
    open_data: OpenData = OpenData()

    @model_validator(mode="after")
    def _gap_spans_buckets(self) -> ReportsSection:
        if self.max_sample_gap_s < self.resolution_s:
            raise ValueError("max_sample_gap_s must be at least resolution_s")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def opening_window(self, day: date) -> tuple[datetime, datetime] | None:
        """The science centre's local opening hours on `day`, or None when it is closed."""
        text = self.opening_hours.get(WEEKDAYS[day.weekday()])
        if text is None:
            return None
        opens, closes = (_clock(*part.split(":")) for part in text.split("-"))
        zone = self.zone
        return datetime.combine(day, opens, zone), datetime.combine(day, closes, zone)
