"""A bound on the interface series one switch can create: at most `max_per_device` interface
names per device (`snmp.max_interfaces_per_device`). A kept port whose name is new once its
device has that many is refused: not written, counted per device (the device sample's
`interfaces_refused`, which the InterfaceLimitReached rule watches), and the SNMP poller's
health is `degraded` while any device refused one within RECENT_S. Names stay admitted for
the life of the process, as their series stay in the database.

A switch that renames its ports every poll (a firmware bug, or an attacker) so costs at most
`max_per_device` series, and the database's per-tag limit stays far away for everyone else.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from gateway.limits import LIMITS

RECENT_S = 600.0


class InterfaceCap:
    def __init__(
        self,
        max_per_device: int = LIMITS["snmp_interfaces_per_device"],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_per_device = max_per_device
        self.clock = clock
        self.refused: Counter[str] = Counter()  # device -> names refused since start
        self._names: dict[str, set[str]] = {}
        self._last_refused: dict[str, float] = {}

    def largest(self) -> int:
        """Names of the device with the most (what the bound is compared with)."""
        return max(map(len, self._names.values()), default=0)

    def admit(self, device: str, ifname: str) -> bool:
        names = self._names.setdefault(device, set())
        if ifname in names:
            return True
        if len(names) < self.max_per_device:
            names.add(ifname)
            return True
        self.refused[device] += 1
        self._last_refused[device] = self.clock()
        return False

    def admitted(self, device: str, ifname: str) -> bool:
        return ifname in self._names.get(device, ())

    def problem(self) -> str | None:
        now = self.clock()
        devices = sorted(d for d, at in self._last_refused.items() if now - at <= RECENT_S)
        if not devices:
            return None
        shown = ", ".join(devices[:5]) + (
            f" and {len(devices) - 5} more" if len(devices) > 5 else ""
        )
        return (
            f"interface names refused past {self.max_per_device} per device: {shown} "
            f"({sum(self.refused[d] for d in devices)} refused)"
        )
