"""Which port a MAC is behind: Q-BRIDGE-MIB dot1qTpFdbTable (else BRIDGE-MIB
dot1dTpFdbTable), looked up by MAC (fdb_lookup.py) or, for many MACs or when the look-up
finds none, walked; and the ARP/neighbour table (ipNetToPhysicalTable, else
ipNetToMediaTable) for MACs the forwarding table does not know.

Only MACs of the inventory and of LLDP/CDP neighbours are kept. A MAC seen behind several
ports (a trunk towards the next switch and the edge port it is plugged into) resolves to the
edge port: the port without an LLDP/CDP neighbour, then the one with the fewest MACs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection

from collectors.snmp.client import SnmpTransport
from collectors.snmp.discovery.decode import mac_text
from collectors.snmp.discovery.fdb_lookup import FDB_PORT, Q_FDB_PORT, Found, Seen, look_up, port_of
from collectors.snmp.discovery.ports import Ports
from collectors.snmp.discovery.walk import RowBudget, walk_column
from collectors.snmp.varbind_values import number
from gateway.topology.observations import MacLocation, MacSource

NET_TO_PHYSICAL = "1.3.6.1.2.1.4.35.1.4"  # index: ifIndex, type, length, address...
NET_TO_MEDIA = "1.3.6.1.2.1.4.22.1.2"  # index: ifIndex, a, b, c, d


def _arcs_of(mac: str) -> tuple[int, ...]:
    return tuple(int(octet, 16) for octet in mac.split(":"))


def _valid(arcs: tuple[int, ...]) -> bool:
    return len(arcs) == 6 and max(arcs) <= 255


async def _forwarding(
    transport: SnmpTransport,
    ports: Ports,
    wanted: dict[tuple[int, ...], str],
    budget: RowBudget,
    repetitions: int,
) -> Found:
    """The wanted MACs' forwarding rows on known bridge ports, how many rows each port has
    (all MACs), and how many rows were refused. Only wanted rows are decoded into text: a
    table of thousands of rows costs a tuple look-up per row."""
    rows = await walk_column(transport, Q_FDB_PORT, budget, repetitions)
    tagged = bool(rows)
    if not tagged:
        rows = await walk_column(transport, FDB_PORT, budget, repetitions)
    seen, per_port, refused = [], Counter[int](), 0
    for index, varbind in rows.items():
        vlan, arcs = (index[0], index[1:]) if tagged else (None, index)
        if not _valid(arcs) or number(varbind) is None:
            refused += 1
            continue
        if_index = port_of(varbind, ports)
        if if_index is None:
            refused += number(varbind) != 0  # 0: the switch's own or a static entry
            continue
        per_port[if_index] += 1
        mac = wanted.get(arcs)
        if mac is not None:
            seen.append(Seen(mac, if_index, vlan))
    return seen, per_port, refused


async def _arp(
    transport: SnmpTransport, budget: RowBudget, repetitions: int
) -> tuple[list[Seen], int]:
    rows = await walk_column(transport, NET_TO_PHYSICAL, budget, repetitions)
    if not rows:
        rows = await walk_column(transport, NET_TO_MEDIA, budget, repetitions)
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
    per_port: Counter[int],
    trunks: Collection[int],
    source: MacSource,
    ports: Ports,
) -> list[MacLocation]:
    """One location per MAC: the edge port among the ports it was seen behind (no LLDP/CDP
    neighbour first, then the fewest MACs)."""

    def rank(s: Seen) -> tuple[bool, int, int]:
        return s.if_index in trunks, per_port[s.if_index], s.if_index

    best: dict[str, Seen] = {}
    for s in seen:
        held = best.get(s.mac)
        if held is None or rank(s) < rank(held):
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
    by_arcs = {_arcs_of(mac): mac for mac in wanted}
    looked = await look_up(transport, ports, by_arcs, budget, repetitions) if by_arcs else None
    if looked is None or not looked[0]:
        looked = await _forwarding(transport, ports, by_arcs, budget, repetitions)
    forwarding, per_port, refused_fdb = looked
    found = resolve(forwarding, per_port, trunks, "fdb", ports)
    rest = set(wanted) - {m.mac for m in found}
    refused_arp = 0
    if rest:
        arp, refused_arp = await _arp(transport, budget, repetitions)
        found += resolve([s for s in arp if s.mac in rest], Counter(), trunks, "arp", ports)
    return found, refused_fdb + refused_arp
