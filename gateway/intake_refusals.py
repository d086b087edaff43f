"""What every intake does with a message it refuses, and the time window it holds times to.

An intake (MQTT telemetry, MQTT JSON, LoRaWAN) names its own reason and kind; `Refusals`
counts the kind and dead-letters the raw message (its topic, a newline, its payload) under the
intake's source name. The dead-letter record is durable before the message is acknowledged
(the consumer waits for `DeadLetterFile.durable()`), like the samples of a good message.

A time a device sends is refused (`implausible_time`) outside `service.timestamps`: more than
`past_s` (default 5 years: a device replaying old readings; the database's retention decides
what it keeps) before or `future_s` (default 10 minutes) after edumon's clock. A point far
ahead would otherwise be stored and shown as the latest reading for years.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import Field

from gateway.collector import BadInput
from gateway.deadletter import DeadLetterFile
from gateway.inventory import Section
from gateway.sample import Sample

IMPLAUSIBLE_TIME = "implausible_time"


class TimestampWindow(Section):
    """How far from edumon's clock a time that a device sends may be, in seconds."""

    past_s: float = Field(default=5 * 365 * 86400, gt=0)
    future_s: float = Field(default=600, gt=0)

    def seconds_ns(self, seconds: float, *, now: Callable[[], float] = time.time) -> int:
        """Unix seconds from a message as nanoseconds, or BadInput when out of the window."""
        self._check(seconds, now())
        return int(seconds * 1e9)

    def check_ns(self, at_ns: int, *, now: Callable[[], float] = time.time) -> int:
        self._check(at_ns / 1e9, now())
        return at_ns

    def _check(self, seconds: float, now: float) -> None:
        if now - self.past_s <= seconds <= now + self.future_s:
            return
        ahead = seconds > now
        limit = self.future_s if ahead else self.past_s
        raise BadInput(
            f"{IMPLAUSIBLE_TIME}: {seconds!r:.40} ({_utc(seconds)}) is more than {limit:g} s "
            f"{'ahead of' if ahead else 'behind'} edumon's clock ({_utc(now)}); see "
            "service.timestamps",
            IMPLAUSIBLE_TIME,
        )


def _utc(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return "beyond any calendar"


class Refusals:
    """An intake's refused messages: counted per kind, dead-lettered with the raw message."""

    def __init__(
        self,
        source: str,
        dead_letters: DeadLetterFile,
        window: TimestampWindow | None = None,
    ) -> None:
        self.source = source
        self.dead_letters = dead_letters
        self.window = window or TimestampWindow()
        self.counts: dict[str, int] = {}  # kind -> refused messages (intakes add their own)

    @classmethod
    def in_state_dir(
        cls, state_dir: Path, source: str, window: TimestampWindow | None = None
    ) -> Refusals:
        return cls(source, DeadLetterFile.in_state_dir(state_dir, source), window)

    def count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def refuse(self, topic: str, payload: bytes, reason: str, kind: str) -> list[Sample]:
        """Count `kind`, dead-letter the message with `reason`; no samples."""
        self.count(kind)
        raw = topic.encode("utf-8", "backslashreplace") + b"\n" + payload
        self.dead_letters.add(source=self.source, reason=reason, raw=raw)
        return []
