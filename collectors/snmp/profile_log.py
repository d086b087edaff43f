"""The profiles the switches matched, said once: each device's choice at debug level, and one
INFO line for the first round ("42 switches: 40 generic, 2 cisco-ios"), logged when every
switch has matched or, with some still silent, when the first one is polled again. A device
that later matches another profile (new firmware) is news: one INFO line of its own.
"""

from __future__ import annotations

import logging
from collections import Counter

from collectors.snmp.profiles import Matched

log = logging.getLogger("collectors.snmp.poller")


class ProfileChoices:
    def __init__(self) -> None:
        self.expected = 0  # switches in the config; 0: unknown, summed up at the second poll
        self.chosen: dict[str, str] = {}  # device -> profile name
        self.summarised = False

    def matched(self, device: str, matched: Matched) -> None:
        """A device matched a profile (at its first poll, or its identity changed)."""
        name = matched.profile.name
        log.debug("%s: profile %s (%s)", device, name, matched.why)
        before = self.chosen.get(device)
        self.chosen[device] = name
        if self.summarised and before is not None and before != name:
            log.info("%s: profile now %s, was %s (%s)", device, name, before, matched.why)
        elif not self.summarised and self.expected and len(self.chosen) >= self.expected:
            self._summarise()

    def polled_again(self, device: str) -> None:
        """A device with a profile was polled again: the first round is over."""
        if not self.summarised and device in self.chosen:
            self._summarise()

    def _summarise(self) -> None:
        self.summarised = True
        counts = Counter(self.chosen.values()).most_common()
        each = ", ".join(f"{n} {name}" for name, n in counts)
        silent = self.expected - len(self.chosen)
        waiting = f" ({silent} not answering yet)" if silent > 0 else ""
        log.info("SNMP profiles: %d switches: %s%s", len(self.chosen), each, waiting)
