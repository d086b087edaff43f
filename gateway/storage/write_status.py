"""What to do with a database's answer to a write: one pure function, table-tested.

Modelled on Telegraf's influxdb_v2 `writeBatch` status switch, except that nothing an operator
can fix (wrong credentials, missing database, wrong URL) is ever dropped: it stays spooled.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime


class Outcome(enum.Enum):
    STORED = "stored"  # 2xx: done
    REJECTED = "rejected"  # 400/422: some lines are bad; find them, dead-letter them, keep the rest
    TOO_LARGE = "too_large"  # 413: split the batch
    AUTH = "auth"  # 401/403: credentials are wrong; keep everything, alert, retry slowly
    NOT_FOUND = "not_found"  # 404: database/bucket missing; keep everything, retry slowly
    RETRY = "retry"  # 429, 5xx, timeouts, refused connections: back off and retry


_STATUS_OUTCOMES = {
    400: Outcome.REJECTED,
    401: Outcome.AUTH,
    403: Outcome.AUTH,
    404: Outcome.NOT_FOUND,
    413: Outcome.TOO_LARGE,
    422: Outcome.REJECTED,
    429: Outcome.RETRY,
}


def classify(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.STORED
    if status in _STATUS_OUTCOMES:
        return _STATUS_OUTCOMES[status]
    # Every other status (5xx, and 4xx we do not know, e.g. a proxy's 405 on a wrong URL) is
    # retried: dropping data the operator could fix is worse than holding it in the spool.
    return Outcome.RETRY


def retry_after_seconds(header: str | None, *, now: float) -> float | None:
    """Parse Retry-After (delta-seconds or HTTP date) into seconds from `now`; None if absent."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


_UNPARSABLE = re.compile(r"unable to parse '")


def lines_named_in_error(body: str, lines: list[bytes]) -> list[bytes]:
    """Lines that an InfluxDB 1.x/2.x "unable to parse '<line>'" message quotes verbatim."""
    if not _UNPARSABLE.search(body):
        return []
    return [line for line in lines if f"unable to parse '{line.decode(errors='replace')}'" in body]


# InfluxDB 1.x (Go %q quoting): partial write: max-values-per-tag limit exceeded (100000/100000):
# measurement="wifi_ap" tag="band" value="x" dropped=3
_GO_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_TAG_LIMIT = re.compile(
    rf"max-values-per-tag limit exceeded \(\d+/\d+\): measurement={_GO_QUOTED} "
    rf"tag={_GO_QUOTED} value={_GO_QUOTED}(?: dropped=(\d+))?"
)
_SERIES_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})


@dataclass(frozen=True)
class TagLimit:
    """A partial write refused for max-values-per-tag: the first new value the database refused
    (it names only that one) and how many points it dropped in all."""

    measurement: str  # escaped as in line protocol, like `tag` and `value`
    tag: str
    value: str
    dropped: int | None

    @classmethod
    def of(cls, body: str) -> TagLimit | None:
        try:
            message = str(json.loads(body).get("error", body))
        except (ValueError, AttributeError):
            message = body
        found = _TAG_LIMIT.search(message)
        if found is None:
            return None
        measurement, tag, value = (_unquote(found.group(n)) for n in (1, 2, 3))
        dropped = found.group(4)
        return cls(
            measurement.translate(_MEASUREMENT_ESCAPES),
            tag.translate(_SERIES_ESCAPES),
            value.translate(_SERIES_ESCAPES),
            None if dropped is None else int(dropped),
        )

    def named(self, lines: list[bytes]) -> list[bytes]:
        """The lines carrying the refused value."""
        return [line for line in lines if self._tags(line).get(self.tag) == self.value]

    def same_senders(self, lines: list[bytes], named: list[bytes]) -> list[bytes]:
        """The lines of the measurement carrying the tag whose other tags are those of a named
        line: the sender that invented the value (e.g. one switch renaming its interfaces),
        whose other new values the database dropped without naming them."""
        senders = {self._sender(line) for line in named}
        return [
            line for line in lines if self.tag in self._tags(line) and self._sender(line) in senders
        ]

    def _tags(self, line: bytes) -> dict[str, str]:
        measurement, tags = series_key(line)
        return tags if measurement == self.measurement else {}

    def _sender(self, line: bytes) -> frozenset[tuple[str, str]]:
        return frozenset((k, v) for k, v in self._tags(line).items() if k != self.tag)


SeriesKey = tuple[str, dict[str, str]]  # measurement and tags, escaped as in line protocol


def series_key(line: bytes) -> SeriesKey:
    """A line's measurement and tags (up to its first unescaped space)."""
    text = line.decode(errors="replace")
    measurement, *pairs = _split_unescaped(_split_unescaped(text, " ", 1)[0], ",")
    tags = (_split_unescaped(pair, "=", 1) for pair in pairs)
    return measurement, {tag[0]: tag[-1] for tag in tags}


def series_of(line: bytes) -> str:
    """The series a line belongs to, as line protocol writes it (measurement,tag=value,...)."""
    return _split_unescaped(line.decode(errors="replace"), " ", 1)[0]


def _split_unescaped(text: str, separator: str, limit: int = -1) -> list[str]:
    """Split at `separator` where it is not escaped with a backslash."""
    parts: list[str] = []
    start, escaped = 0, False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator and len(parts) != limit:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def split_lines(payload: bytes) -> list[bytes]:
    """Split line protocol into lines; a newline inside a quoted string field does not split.

    Only the field set can hold quoted strings (a quote in a measurement or tag is literal),
    so the scanner tracks the section: series key, then fields, then the timestamp.
    """
    lines: list[bytes] = []
    start = 0
    section = 0  # 0 series key, 1 field set, 2 timestamp
    in_string = False
    escaped = False
    for i, byte in enumerate(payload):
        if escaped:
            escaped = False
        elif byte == 0x5C:  # backslash
            escaped = True
        elif in_string:
            in_string = byte != 0x22
        elif byte == 0x22 and section == 1:
            in_string = True
        elif byte == 0x20:
            section = min(section + 1, 2)
        elif byte == 0x0A:
            if i > start:
                lines.append(payload[start:i])
            start, section = i + 1, 0
    if start < len(payload):
        lines.append(payload[start:])
    return lines
