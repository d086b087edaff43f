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
an engine edumon has never heard from has nothing to compare with and is taken (RFC 3414
learns the same way). The engines' clocks survive a restart (collectors.snmp.trap_engines
keeps them in the state directory): an engine restored from there refuses, as a replay, any
trap of its boots whose time is not later than the latest taken before the restart, since
the message ids seen before it are not kept. Memory is bounded: at most `max_engines`
engines (least recently heard forgotten first) and the message ids of the last window.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from collectors.snmp.v3 import TIME_WINDOW_S
from gateway.limits import LIMITS

MAX_BOOTS = 2**31 - 1
MAX_REMEMBERED = LIMITS["snmp_trap_messages"]  # message ids of the window (need valid digests)


class NotInTimeWindow(ValueError):
    """The trap's engine boots/time are outside the window; the text says how."""

    def __init__(self, message: str, reason: str = "not_in_time_window") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class EngineClock:
    boots: int
    time: int
    heard_at: float  # local monotonic seconds when `time` was received
    latest: int = -1  # the latest time taken with these boots
    floor: int = -1  # `latest` before a restart: a trap not later than it is a replay

    def now(self, local: float) -> float:
        return self.time + (local - self.heard_at)


class TrapTimeliness:
    def __init__(
        self,
        *,
        window_s: float = TIME_WINDOW_S,
        max_engines: int = LIMITS["snmp_trap_engines"],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self.max_engines = max_engines
        self.clock = clock
        self._engines: OrderedDict[bytes, EngineClock] = OrderedDict()
        self._seen: OrderedDict[tuple[bytes, int, int, int], float] = OrderedDict()
        self.changed = False  # an engine's clock moved since `engines()` was last read

    def __len__(self) -> int:
        return len(self._engines)

    def engines(self) -> dict[bytes, EngineClock]:
        """The engines' clocks (to keep them across a restart)."""
        self.changed = False
        return dict(self._engines)

    def restore(
        self, engine_id: bytes, boots: int, engine_time: int, latest: int, age_s: float
    ) -> None:
        """An engine's clock as it was `age_s` seconds ago, before a restart."""
        heard_at = self.clock() - max(0.0, age_s)
        self._engines[engine_id] = EngineClock(boots, engine_time, heard_at, latest, latest)
        while len(self._engines) > self.max_engines:
            self._engines.popitem(last=False)

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
            if engine_time <= known.floor:
                raise NotInTimeWindow("not later than the last trap before a restart", "replayed")
        self._forget_old(local)
        message = (engine_id, boots, engine_time, msg_id)
        if message in self._seen:
            raise NotInTimeWindow("this exact message was already received", "replayed")
        self._seen[message] = local
        while len(self._seen) > MAX_REMEMBERED:
            self._seen.popitem(last=False)
        if known is None or boots > known.boots:
            known = self._engines[engine_id] = EngineClock(boots, engine_time, local)
        elif engine_time > known.now(local):  # the engine's clock ran fast: follow it
            known.time, known.heard_at = engine_time, local
        if engine_time > known.latest:
            known.latest = engine_time
            self.changed = True
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
