"""Which port a MAC is behind: Q-BRIDGE-MIB dot1qTpFdbTable (else BRIDGE-MIB
dot1dTpFdbTable), and the ARP/neighbour table (ipNetToPhysicalTable, else
ipNetToMediaTable) for MACs the forwarding table does not know.

Only MACs of the inventory and of LLDP/CDP neighbours are kept. A MAC seen behind several
ports (a trunk towards the next switch and the edge port it is plugged into) resolves to the
edge port: the port without an LLDP/CDP neighbour, then the one with the fewest MACs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from collectors.snmp.client import SnmpTransport
from collectors.snmp.discovery.decode import mac_text
from collectors.snmp.discovery.ports import Ports
from collectors.snmp.discovery.walk import RowBudget, walk_bounded
from collectors.snmp.varbind_values import number
from gateway.topology.observations import MacLocation, MacSource

Q_FDB_PORT = "1.3.6.1.2.1.17.7.1.2.2.1.2"  # index: dot1qFdbId, MAC (6 arcs)
FDB_PORT = "1.3.6.1.2.1.17.4.3.1.2"  # index: MAC (6 arcs)
NET_TO_PHYSICAL = "1.3.6.1.2.1.4.35.1.4"  # index: ifIndex, type, length, address...
NET_TO_MEDIA = "1.3.6.1.2.1.4.22.1.2"  # index: ifIndex, a, b, c, d


@dataclass(frozen=True)
class Seen:
    mac: str
    if_index: int
    vlan: int | None


def _mac_of(arcs: tuple[int, ...]) -> str | None:
    if len(arcs) != 6 or any(arc > 255 for arc in arcs):
        return None
    return mac_text(bytes(arcs))


async def _forwarding(
    transport: SnmpTransport, ports: Ports, budget: RowBudget, repetitions: int
) -> tuple[list[Seen], int]:
    """Every forwarding row on a known bridge port, and how many rows were refused."""
    rows = (await walk_bounded(transport, Q_FDB_PORT, budget, repetitions)).rows
    tagged = bool(rows)
    if not tagged:
        rows = (await walk_bounded(transport, FDB_PORT, budget, repetitions)).rows
    seen, refused = [], 0
    for index, varbind in rows.items():
        vlan, arcs = (index[0], index[1:]) if tagged else (None, index)
        mac, port = _mac_of(arcs), number(varbind)
        if mac is None or port is None:
            refused += 1
            continue
        if port == 0:  # the switch's own or a static entry with no port
            continue
        if_index = ports.bridge.get(int(port))
        if if_index is None:
            refused += 1
            continue
        seen.append(Seen(mac, if_index, vlan))
    return seen, refused


async def _arp(
    transport: SnmpTransport, budget: RowBudget, repetitions: int
) -> tuple[list[Seen], int]:
    rows = (await walk_bounded(transport, NET_TO_PHYSICAL, budget, repetitions)).rows
    if not rows:
        rows = (await walk_bounded(transport, NET_TO_MEDIA, budget, repetitions)).rows
    seen, refused = [], 0
    for index, varbind in rows.items():
        mac = mac_text(varbind.raw) if len(varbind.raw) == 6 else None
        if mac is None or not index:
            refused += 1
            continue
        seen.append(Seen(mac, index[0], None))
    return seen, refused


def resolve(
    seen: list[Seen],
    wanted: Collection[str],
    trunks: Collection[int],
    source: MacSource,
    ports: Ports,
) -> list[MacLocation]:
    """One location per wanted MAC: the edge port among the ports it was seen behind."""
    per_port = Counter(s.if_index for s in seen)
    best: dict[str, Seen] = {}
    for s in seen:
        if s.mac not in wanted:
            continue
        rank = (s.if_index in trunks, per_port[s.if_index], s.if_index)
        held = best.get(s.mac)
        if held is None or rank < (held.if_index in trunks, per_port[held.if_index], held.if_index):
            best[s.mac] = s
    return [
        MacLocation(s.mac, ports.name(s.if_index), s.if_index, s.vlan, source)
        for s in best.values()
    ]


async def read_macs(
    transport: SnmpTransport,
    ports: Ports,
    wanted: Collection[str],
    trunks: Collection[int],
    budget: RowBudget,
    repetitions: int,
) -> tuple[list[MacLocation], int]:
    """Locations of the wanted MACs (forwarding table first, ARP for the rest), and the
    number of rows refused."""
    forwarding, refused_fdb = await _forwarding(transport, ports, budget, repetitions)
    found = resolve(forwarding, wanted, trunks, "fdb", ports)
    rest = set(wanted) - {m.mac for m in found}
    arp, refused_arp = await _arp(transport, budget, repetitions) if rest else ([], 0)
    return found + resolve(arp, rest, trunks, "arp", ports), refused_fdb + refused_arp
