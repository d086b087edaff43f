"""The switch's own ports, as discovery needs them: ifIndex -> name (ifName, else ifDescr),
and BRIDGE-MIB's bridge port -> ifIndex (dot1dBasePortIfIndex)."""

from __future__ import annotations

from dataclasses import dataclass, field

from collectors.snmp.client import SnmpTransport
from collectors.snmp.discovery.walk import RowBudget, walk_bounded, walk_column
from collectors.snmp.varbind_values import number, text

IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
BASE_PORT_IF_INDEX = "1.3.6.1.2.1.17.1.4.1.2"


@dataclass
class Ports:
    names: dict[int, str] = field(default_factory=dict)  # ifIndex -> ifName
    bridge: dict[int, int] = field(default_factory=dict)  # bridge port -> ifIndex

    def by_name(self) -> dict[str, int]:
        return {name: index for index, name in self.names.items()}

    def name(self, if_index: int | None, fallback: str = "") -> str:
        if if_index is None:
            return fallback
        return self.names.get(if_index, fallback or f"ifIndex {if_index}")


async def read_ports(transport: SnmpTransport, budget: RowBudget, repetitions: int) -> Ports:
    ports = Ports()
    names, bridge = await walk_bounded(
        transport, [IF_NAME, BASE_PORT_IF_INDEX], budget, repetitions
    )
    if not names:  # an agent without ifXTable
        names = await walk_column(transport, IF_DESCR, budget, repetitions)
    for index, varbind in names.items():
        if len(index) == 1 and (name := text(varbind)):
            ports.names[index[0]] = name
    for index, varbind in bridge.items():
        if_index = number(varbind)
        if len(index) == 1 and if_index is not None and if_index > 0:
            ports.bridge[index[0]] = int(if_index)
    return ports
