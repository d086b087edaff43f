"""Rate limits for log lines: a failure that repeats (a full disk, a sender of bad datagrams)
is logged once per interval and key, never once per occurrence, and never silenced."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class LogLimit:
    """`take(key)` is how many occurrences of `key` went unlogged before this one when this
    one is to be logged (the first, then at most one per `interval_s`), else None.

    At most `max_keys` keys are remembered (the least recently logged are forgotten first),
    so a flood of distinct keys (spoofed senders) costs bounded memory and at worst logs a
    forgotten key again."""

    def __init__(
        self,
        interval_s: float = 60.0,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self.max_keys = max_keys
        self.clock = clock
        self._last: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()  # at, skipped

    def take(self, key: Hashable = None) -> int | None:
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last[0] < self.interval_s:
            self._last[key] = (last[0], last[1] + 1)
            return None
        self._last[key] = (now, 0)
        self._last.move_to_end(key)
        while len(self._last) > self.max_keys:
            self._last.popitem(last=False)
        return last[1] if last is not None else 0
