"""What to do with a database's answer to a write: one pure function, table-tested.

Modelled on Telegraf's influxdb_v2 `writeBatch` status switch, except that nothing an operator
can fix (wrong credentials, missing database, wrong URL) is ever dropped: it stays spooled.
"""

from __future__ import annotations

import enum
import json
import re
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
    rf"tag={_GO_QUOTED} value={_GO_QUOTED}"
)
_SERIES_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})


def over_tag_limit(body: str, lines: list[bytes]) -> list[bytes]:
    """The lines carrying the tag value that a partial write refused for max-values-per-tag
    names; [] for any other answer."""
    try:
        message = str(json.loads(body).get("error", body))
    except (ValueError, AttributeError):
        message = body
    found = _TAG_LIMIT.search(message)
    if found is None:
        return []
    measurement, tag, value = (_unquote(found.group(n)) for n in (1, 2, 3))
    prefix = measurement.translate(_MEASUREMENT_ESCAPES) + ","
    needle = f",{tag.translate(_SERIES_ESCAPES)}={value.translate(_SERIES_ESCAPES)},"
    return [
        line
        for line in lines
        if (key := _series_key(line.decode(errors="replace"))).startswith(prefix)
        and needle in key + ","
    ]


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _series_key(line: str) -> str:
    """The line up to its first unescaped space: measurement and tags."""
    escaped = False
    for i, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == " ":
            return line[:i]
    return line


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
