"""The profiles the switches matched, said once: each device's choice at debug level, and one
INFO line for the first round ("42 switches: 40 generic, 2 cisco-ios"), logged when every
switch has matched or, with some still silent, when one is polled again a round after the first
answer (a poll out of schedule, gateway/poll_now.py, does not end the round). A device that
later matches another profile (new firmware) is news: one INFO line of its own.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

from collectors.snmp.profiles import Matched

log = logging.getLogger("collectors.snmp.poller")


class ProfileChoices:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.expected = 0  # switches in the config; 0: unknown, summed up at the second poll
        self.round_s = 0.0  # the longest poll interval: a round after the first answer
        self.chosen: dict[str, str] = {}  # device -> profile name
        self.summarised = False
        self._clock = clock
        self._first: float | None = None  # when the first device matched

    def matched(self, device: str, matched: Matched) -> None:
        """A device matched a profile (at its first poll, or its identity changed)."""
        name = matched.profile.name
        if self._first is None:
            self._first = self._clock()
        log.debug("%s: profile %s (%s)", device, name, matched.why)
        before = self.chosen.get(device)
        self.chosen[device] = name
        if self.summarised and before is not None and before != name:
            log.info("%s: profile now %s, was %s (%s)", device, name, before, matched.why)
        elif not self.summarised and self.expected and len(self.chosen) >= self.expected:
            self._summarise()

    def polled_again(self, device: str) -> None:
        """A device with a profile was polled again: a round after the first answer, the first
        round is over."""
        if self.summarised or device not in self.chosen or self._first is None:
            return
        if self._clock() - self._first >= self.round_s:
            self._summarise()

    def _summarise(self) -> None:
        self.summarised = True
        counts = Counter(self.chosen.values()).most_common()
        each = ", ".join(f"{n} {name}" for name, n in counts)
        silent = self.expected - len(self.chosen)
        waiting = f" ({silent} not answering yet)" if silent > 0 else ""
        log.info("SNMP profiles: %d switches: %s%s", len(self.chosen), each, waiting)
