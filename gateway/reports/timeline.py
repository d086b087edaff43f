"""Time-weighted states from samples: what was true, for how long, and what is unknown.

A `Timeline` is a sorted list of non-overlapping segments `(start_ns, end_ns, state)` with
state True or False; time in no segment is unknown. Built from the samples of one series
(`from_samples`):

- a sample's value holds from its time until the next sample of the series, if that comes at
  most `max_gap_ns` later; a longer silence is unknown time (edumon, the collector or the
  device was not reporting), never up and never down;
- with `down_holds=True` a False value holds until the next sample however late (a device's
  MQTT Last Will "offline" is said once and stays true until the device speaks again); the
  caller bounds it with edumon's own coverage;
- the last sample holds nothing (there is no next sample to bound it), so the history must
  extend past the period end, which the queries ask for.

`combine` merges several timelines with a rule evaluated on every elementary interval, which
is how uplink = link AND probe, masks (coverage, opening hours, holidays) and "any of the
uplinks is up" are all expressed.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

State = bool | None
Segment = tuple[int, int, bool]


@dataclass(frozen=True)
class Totals:
    """Nanoseconds up, down and unknown within the counted window, and excluded from it."""

    up_ns: int
    down_ns: int
    unknown_ns: int
    excluded_ns: int

    @property
    def known_ns(self) -> int:
        return self.up_ns + self.down_ns

    def up_pct(self, decimals: int = 4) -> float | None:
        """up / (up + down) in percent, None when nothing at all is known."""
        return round(100 * self.up_ns / self.known_ns, decimals) if self.known_ns else None

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.up_ns + other.up_ns,
            self.down_ns + other.down_ns,
            self.unknown_ns + other.unknown_ns,
            self.excluded_ns + other.excluded_ns,
        )


NO_TIME = Totals(0, 0, 0, 0)


class Timeline:
    def __init__(self, segments: Iterable[Segment] = ()) -> None:
        merged: list[Segment] = []
        for start, end, state in segments:
            if end <= start:
                continue
            if merged and merged[-1][1] == start and merged[-1][2] == state:
                merged[-1] = (merged[-1][0], end, state)
            else:
                merged.append((start, end, state))
        self.segments = merged

    @classmethod
    def from_samples(
        cls,
        points: Sequence[tuple[int, bool]],
        max_gap_ns: int,
        *,
        down_holds: bool = False,
    ) -> Timeline:
        """`points` are (time_ns, state) sorted by time; see the module docstring."""
        segments = []
        for (t, state), (t_next, _) in itertools.pairwise(points):
            if t_next - t <= max_gap_ns or (down_holds and not state):
                segments.append((t, t_next, state))
        return cls(segments)

    @classmethod
    def constant(cls, windows: Iterable[tuple[int, int]], state: bool = True) -> Timeline:
        """A mask: `state` inside the windows (sorted, non-overlapping), unknown elsewhere."""
        return cls((start, end, state) for start, end in windows)

    def state_at(self, t: int) -> State:
        index = bisect.bisect_right(self.segments, t, key=lambda segment: segment[0]) - 1
        if index >= 0 and self.segments[index][0] <= t < self.segments[index][1]:
            return self.segments[index][2]
        return None

    def duration(self, state: bool, start: int, end: int) -> int:
        return sum(
            max(0, min(e, end) - max(s, start)) for s, e, value in self.segments if value is state
        )

    def totals(self, start: int, end: int, counted: Timeline | None = None) -> Totals:
        """Up/down/unknown time in [start, end), counting only where `counted` is True
        (e.g. opening hours, school days); the rest of [start, end) is excluded."""
        window = counted if counted is not None else Timeline([(start, end, True)])
        counted_ns = window.duration(True, start, end)
        inside = combine([self, window], first_where_second)
        up, down = inside.duration(True, start, end), inside.duration(False, start, end)
        return Totals(up, down, counted_ns - up - down, (end - start) - counted_ns)


def combine(timelines: Sequence[Timeline], rule: Callable[[list[State]], State]) -> Timeline:
    """The timeline of `rule(states)` where states are the inputs' states (None = unknown)."""
    edges = sorted({edge for tl in timelines for s, e, _ in tl.segments for edge in (s, e)})
    cursors = [0] * len(timelines)
    out: list[Segment] = []
    for start, end in itertools.pairwise(edges):
        states: list[State] = []
        for i, timeline in enumerate(timelines):
            segments = timeline.segments
            while cursors[i] < len(segments) and segments[cursors[i]][1] <= start:
                cursors[i] += 1
            inside = cursors[i] < len(segments) and segments[cursors[i]][0] <= start
            states.append(segments[cursors[i]][2] if inside else None)
        state = rule(states)
        if state is not None:
            out.append((start, end, state))
    return Timeline(out)


def any_up(states: list[State]) -> State:
    """Up if any input is up, down if every known input is down, unknown if none is known."""
    known = [s for s in states if s is not None]
    return any(known) if known else None


def all_up(states: list[State]) -> State:
    """Down if any input is down, up if every known input is up, unknown if none is known."""
    known = [s for s in states if s is not None]
    return all(known) if known else None


def first_where_second(states: list[State]) -> State:
    """The first input, where the second (a mask) is True: unknown elsewhere."""
    return states[0] if states[1] else None
