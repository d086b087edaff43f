"""LLDP-MIB and CISCO-CDP-MIB neighbours of one switch, with both ends' ports.

LLDP's local port numbers (lldpLocPortNum) are mapped to ifIndex by what lldpLocPortTable
says of each port: its ID as an interface name or alias, a local ID that is an ifIndex,
else the number itself as an ifIndex (lldpd, most vendors) or as a bridge port."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from collectors.snmp import ber
from collectors.snmp.client import SnmpTransport
from collectors.snmp.discovery.decode import (
    CHASSIS_SUBTYPES,
    PORT_SUBTYPES,
    address_text,
    identifier,
    printable,
)
from collectors.snmp.discovery.ports import Ports
from collectors.snmp.discovery.walk import RowBudget, Rows, walk_bounded
from collectors.snmp.varbind_values import number
from gateway.topology.observations import Neighbour

LLDP = "1.0.8802.1.1.2.1"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
LOC_CHASSIS_SUBTYPE = f"{LLDP}.3.1.0"
LOC_CHASSIS_ID = f"{LLDP}.3.2.0"
LOC_PORT = {"subtype": f"{LLDP}.3.7.1.2", "id": f"{LLDP}.3.7.1.3"}
REM = {
    "chassis_subtype": f"{LLDP}.4.1.1.4",
    "chassis": f"{LLDP}.4.1.1.5",
    "port_subtype": f"{LLDP}.4.1.1.6",
    "port": f"{LLDP}.4.1.1.7",
    "port_descr": f"{LLDP}.4.1.1.8",
    "sys_name": f"{LLDP}.4.1.1.9",
}
REM_MAN_ADDR_IF_SUBTYPE = f"{LLDP}.4.2.1.3"
CDP_CACHE = "1.3.6.1.4.1.9.9.23.1.2.1.1"
CDP = {
    "address_type": f"{CDP_CACHE}.3",
    "address": f"{CDP_CACHE}.4",
    "device_id": f"{CDP_CACHE}.6",
    "device_port": f"{CDP_CACHE}.7",
}
MAX_ADDRESSES = 4  # management addresses kept per neighbour


@dataclass(frozen=True)
class Self:
    """The switch's own identity, to refuse neighbour rows that point at itself."""

    chassis_id: str
    sys_name: str

    def is_me(self, chassis_id: str, sys_name: str) -> bool:
        return bool(self.chassis_id and chassis_id == self.chassis_id) or bool(
            self.sys_name and sys_name.lower() == self.sys_name.lower()
        )


async def read_self(transport: SnmpTransport) -> Self:
    """The switch's LLDP chassis ID and sysName."""
    oids = (LOC_CHASSIS_SUBTYPE, LOC_CHASSIS_ID, SYS_NAME)
    answer = await transport.get([ber.encode_oid(oid) for oid in oids])
    if len(answer) != len(oids):
        return Self("", "")
    chassis = _octets(answer[1])
    return Self(
        identifier(_code(answer[0]), chassis, CHASSIS_SUBTYPES)[0] if chassis else "",
        printable(_octets(answer[2])),
    )


async def _columns(
    transport: SnmpTransport, columns: dict[str, str], budget: RowBudget, repetitions: int
) -> dict[str, Rows]:
    walked = await walk_bounded(transport, list(columns.values()), budget, repetitions)
    return dict(zip(columns, walked, strict=True))


def local_port(number_: int, subtype: int, raw: bytes, ports: Ports) -> tuple[str, int | None]:
    """(ifname, ifIndex) of an LLDP local port number."""
    text = printable(raw)
    by_name = ports.by_name()
    if subtype in (1, 5, 7) and text in by_name:  # interfaceAlias, interfaceName, local
        return text, by_name[text]
    if subtype == 7 and text.isdigit() and int(text) in ports.names:
        return ports.names[int(text)], int(text)
    if number_ in ports.names:
        return ports.names[number_], number_
    if number_ in ports.bridge:
        if_index = ports.bridge[number_]
        return ports.name(if_index), if_index
    return text or f"lldp port {number_}", None


async def read_lldp(
    transport: SnmpTransport, ports: Ports, me: Self, budget: RowBudget, repetitions: int
) -> tuple[list[Neighbour], int]:
    """LLDP neighbours, and how many rows were refused (pointing at the switch itself)."""
    walked = await _columns(
        transport,
        {**LOC_PORT, **REM, "addresses": REM_MAN_ADDR_IF_SUBTYPE},
        budget,
        repetitions,
    )
    local = {name: walked[name] for name in LOC_PORT}
    remote = {name: walked[name] for name in REM}
    addresses = _management_addresses(walked["addresses"])
    neighbours, refused = [], 0
    for index, chassis_vb in remote["chassis"].items():
        if len(index) != 3:
            refused += 1
            continue
        port_num = index[1]
        row = {column: remote[column].get(index) for column in REM}
        chassis, chassis_kind = identifier(
            _code(row["chassis_subtype"]), _octets(chassis_vb), CHASSIS_SUBTYPES
        )
        port, port_kind = identifier(
            _code(row["port_subtype"]), _octets(row["port"]), PORT_SUBTYPES
        )
        sys_name = printable(_octets(row["sys_name"]))
        if not chassis or me.is_me(chassis, sys_name):
            refused += 1
            continue
        ifname, if_index = local_port(
            port_num,
            _code(local["subtype"].get((port_num,))),
            _octets(local["id"].get((port_num,))),
            ports,
        )
        neighbours.append(
            Neighbour(
                ifname,
                if_index,
                chassis,
                chassis_kind,
                port,
                port_kind,
                printable(_octets(row["port_descr"])),
                sys_name,
                tuple(addresses.get(index[1:], ())),
                "lldp",
            )
        )
    return neighbours, refused


def _octets(varbind: ber.VarBind | None) -> bytes:
    return varbind.raw if varbind is not None and varbind.tag == ber.OCTET_STRING else b""


def _code(varbind: ber.VarBind | None) -> int:
    return int(number(varbind) or 0)


def _management_addresses(rows: Rows) -> dict[tuple[int, ...], list[str]]:
    """(local port, remote index) -> addresses, from lldpRemManAddrTable's row indexes
    (timeMark, port, index, address subtype, address length, address octets...)."""
    found: dict[tuple[int, ...], list[str]] = defaultdict(list)
    for index in rows:
        if len(index) < 5 or len(index) != 5 + index[4]:
            continue
        octets = bytes(arc & 0xFF for arc in index[5:])
        text = address_text(index[3], octets)
        kept = found[index[1:3]]
        if text is not None and text not in kept and len(kept) < MAX_ADDRESSES:
            kept.append(text)
    return found


async def read_cdp(
    transport: SnmpTransport, ports: Ports, me: Self, budget: RowBudget, repetitions: int
) -> tuple[list[Neighbour], int]:
    """CDP neighbours (cdpCacheTable, indexed by ifIndex and device index)."""
    table = await _columns(transport, CDP, budget, repetitions)
    neighbours, refused = [], 0
    for index, device_vb in table["device_id"].items():
        device_id = printable(_octets(device_vb))
        if len(index) != 2 or not device_id or me.is_me(device_id, device_id):
            refused += 1
            continue
        raw_address = _octets(table["address"].get(index))
        ip = _code(table["address_type"].get(index)) == 1  # CiscoNetworkProtocol ip(1)
        family = 1 if ip and len(raw_address) == 4 else 2
        address = address_text(family, raw_address)
        neighbours.append(
            Neighbour(
                ports.name(index[0]),
                index[0],
                device_id,
                "deviceId",
                printable(_octets(table["device_port"].get(index))),
                "interfaceName",
                "",
                device_id.split("(")[0],  # Nexus: "name(serial)"
                (address,) if address else (),
                "cdp",
            )
        )
    return neighbours, refused
