"""The one type that crosses every boundary: a timestamped point of one measurement."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

FieldValue = float | int | bool | str


@dataclass(frozen=True, slots=True)
class Sample:
    """One point: `measurement` with identity `tags`, measured `fields`, at `time_ns` (UTC)."""

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ns: int


def now_ns() -> int:
    return time.time_ns()


def utf8_encodable(text: str) -> bool:
    """False for text with a lone surrogate (JSON "\\ud800"): no line protocol can carry it."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
