"""Discovery's readers against tables shaped like real agents' (tests/discovery_agent.py):
chassis and port IDs in every subtype, LLDP local ports mapped to ifIndex, neighbours that
point at the switch itself, MACs behind a trunk and an edge port, tables far larger than
the bound, a neighbour that vanishes and returns, PoE states."""

from __future__ import annotations

import pytest

from collectors.snmp.discovery.decode import CHASSIS_SUBTYPES, PORT_SUBTYPES, identifier
from collectors.snmp.discovery.neighbours import local_port
from collectors.snmp.discovery.poe_profile import PoeProfile
from collectors.snmp.discovery.ports import Ports
from collectors.snmp.discovery.reader import DiscoveryPoller, DiscoveryTarget
from gateway.topology.observations import Discovery
from tests.discovery_agent import TableAgent, gauge, integer, octets

LLDP = "1.0.8802.1.1.2.1"
SELF_MAC = bytes.fromhex("0200000000aa")
AP_MAC, EXHIBIT_MAC = "02:00:00:00:01:01", "02:00:00:00:01:02"


@pytest.mark.parametrize(
    ("subtype", "raw", "names", "expected"),
    [
        (4, bytes.fromhex("001b2c3d4e5f"), CHASSIS_SUBTYPES, ("00:1b:2c:3d:4e:5f", "macAddress")),
        (4, b"00-1B-2C-3D-4E-5F", CHASSIS_SUBTYPES, ("00:1b:2c:3d:4e:5f", "macAddress")),
        (5, b"\x01\xc0\x00\x02\x07", CHASSIS_SUBTYPES, ("192.0.2.7", "networkAddress")),
        (5, b"\x02" + bytes(15) + b"\x01", CHASSIS_SUBTYPES, ("::1", "networkAddress")),
        (5, b"\x01\xc0", CHASSIS_SUBTYPES, ("01:c0", "networkAddress")),
        (6, b"Te1/0/1", CHASSIS_SUBTYPES, ("Te1/0/1", "interfaceName")),
        (7, b"core-1\x00", CHASSIS_SUBTYPES, ("core-1", "local")),
        (1, b"FOC1234X0AB", CHASSIS_SUBTYPES, ("FOC1234X0AB", "chassisComponent")),
        (2, b"uplink", CHASSIS_SUBTYPES, ("uplink", "interfaceAlias")),
        (3, b"slot 1", CHASSIS_SUBTYPES, ("slot 1", "portComponent")),
        (9, b"x", CHASSIS_SUBTYPES, ("x", "unknown9")),
        (3, bytes.fromhex("001b2c3d4e60"), PORT_SUBTYPES, ("00:1b:2c:3d:4e:60", "macAddress")),
        (5, b"GigabitEthernet1/0/3", PORT_SUBTYPES, ("GigabitEthernet1/0/3", "interfaceName")),
        (6, b"\xff\xfe\x00", PORT_SUBTYPES, ("ff:fe", "agentCircuitId")),
        (7, b"12", PORT_SUBTYPES, ("12", "local")),
    ],
)
def test_chassis_and_port_ids_in_every_subtype(
    subtype: int, raw: bytes, names: dict[int, str], expected: tuple[str, str]
) -> None:
    assert identifier(subtype, raw, names) == expected


PORTS = Ports({1: "Gi1/0/1", 2: "Gi1/0/2", 49: "Te1/0/1"}, {1: 1, 2: 2, 3: 49})


@pytest.mark.parametrize(
    ("number", "subtype", "raw", "expected"),
    [
        (7, 5, b"Te1/0/1", ("Te1/0/1", 49)),  # by interface name, whatever the number
        (7, 1, b"Gi1/0/2", ("Gi1/0/2", 2)),  # interfaceAlias holding the name
        (9, 7, b"49", ("Te1/0/1", 49)),  # a local ID that is an ifIndex
        (49, 3, bytes(6), ("Te1/0/1", 49)),  # a MAC ID: the number is the ifIndex (lldpd)
        (3, 3, bytes(6), ("Te1/0/1", 49)),  # ... or a bridge port (dot1dBasePortIfIndex)
        (77, 5, b"mgmt0", ("mgmt0", None)),  # nothing matches: its own name, no ifIndex
    ],
)
def test_lldp_local_ports_map_to_ifindex(
    number: int, subtype: int, raw: bytes, expected: tuple[str, int | None]
) -> None:
    assert local_port(number, subtype, raw, PORTS) == expected


def switch_cells(
    neighbours: list[tuple[int, str, str, str]], fdb: list[tuple[int, str, int]] = ()
) -> dict[str, tuple[int, bytes]]:
    """A 48+2-port switch "acc-1": LLDP neighbours (local ifIndex, chassis MAC, port name,
    sysName), forwarding entries (vlan, MAC, bridge port = ifIndex)."""
    cells: dict[str, tuple[int, bytes]] = {
        "1.3.6.1.2.1.1.5.0": octets("acc-1"),
        f"{LLDP}.3.1.0": integer(4),
        f"{LLDP}.3.2.0": octets(SELF_MAC),
    }
    for index in range(1, 51):
        name = f"Gi1/0/{index}" if index <= 48 else f"Te1/0/{index - 48}"
        cells[f"1.3.6.1.2.1.31.1.1.1.1.{index}"] = octets(name)
        cells[f"1.3.6.1.2.1.17.1.4.1.2.{index}"] = integer(index)
        cells[f"{LLDP}.3.7.1.2.{index}"] = integer(5)
        cells[f"{LLDP}.3.7.1.3.{index}"] = octets(name)
    for n, (port, chassis, peer_port, sys_name) in enumerate(neighbours, 1):
        row = f"0.{port}.{n}"
        cells |= {
            f"{LLDP}.4.1.1.4.{row}": integer(4),
            f"{LLDP}.4.1.1.5.{row}": octets(bytes.fromhex(chassis.replace(":", ""))),
            f"{LLDP}.4.1.1.6.{row}": integer(5),
            f"{LLDP}.4.1.1.7.{row}": octets(peer_port),
            f"{LLDP}.4.1.1.9.{row}": octets(sys_name),
            f"{LLDP}.4.2.1.3.{row}.1.4.192.0.2.{n}": integer(2),
        }
    for vlan, mac, port in fdb:
        arcs = ".".join(str(int(octet, 16)) for octet in mac.split(":"))
        cells[f"1.3.6.1.2.1.17.7.1.2.2.1.2.{vlan}.{arcs}"] = integer(port)
    return cells


async def discover(
    agent: TableAgent, max_rows: int = 5000, macs: frozenset[str] = frozenset()
) -> Discovery:
    return await DiscoveryPoller().discover(
        DiscoveryTarget("s", "acc-1", agent, 25, max_rows, macs)
    )


CORE = ("02:00:00:00:00:c0", "Te1/0/3", "core-1")


async def test_neighbours_with_both_ends_and_self_pointing_rows_refused() -> None:
    agent = TableAgent(
        switch_cells(
            [
                (49, *CORE),
                (50, SELF_MAC.hex(":"), "Te1/0/1", "elsewhere"),  # its own chassis: a loop
                (48, "02:00:00:00:00:99", "Gi0/1", "ACC-1"),  # its own sysName
            ]
        )
    )
    found = await discover(agent)
    (neighbour,) = found.neighbours
    assert (neighbour.local_ifname, neighbour.local_ifindex) == ("Te1/0/1", 49)
    assert (neighbour.chassis_id, neighbour.port_id, neighbour.sys_name) == CORE
    assert neighbour.mgmt_addresses == ("192.0.2.1",)
    assert found.counts.refused == 2
    assert found.job == "acc-1/discovery"  # the topology asks for the next round by this name


async def test_a_mac_behind_a_trunk_and_an_edge_port_is_at_the_edge() -> None:
    fdb = [
        # (one FDB holds a MAC once: the sightings are in two VLANs' FDBs)
        (10, AP_MAC, 49),  # the trunk towards the core (an LLDP neighbour)
        (11, AP_MAC, 7),  # the edge port the AP is plugged into
        (20, EXHIBIT_MAC, 8),
        (21, EXHIBIT_MAC, 9),  # seen on two edge ports: the one with fewer MACs wins
        (20, "02:00:00:00:09:01", 9),
        (20, "02:00:00:00:09:02", 9),
        (20, "02:00:00:00:09:03", 49),
    ]
    agent = TableAgent(switch_cells([(49, *CORE)], fdb))
    found = await discover(agent, macs=frozenset({AP_MAC, EXHIBIT_MAC}))
    located = {m.mac: (m.ifname, m.vlan, m.source) for m in found.macs}
    assert located == {AP_MAC: ("Gi1/0/7", 11, "fdb"), EXHIBIT_MAC: ("Gi1/0/8", 20, "fdb")}


async def test_a_neighbours_chassis_mac_is_located_too() -> None:
    agent = TableAgent(switch_cells([(49, *CORE)], [(1, CORE[0], 49), (1, AP_MAC, 3)]))
    found = await discover(agent)  # no inventory MACs: only the neighbour's is kept
    assert [(m.mac, m.ifname) for m in found.macs] == [(CORE[0], "Te1/0/1")]


async def test_forwarding_tables_of_tens_of_thousands_of_rows_are_read_to_the_bound() -> None:
    fdb = [
        (1, f"06:00:00:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}", 1 + n % 48)
        for n in range(40_000)
    ]
    late = "0a:00:00:00:01:01"  # in OID order after the 40,000 others
    agent = TableAgent(switch_cells([(49, *CORE)], [*fdb, (1, late, 5)]))
    found = await discover(agent, max_rows=5000, macs=frozenset({late}))
    assert found.counts.read == 5000
    assert found.counts.evicted >= 1  # the forwarding walk was cut (and ARP never started)
    assert late not in {m.mac for m in found.macs}  # its row was not reached
    assert agent.requests < 5000 / 25 + 20  # GETBULKs of 25, not one request per row
    assert found.neighbours  # LLDP, read before the forwarding table, is whole


async def test_the_wanted_macs_are_looked_up_without_reading_the_table() -> None:
    """An agent with dot1qFdbTable (its forwarding databases): the site's MACs are asked for
    by GET in each, whatever the size of the table."""
    fdb = [
        (1, f"06:00:00:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}", 1 + n % 48)
        for n in range(40_000)
    ]
    late = "0a:00:00:00:01:01"
    cells = switch_cells([(49, *CORE)], [*fdb, (1, late, 5), (2, AP_MAC, 6)])
    cells["1.3.6.1.2.1.17.7.1.2.1.1.2.1"] = integer(40_001)  # dot1qFdbDynamicCount
    cells["1.3.6.1.2.1.17.7.1.2.1.1.2.2"] = integer(1)
    found = await discover(TableAgent(cells), macs=frozenset({late, AP_MAC}))
    assert {(m.mac, m.ifname, m.vlan) for m in found.macs} == {
        (late, "Gi1/0/5", 1),
        (AP_MAC, "Gi1/0/6", 2),
    }
    assert found.counts.read < 500 and found.counts.evicted == 0


async def test_malformed_forwarding_rows_are_refused_and_counted() -> None:
    cells = switch_cells([], [(1, AP_MAC, 3)])
    cells["1.3.6.1.2.1.17.7.1.2.2.1.2.1.2.0.0.0.1.300"] = integer(4)  # a MAC arc above 255
    cells["1.3.6.1.2.1.17.7.1.2.2.1.2.1.2.0.0.0.1.7"] = integer(4000)  # no such bridge port
    cells["1.3.6.1.2.1.17.7.1.2.2.1.2.1.2.0.0.0.1"] = integer(3)  # five arcs
    found = await discover(TableAgent(cells), macs=frozenset({AP_MAC}))
    assert [(m.mac, m.ifname) for m in found.macs] == [(AP_MAC, "Gi1/0/3")]
    assert found.counts.refused == 3


async def test_a_neighbour_that_vanishes_and_returns() -> None:
    agent = TableAgent(switch_cells([(49, *CORE)]))
    poller = DiscoveryPoller()
    target = DiscoveryTarget("s", "acc-1", agent)
    assert len((await poller.discover(target)).neighbours) == 1
    agent.set(switch_cells([]))
    assert (await poller.discover(target)).neighbours == ()
    agent.set(switch_cells([(49, *CORE)]))
    assert [n.sys_name for n in (await poller.discover(target)).neighbours] == ["core-1"]
    assert poller.totals.rounds == 3


def poe_cells(
    ports: dict[int, tuple[int, int, int]], budget: tuple[int, int]
) -> dict[str, tuple[int, bytes]]:
    """PSE group 1: port -> (admin, detection, class code); pethMainPse (power, consumption);
    CISCO-POWER-ETHERNET-EXT-MIB consumption in mW."""
    cells = switch_cells([])
    for port, (admin, detection, klass) in ports.items():
        cells[f"1.3.6.1.2.1.105.1.1.1.3.1.{port}"] = integer(admin)
        cells[f"1.3.6.1.2.1.105.1.1.1.6.1.{port}"] = integer(detection)
        cells[f"1.3.6.1.2.1.105.1.1.1.10.1.{port}"] = integer(klass)
        cells[f"1.3.6.1.4.1.9.9.402.1.2.1.9.1.{port}"] = gauge(6500 if detection == 3 else 0)
    cells["1.3.6.1.2.1.105.1.3.1.1.2.1"] = gauge(budget[0])
    cells["1.3.6.1.2.1.105.1.3.1.1.4.1"] = gauge(budget[1])
    return cells


CISCO_POE = PoeProfile.model_validate(
    {
        "port_power": {"oid": "1.3.6.1.4.1.9.9.402.1.2.1.9", "scale": 0.001},
        "port_name": "{group}/0/{port}",
    }
)


async def test_poe_ports_states_and_budget() -> None:
    agent = TableAgent(
        poe_cells(
            {1: (1, 3, 5), 2: (1, 2, 1), 3: (1, 4, 1), 4: (2, 1, 1), 5: (1, 9, 7)}, (370, 340)
        )
    )
    samples = await DiscoveryPoller(poe_profile_of=lambda _: CISCO_POE).poll(
        DiscoveryTarget("s", "acc-1", agent)
    )
    by_port = {s.tags.get("ifname"): dict(s.fields) for s in samples if s.measurement == "poe"}
    assert by_port[None] == {"budget_w": 370.0, "power_w": 340.0, "used_pct": 91.89}
    assert by_port["Gi1/0/1"] == {"status": "deliveringPower", "power_w": 6.5, "class": 4}
    assert by_port["Gi1/0/2"] == {"status": "searching", "power_w": 0.0, "class": 0}
    assert by_port["Gi1/0/3"]["status"] == "fault"
    assert by_port["Gi1/0/4"]["status"] == "disabled"
    assert by_port["Gi1/0/5"] == {"status": "unknown", "power_w": 0.0}  # 9, 7: not RFC 3621's


async def test_poe_without_a_profile_maps_pse_ports_by_ifindex_and_has_no_port_power() -> None:
    agent = TableAgent(poe_cells({7: (1, 3, 4), 60: (1, 3, 4)}, (0, 0)))
    found = await discover(agent)
    assert [(p.ifname, p.detection, p.power_w, p.class_) for p in found.poe_ports] == [
        ("Gi1/0/7", "deliveringPower", None, 3)
    ]
    assert found.counts.refused == 1  # PSE port 60: no interface of that index
    assert found.poe_budget is not None and found.poe_budget.nominal_w == 0.0
