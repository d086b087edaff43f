"""The forwarding rows of the wanted MACs only, read with GET: dot1qTpFdbPort.<fdb>.<MAC>
for each forwarding database (dot1qFdbTable's rows), else dot1dTpFdbPort.<MAC>.

A school switch's forwarding table holds thousands of MACs, and discovery wants the few of
its site's inventory and its neighbours: asking for those costs a GET varbind each, where a
walk costs one per row of the table. With more than `TARGETED_MAX` look-ups (many MACs times
many VLANs) the table is walked instead (macs.py)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from collectors.snmp import ber
from collectors.snmp.client import SnmpTransport
from collectors.snmp.discovery.ports import Ports
from collectors.snmp.discovery.walk import RowBudget, walk_column
from collectors.snmp.varbind_values import number

Q_FDB_PORT = "1.3.6.1.2.1.17.7.1.2.2.1.2"  # index: dot1qFdbId, MAC (6 arcs)
FDB_PORT = "1.3.6.1.2.1.17.4.3.1.2"  # index: MAC (6 arcs)
FDB_IDS = "1.3.6.1.2.1.17.7.1.2.1.1.2"  # dot1qFdbDynamicCount, index: dot1qFdbId
GET_CHUNK = 40  # varbinds per GET
TARGETED_MAX = 1000  # look-ups per switch and round; past it the table is walked


@dataclass(frozen=True)
class Seen:
    mac: str
    if_index: int
    vlan: int | None


Found = tuple[list[Seen], Counter[int], int]  # rows of wanted MACs, rows per port, refused


def port_of(varbind: ber.VarBind, ports: Ports) -> int | None:
    """The ifIndex of a forwarding row's bridge port; None when there is none (0: the
    switch's own or a static entry) or the bridge port is not known."""
    port = number(varbind)
    return None if port is None or port == 0 else ports.bridge.get(int(port))


async def look_up(
    transport: SnmpTransport,
    ports: Ports,
    wanted: dict[tuple[int, ...], str],
    budget: RowBudget,
    repetitions: int,
) -> Found | None:
    """The wanted MACs' rows by GET; None when that would take more than TARGETED_MAX
    look-ups or more rows than the budget has left."""
    fdbs = await walk_column(transport, FDB_IDS, budget, repetitions)
    ids: list[int | None] = [index[0] for index in fdbs if len(index) == 1]
    asked = [
        (f"{Q_FDB_PORT}.{fdb}." if fdb is not None else f"{FDB_PORT}.", fdb, arcs)
        for fdb in ids or [None]
        for arcs in wanted
    ]
    if len(asked) > min(TARGETED_MAX, budget.left):
        return None
    seen, per_port = [], Counter[int]()
    for start in range(0, len(asked), GET_CHUNK):
        chunk = asked[start : start + GET_CHUNK]
        oids = [ber.encode_oid(prefix + ".".join(map(str, arcs))) for prefix, _, arcs in chunk]
        budget.take(len(oids))
        for (_, fdb, arcs), varbind in zip(chunk, await transport.get(oids), strict=False):
            if_index = port_of(varbind, ports)
            if if_index is not None:
                seen.append(Seen(wanted[arcs], if_index, fdb))
                per_port[if_index] += 1
    return seen, per_port, 0
