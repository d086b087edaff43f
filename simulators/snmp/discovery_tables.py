"""What a simulated switch answers for discovery, from the city's wiring (wiring.py):
LLDP-MIB (its chassis, every port in lldpLocPortTable, a lldpRemTable row per link whose far
end is not failed, the far end's management address when it is unique in the inventory),
BRIDGE-MIB dot1dBasePortIfIndex, Q-BRIDGE-MIB dot1qTpFdbPort and dot1qFdbDynamicCount, and
on switches that power devices POWER-ETHERNET-MIB (every access port; 370 W nominal).
Values are read live, so PoE faults and a budget overrun show at once (`PoeState`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from collectors.snmp import ber
from simulators.snmp.switch import ACCESS_PORTS, SimSwitch
from simulators.snmp.wiring import Wiring, chassis_mac, port_name

LLDP = (1, 0, 8802, 1, 1, 2, 1)
BASE_PORT_IF_INDEX = (1, 3, 6, 1, 2, 1, 17, 1, 4, 1, 2)
Q_FDB_PORT = (1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1, 2)
FDB_DYNAMIC_COUNT = (1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 1, 1, 2)  # index: dot1qFdbId
PSE_PORT = (1, 3, 6, 1, 2, 1, 105, 1, 1, 1)
MAIN_PSE = (1, 3, 6, 1, 2, 1, 105, 1, 3, 1, 1)
NOMINAL_W = 370

Cell = Callable[[], tuple[int, bytes]]


def _text(value: str | bytes) -> Cell:
    raw = value.encode() if isinstance(value, str) else value
    return lambda: (ber.OCTET_STRING, raw)


def _int(value: int) -> Cell:
    return lambda: (ber.INTEGER, ber.encode_integer(value))


def _counter(value: int) -> Cell:
    return lambda: (ber.COUNTER32, ber.encode_unsigned(value))


def _mac(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


@dataclass
class PoeState:
    """A switch's PoE faults right now (scenarios set them): ports in fault, and watts drawn
    beyond what its devices draw (a budget overrun)."""

    faulted: set[int] = field(default_factory=set)
    extra_w: float = 0.0


def discovery_cells(
    switch: SimSwitch,
    wiring: Wiring,
    addresses: dict[str, str],
    failed: set[str],
    poe: PoeState,
) -> dict[tuple[int, ...], Cell]:
    name = switch.name
    cells: dict[tuple[int, ...], Cell] = {
        (*LLDP, 3, 1, 0): _int(4),
        (*LLDP, 3, 2, 0): _text(_mac(chassis_mac(name))),
        (*LLDP, 3, 3, 0): _text(name),
    }
    for if_index in switch.ports:
        cells[(*LLDP, 3, 7, 1, 2, if_index)] = _int(5)  # interfaceName
        cells[(*LLDP, 3, 7, 1, 3, if_index)] = _text(port_name(if_index))
        cells[(*BASE_PORT_IF_INDEX, if_index)] = _int(if_index)
    for n, (local, far) in enumerate(wiring.neighbours(name), 1):
        if far.switch in failed:
            continue  # its LLDP entries aged out
        row = (0, local, n)
        far_port = port_name(far.if_index)
        cells |= {
            (*LLDP, 4, 1, 1, 4, *row): _int(4),
            (*LLDP, 4, 1, 1, 5, *row): _text(_mac(chassis_mac(far.switch))),
            (*LLDP, 4, 1, 1, 6, *row): _int(5),
            (*LLDP, 4, 1, 1, 7, *row): _text(far_port),
            (*LLDP, 4, 1, 1, 8, *row): _text(far_port),
            (*LLDP, 4, 1, 1, 9, *row): _text(far.switch),
        }
        address = addresses.get(far.switch)
        if address is not None:
            arcs = tuple(int(a) for a in address.split("."))
            cells[(*LLDP, 4, 2, 1, 3, *row, 1, 4, *arcs)] = _int(2)
    learned: dict[int, int] = {}
    for mac, if_index, vlan in wiring.fdb.get(name, []):
        cells[(*Q_FDB_PORT, vlan, *_mac(mac))] = _int(if_index)
        learned[vlan] = learned.get(vlan, 0) + 1
    for vlan, count in learned.items():
        cells[(*FDB_DYNAMIC_COUNT, vlan)] = _counter(count)
    if name in wiring.powered:
        cells |= _poe_cells(wiring, name, poe)
    return cells


def _poe_cells(wiring: Wiring, name: str, poe: PoeState) -> dict[tuple[int, ...], Cell]:
    powered = wiring.powered[name]

    def detection(port: int) -> Cell:
        def value() -> tuple[int, bytes]:
            if port in poe.faulted:
                return ber.INTEGER, ber.encode_integer(4)  # fault
            return ber.INTEGER, ber.encode_integer(3 if port in powered else 2)

        return value

    def consumption() -> tuple[int, bytes]:
        drawn = sum(d.watts for p, d in powered.items() if p not in poe.faulted) + poe.extra_w
        return ber.GAUGE32, ber.encode_unsigned(round(drawn))

    cells: dict[tuple[int, ...], Cell] = {}
    for port in range(1, ACCESS_PORTS + 1):
        device = powered.get(port)
        cells[(*PSE_PORT, 3, 1, port)] = _int(1)  # adminEnable true
        cells[(*PSE_PORT, 6, 1, port)] = detection(port)
        cells[(*PSE_PORT, 10, 1, port)] = _int(device.class_ + 1 if device else 1)
    cells[(*MAIN_PSE, 2, 1)] = lambda: (ber.GAUGE32, ber.encode_unsigned(NOMINAL_W))
    cells[(*MAIN_PSE, 3, 1)] = _int(1)  # on
    cells[(*MAIN_PSE, 4, 1)] = consumption
    return cells
