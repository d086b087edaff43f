"""A deterministic school-day traffic model, so tests can predict every counter exactly.

Rates are piecewise constant per minute and repeat every week: quiet nights and weekends,
peaks in lessons (45 minutes of lesson, 10 of break, from 08:00 to 15:30 local time, which
the model takes as UTC+2 without daylight saving so that a seed gives the same week forever).
Each port follows one of a few profile variants scaled by its own peak rate, and a counter is
the exact integral of its rate since boot: octets(t) = peak * (cum(t) - cum(boot)) / 8.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from functools import cache

WEEK_S = 7 * 24 * 3600
MINUTES_PER_WEEK = WEEK_S // 60
LOCAL_OFFSET_S = 2 * 3600
VARIANTS = 8


def school_day_factor(minute_of_week: int) -> float:
    """Share of the peak rate in one minute of the local week (Monday 00:00 is minute 0)."""
    day, minute = divmod(minute_of_week, 24 * 60)
    if day >= 5:  # Saturday, Sunday
        return 0.03
    if minute < 7 * 60 + 30 or minute >= 17 * 60:
        return 0.02
    if minute < 8 * 60:
        return 0.3
    if minute >= 15 * 60 + 30:
        return 0.25
    in_lesson = (minute - 8 * 60) % 55 < 45
    return 0.9 if in_lesson else 0.5


def _noise(seed: int, variant: int, minute: int) -> float:
    digest = hashlib.blake2b(f"{seed}:{variant}:{minute}".encode(), digest_size=2).digest()
    return 0.8 + 0.4 * int.from_bytes(digest, "big") / 65535


@cache
def _profile(seed: int, variant: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(factor per minute of the week, cumulative factor-seconds at each minute's start)."""
    factors = tuple(
        min(1.0, school_day_factor(m) * _noise(seed, variant, m)) for m in range(MINUTES_PER_WEEK)
    )
    cumulative = tuple(itertools.accumulate((f * 60 for f in factors), initial=0.0))
    return factors, cumulative


@dataclass(frozen=True)
class PortTraffic:
    """One direction of one port: `peak_bps` at a factor of 1.0, following `variant`."""

    seed: int
    variant: int
    peak_bps: float

    def _cum(self, t: float) -> float:
        """Factor-seconds from the epoch (in local model time) up to `t` (Unix seconds)."""
        factors, cumulative = _profile(self.seed, self.variant % VARIANTS)
        local = t + LOCAL_OFFSET_S - 3 * 24 * 3600  # 1970-01-01 was a Thursday
        weeks, into = divmod(local, WEEK_S)
        minute = int(into // 60)
        within = cumulative[minute] + factors[minute] * (into - minute * 60)
        return weeks * cumulative[-1] + within

    def rate_bps(self, t: float) -> float:
        factors, _ = _profile(self.seed, self.variant % VARIANTS)
        local = t + LOCAL_OFFSET_S - 3 * 24 * 3600
        return self.peak_bps * factors[int((local % WEEK_S) // 60)]

    def octets(self, boot: float, t: float) -> int:
        """Octets counted since the agent booted at `boot` (unwrapped)."""
        return int(self.peak_bps * (self._cum(t) - self._cum(boot)) / 8)

    def mean_bps(self, t1: float, t2: float) -> float:
        """The exact average rate between two instants (what a perfect poller reports)."""
        return self.peak_bps * (self._cum(t2) - self._cum(t1)) / (t2 - t1)
