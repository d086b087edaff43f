"""The simulated city's physical network, derived from the config, for the fleet's LLDP,
forwarding and PoE tables:

- the city cores are `topology.roots`, ringed together; the other switches of the roots'
  sites are aggregation switches, each linked to every root;
- every other site hangs off its core switch (role core, else its first switch), linked to
  an aggregation switch (sites spread over them in order), or to a root when there is none;
  a site core with two or more `uplinks` in the config is dual-homed: one link to each of
  that many aggregation switches;
- a site's other switches link to its core; its devices with a `mac:` are plugged into its
  access switches' ports 1, 2, ... (PoE-powered), and their MACs are learned on the way up.

Ports: 1-48 are access ports (Gi1/0/n), 49+ the 10G ports (Te1/0/n, n = ifIndex - 48),
taken in order; a switch has as many 10G ports as its links need (at least its default).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TypeGuard

from collectors.snmp.config import Switch
from gateway.config import EdumonConfig
from simulators.snmp.switch import ACCESS_PORTS

VLAN = 10
# what a powered device draws (W) and its class (pethPsePortPowerClassifications - 1)
POWERED = {"access_point": (10.5, 4), "exhibit": (6.0, 2)}
OTHER_POWERED = (4.0, 1)


def chassis_mac(switch: str) -> str:
    """A switch's LLDP chassis ID (locally administered, stable per name)."""
    digest = hashlib.blake2b(switch.encode(), digest_size=4).hexdigest()
    return "02:ed:" + ":".join(digest[i : i + 2] for i in range(0, 8, 2))


def port_name(if_index: int) -> str:
    return f"Gi1/0/{if_index}" if if_index <= ACCESS_PORTS else f"Te1/0/{if_index - ACCESS_PORTS}"


@dataclass(frozen=True)
class End:
    switch: str
    if_index: int


@dataclass(frozen=True)
class Powered:
    device: str
    mac: str
    watts: float
    class_: int


@dataclass
class Wiring:
    roots: list[str] = field(default_factory=list)  # the city cores (`topology.roots`)
    links: list[tuple[End, End]] = field(default_factory=list)
    # switch -> (MAC, ifIndex, vlan) its forwarding table holds
    fdb: dict[str, list[tuple[str, int, int]]] = field(default_factory=lambda: defaultdict(list))
    # switch -> access port -> the device it powers
    powered: dict[str, dict[int, Powered]] = field(default_factory=lambda: defaultdict(dict))
    tengig: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # 10G ports used

    def link(self, a: str, b: str, a_port: int | None = None) -> tuple[End, End]:
        ends = End(a, a_port or self._next_tengig(a)), End(b, self._next_tengig(b))
        self.links.append(ends)
        for here, there in (ends, ends[::-1]):
            self.fdb[here.switch].append((chassis_mac(there.switch), here.if_index, VLAN))
        return ends

    def _next_tengig(self, switch: str) -> int:
        self.tengig[switch] += 1
        return ACCESS_PORTS + self.tengig[switch]

    def neighbours(self, switch: str) -> list[tuple[int, End]]:
        """(local ifIndex, the far end) of every link of a switch."""
        return [
            (here.if_index, there)
            for a, b in self.links
            for here, there in ((a, b), (b, a))
            if here.switch == switch
        ]


def _wired(device: object) -> TypeGuard[Switch]:
    """A switch (not a Wi-Fi controller, which the fleet simulates without tables)."""
    return isinstance(device, Switch) and device.wifi is None


def city_wiring(config: EdumonConfig) -> Wiring:
    roots = list(config.topology.roots)
    wiring = Wiring(roots)
    sites = list(config.sites)
    root_sites = {site.id for site in sites for d in site.devices if d.id in roots}
    aggregation = [
        d.id
        for site in sites
        if site.id in root_sites
        for d in site.devices
        if _wired(d) and d.id not in roots
    ]
    for a, b in [*pairwise(roots), *([(roots[-1], roots[0])] if len(roots) > 2 else [])]:
        wiring.link(a, b)
    for agg in aggregation:
        for root in roots:
            wiring.link(agg, root)
    upstream = aggregation or roots
    school_sites = [site for site in sites if site.id not in root_sites]
    for n, site in enumerate(school_sites):
        switches = [d for d in site.devices if _wired(d)]
        if not switches:
            continue
        core = next((d for d in switches if d.role == "core"), switches[0])
        for k in range(min(max(1, len(core.uplinks)), len(upstream))):
            wiring.link(core.id, upstream[(n + k) % len(upstream)])
        access = [d for d in switches if d is not core] or [core]
        trunks = {d.id: wiring.link(d.id, core.id)[1].if_index for d in access if d is not core}
        devices = [d for d in site.devices if d.mac and not isinstance(d, Switch)]
        for i, device in enumerate(devices):
            switch = access[i % len(access)]
            port = 1 + i // len(access)
            if port > ACCESS_PORTS or device.mac is None:
                continue
            watts, class_ = POWERED.get(device.kind, OTHER_POWERED)
            wiring.powered[switch.id][port] = Powered(device.id, device.mac, watts, class_)
            wiring.fdb[switch.id].append((device.mac, port, VLAN))
            if switch is not core:  # the core learns it on its trunk to the access switch
                wiring.fdb[core.id].append((device.mac, trunks[switch.id], VLAN))
    return wiring
