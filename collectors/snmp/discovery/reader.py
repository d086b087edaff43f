"""One switch's discovery round: its ports, LLDP and CDP neighbours, where the wanted MACs
are, and PoE; handed to the gateway as a `Discovery` (through `observe`) and returned as
`poe` samples. Scheduled as its own polled job per switch, on a slower cadence than the
counters (`snmp.discovery_interval_s`), every table bounded together by
`snmp.discovery_max_rows` rows per switch and round."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from collectors.snmp.client import SnmpTransport
from collectors.snmp.discovery.macs import read_macs
from collectors.snmp.discovery.neighbours import read_cdp, read_lldp, read_self
from collectors.snmp.discovery.poe import poe_samples, read_poe
from collectors.snmp.discovery.poe_profile import PoeProfile
from collectors.snmp.discovery.ports import read_ports
from collectors.snmp.discovery.walk import RowBudget
from gateway.plausible import Refused
from gateway.sample import Sample
from gateway.topology.observations import Discovery, DiscoveryCounts

Observe = Callable[[Discovery], None]


def discovery_job(device: str) -> str:
    """The name of a switch's discovery job, beside its counter poll (named as the device)."""
    return f"{device}/discovery"


@dataclass(frozen=True)
class DiscoveryTarget:
    site: str
    device: str
    transport: SnmpTransport
    max_repetitions: int = 25
    max_rows: int = 5000  # rows read per round, over every table
    macs: frozenset[str] = frozenset()  # the MACs of its site's inventory devices


@dataclass
class DiscoveryTotals:
    """Since start, over every switch: what /metrics shows of discovery."""

    rounds: int = 0
    rows_read: int = 0
    rows_evicted: int = 0  # walks cut at a switch's row bound (their further rows not read)
    rows_refused: int = 0

    def add(self, counts: DiscoveryCounts) -> None:
        self.rounds += 1
        self.rows_read += counts.read
        self.rows_evicted += counts.evicted
        self.rows_refused += counts.refused

    def as_totals(self) -> dict[tuple[str, str], int]:
        return {
            ("discovery", "rounds"): self.rounds,
            ("discovery", "rows_read"): self.rows_read,
            ("discovery", "rows_evicted"): self.rows_evicted,
            ("discovery", "rows_refused"): self.rows_refused,
        }


def _ignore(_discovery: Discovery) -> None:
    return None


@dataclass
class DiscoveryPoller:
    """`poe_profile_of`: the PoE section of the profile a switch matched at its last counter
    poll. The MACs looked for are the target's (its site's devices) and its neighbours'."""

    observe: Observe = _ignore
    poe_profile_of: Callable[[str], PoeProfile | None] = lambda device: None
    on_refused: Callable[[str, str, str], None] = lambda device, field, reason: None
    clock: Callable[[], float] = time.time
    name: str = "snmp"
    totals: DiscoveryTotals = field(default_factory=DiscoveryTotals)

    async def discover(self, target: DiscoveryTarget) -> Discovery:
        transport, repetitions = target.transport, target.max_repetitions
        budget = RowBudget(target.max_rows)
        now_ns = int(self.clock() * 1e9)
        ports = await read_ports(transport, budget, repetitions)
        me = await read_self(transport)
        lldp, refused_lldp = await read_lldp(transport, ports, me, budget, repetitions)
        cdp, refused_cdp = await read_cdp(transport, ports, me, budget, repetitions)
        neighbours = [*lldp, *cdp]
        trunks = {n.local_ifindex for n in neighbours if n.local_ifindex is not None}
        neighbour_macs = {
            n.chassis_id for n in neighbours if n.chassis_id_subtype == "macAddress"
        } | {n.port_id for n in neighbours if n.port_id_subtype == "macAddress"}
        wanted = target.macs | neighbour_macs
        macs, refused_macs = await read_macs(transport, ports, wanted, trunks, budget, repetitions)
        profile = self.poe_profile_of(target.device)
        poe_ports, poe_budget, refused_poe = await read_poe(
            transport, ports, profile, budget, repetitions
        )
        refused = refused_lldp + refused_cdp + refused_macs + refused_poe
        discovery = Discovery(
            target.device,
            now_ns,
            tuple(neighbours),
            tuple(macs),
            tuple(poe_ports),
            poe_budget,
            DiscoveryCounts(budget.read, budget.cut, refused),
            discovery_job(target.device),
        )
        self.totals.add(discovery.counts)
        return discovery

    async def poll(self, target: DiscoveryTarget) -> list[Sample]:
        discovery = await self.discover(target)
        self.observe(discovery)
        refused: list[tuple[str, Refused]] = []
        samples = poe_samples(
            target.site,
            target.device,
            discovery.poe_ports,
            discovery.poe_budget,
            discovery.time_ns,
            refused,
        )
        for _, why in refused:
            self.on_refused(target.device, why.field, why.reason)
        return samples
