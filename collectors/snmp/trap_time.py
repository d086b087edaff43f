"""Timeliness of authenticated SNMPv3 traps (RFC 3414 3.2.7 b, the non-authoritative side).

The sending switch is authoritative: its engine boots and engine time travel in every trap,
covered by the digest. Per engine id we keep the latest boots and time seen and when (local
monotonic clock), so we can tell what its clock should say now. A trap is refused when

- boots is 0 (a running engine has booted at least once: 0/0 is an engine that never
  synchronised, or a forgery) or 2**31-1 (RFC 3414: the engine must be reconfigured);
- boots is lower than the latest seen (a trap from before the switch's last reboot);
- boots is the same and its time is more than 150 s away from what the engine's clock
  should say now (late, early or replayed long after);
- exactly this message (engine, boots, time, msgID) was already taken (a replay within the
  window).

A higher boots is a reboot: taken, and the engine's clock restarts from it. The first trap of
an engine edumon has not heard from since it started has nothing to compare with and is
taken (RFC 3414 learns the same way). Memory is bounded: at most `max_engines` engines
(least recently heard forgotten first) and the message ids of the last window.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from collectors.snmp.v3 import TIME_WINDOW_S

MAX_BOOTS = 2**31 - 1
MAX_REMEMBERED = 100_000  # message ids of the window (a flood needs valid digests)


class NotInTimeWindow(ValueError):
    """The trap's engine boots/time are outside the window; the text says how."""

    def __init__(self, message: str, reason: str = "not_in_time_window") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class _EngineClock:
    boots: int
    time: int
    heard_at: float  # local monotonic seconds when `time` was received

    def now(self, local: float) -> float:
        return self.time + (local - self.heard_at)


class TrapTimeliness:
    def __init__(
        self,
        *,
        window_s: float = TIME_WINDOW_S,
        max_engines: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self.max_engines = max_engines
        self.clock = clock
        self._engines: OrderedDict[bytes, _EngineClock] = OrderedDict()
        self._seen: OrderedDict[tuple[bytes, int, int, int], float] = OrderedDict()

    def check(self, engine_id: bytes, boots: int, engine_time: int, msg_id: int) -> None:
        """Raise NotInTimeWindow, or take the trap (and learn the engine's clock from it)."""
        local = self.clock()
        if boots <= 0 or boots >= MAX_BOOTS:
            raise NotInTimeWindow(f"engine boots {boots} is not a running engine's")
        known = self._engines.get(engine_id)
        if known is not None and boots < known.boots:
            raise NotInTimeWindow(f"engine boots {boots} is older than {known.boots}")
        if known is not None and boots == known.boots:
            expected = known.now(local)
            if abs(engine_time - expected) > self.window_s:
                raise NotInTimeWindow(
                    f"engine time {engine_time} s is {engine_time - expected:+.0f} s from the "
                    f"engine's clock (window {self.window_s:g} s)"
                )
        self._forget_old(local)
        message = (engine_id, boots, engine_time, msg_id)
        if message in self._seen:
            raise NotInTimeWindow("this exact message was already received", "replayed")
        self._seen[message] = local
        while len(self._seen) > MAX_REMEMBERED:
            self._seen.popitem(last=False)
        if known is None or boots > known.boots or engine_time > known.now(local):
            self._engines[engine_id] = _EngineClock(boots, engine_time, local)
        self._engines.move_to_end(engine_id)
        while len(self._engines) > self.max_engines:
            self._engines.popitem(last=False)

    def _forget_old(self, local: float) -> None:
        """Messages older than twice the window would fail the time check anyway."""
        while self._seen:
            first, at = next(iter(self._seen.items()))
            if local - at <= 2 * self.window_s:
                break
            del self._seen[first]
