"""Each shipped vendor profile against snmpsim (a real SNMP agent simulator) serving a
fixture with the shapes that family answers: the profile matches, CPU and temperature are
read, every transceiver port gives one optics series tagged with its ifName, and no fan,
PSU or chassis sensor becomes an optic."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from collectors.snmp.poller import SnmpPoller, SnmpTarget
from gateway.alerts.engine import AlertEngine, Transition
from gateway.alerts.rules import load_rules
from gateway.sample import Sample

if TYPE_CHECKING:  # imported as a plugin below, not here (pytest rewrites its asserts)
    from tests.snmpsim_lab import Agents

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.snmpsim_lab"]  # its fixtures: snmpsim, agents
OPTIC_FIELDS = {"rx_dbm", "tx_dbm", "temp_c", "bias_ma", "voltage_v"}

# fixture -> (profile, {ifname: expected fields of its optics series})
CASES = {
    "fake-cisco-ios": (
        "cisco-ios",
        {"Te1/1/1": {"rx_dbm": -5.1, "tx_dbm": -2.3, "temp_c": 34.2, "bias_ma": 6.5}},
    ),
    "fake-cisco-nxos": ("cisco-nxos", {"Te1/1/2": {"rx_dbm": -5.2, "voltage_v": 3.29}}),
    "fake-arista-eos": (
        "arista-eos",
        {"Ethernet49": {"rx_dbm": -5.0, "tx_dbm": -3.0, "bias_ma": 7.2, "rx_dbm_high_alarm": 3.5}},
    ),
    "fake-juniper-junos": (
        "juniper-junos",
        {"xe-0/2/0": {"rx_dbm": -4.12, "tx_dbm": -2.31, "bias_ma": 6.8, "rx_dbm_low_alarm": -14.0}},
    ),
    "fake-hpe-procurve": ("hpe-procurve", {"25": {"rx_dbm": -4.321, "voltage_v": 3.297}}),
    "fake-huawei-vrp": (
        "huawei-vrp",
        {"XGigabitEthernet0/0/1": {"rx_dbm": -3.87, "bias_ma": 7.1, "voltage_v": 3.3}},
    ),
    "fake-mikrotik-routeros": (
        "mikrotik-routeros",
        {"sfp-sfpplus1": {"rx_dbm": -5.402, "tx_dbm": -2.311, "temp_c": 37.0}},
    ),
    "fake-dell-os9": (
        "dell-os9",
        {"TenGigabitEthernet 0/48": {"rx_dbm": -5.5, "tx_dbm": -2.5, "bias_ma": 6.1}},
    ),
    "fake-aruba-cx": (
        "aruba-cx",
        {"1/1/25": {"rx_dbm": -3.872, "tx_dbm": -2.596, "bias_ma": 6.9, "temp_c": 33.1}},
    ),
    "fake-mikrotik-swos": ("mikrotik-swos", {"SFP1": {"rx_dbm": -6.02, "tx_dbm": -2.1}}),
    "fake-dell-os10": ("dell-os10", {"ethernet1/1/49": {"rx_dbm": -5.1, "tx_dbm": -3.0}}),
    "fake-extreme-exos": ("extreme-exos", {"49": {"rx_dbm": -5.1, "bias_ma": 7.1}}),
    "fake-extreme-voss": ("extreme-voss", {"1/33": {"rx_dbm": -5.1, "voltage_v": 3.31}}),
    "fake-zyxel": (
        "zyxel",
        {"25": {"rx_dbm": -7.31, "tx_dbm": -2.44, "temp_c": 34.25, "rx_dbm_low_alarm": -23.98}},
    ),
    "fake-fs": ("fs", {"eth-0-49": {"rx_dbm": -5.4, "tx_dbm": -2.11, "temp_c": 41.5}}),
    "fake-ubiquiti-edgeswitch": ("ubiquiti-edgeswitch", {"0/25": {"rx_dbm": -5.1}}),
    "fake-fortiswitch": ("fortiswitch", {}),
}
NO_CPU_OVER_SNMP = {"fake-mikrotik-swos"}  # SwOS has no CPU load object
# every transceiver port of each fixture (a 4-lane QSFP gives one series per lane and one
# for the module's own values; Junos' xe-0/2/2 holds a DAC, whose DOM answers only zeros)
OPTIC_PORTS = {
    "fake-cisco-ios": {("Te1/1/1", None), ("Te1/1/2", None)},
    "fake-cisco-nxos": {("Te1/1/1", None), ("Te1/1/2", None)},
    "fake-arista-eos": {("Ethernet49", None), ("Ethernet50", None)},
    "fake-juniper-junos": {("xe-0/2/0", None), ("xe-0/2/1", None), ("et-0/1/0", None)}
    | {("et-0/1/0", str(lane)) for lane in range(4)}
    | {("xe-0/2/4", None), ("et-0/1/2", None), ("et-0/1/2", "0"), ("et-0/1/2", "1")},
    "fake-hpe-procurve": {("25", None), ("26", None)},
    "fake-huawei-vrp": {("XGigabitEthernet0/0/1", None), ("XGigabitEthernet0/0/2", None)},
    "fake-mikrotik-routeros": {("sfp-sfpplus1", None), ("sfp-sfpplus2", None)},
    "fake-dell-os9": {("TenGigabitEthernet 0/48", None), ("TenGigabitEthernet 0/49", None)}
    | {("fortyGigE 0/52", lane) for lane in (None, "1", "2", "3", "4")},
    "fake-aruba-cx": {("1/1/25", None), ("1/1/26", None)},
    "fake-mikrotik-swos": {("SFP1", None), ("SFP2", None)},
    "fake-dell-os10": {("ethernet1/1/49", None), ("ethernet1/1/50", None)},
    "fake-extreme-exos": {("49", None), ("50", None)},
    "fake-extreme-voss": {("1/33", None), ("1/34", None)},
    "fake-zyxel": {("25", None), ("26", None)},
    "fake-fs": {("eth-0-49", None), ("eth-0-50", None)},
    "fake-ubiquiti-edgeswitch": {("0/25", None), ("0/26", None)},
    "fake-fortiswitch": set(),
}


async def poll(agents: Agents, community: str) -> tuple[SnmpPoller, list[Sample]]:
    poller = SnmpPoller()
    return poller, await poller.poll(
        SnmpTarget("lab", community, "access", agents.transport(community))
    )


@pytest.mark.parametrize("community", sorted(CASES))
async def test_vendor_profile_reads_its_device(agents: Agents, community: str) -> None:
    poller, samples = await poll(agents, community)
    profile, expected = CASES[community]
    matched = poller.profile_of(community)
    assert matched is not None and matched.profile.name == profile, matched
    device = next(s.fields for s in samples if s.measurement == "device")
    assert device["up"] is True and "temp_c" in device and device["profile"] == profile, device
    assert ("cpu_pct" in device) == (community not in NO_CPU_OVER_SNMP), device
    ifnames = {s.tags["ifname"] for s in samples if s.measurement == "interface"}
    optics = {
        (s.tags["ifname"], s.tags.get("lane")): dict(s.fields)
        for s in samples
        if s.measurement == "optics"
    }
    assert set(optics) == OPTIC_PORTS[community]
    assert {name for name, _ in optics} <= ifnames | {name for name, _ in optics if name in ifnames}
    for (name, _lane), fields in optics.items():
        assert (
            set(fields)
            - {
                f"{v}_{t}"
                for v in OPTIC_FIELDS
                for t in ("low_alarm", "low_warn", "high_warn", "high_alarm")
            }
            <= OPTIC_FIELDS
        ), fields
        assert all(-50 < float(v) < 200 for v in fields.values()), (name, fields)
    for name, wanted in expected.items():
        got = optics[(name, None)]
        assert {k: got.get(k) for k in wanted} == pytest.approx(wanted, abs=0.01), name


async def test_no_fan_psu_or_chassis_sensor_is_an_optic(agents: Agents) -> None:
    """Arista's fan (3969 rpm), PSU (66 W, 12.1 V) and chassis sensors stay off the optics."""
    _poller, samples = await poll(agents, "fake-arista-eos")
    optics = [s for s in samples if s.measurement == "optics"]
    assert {s.tags["ifname"] for s in optics} == {"Ethernet49", "Ethernet50"}
    values = [float(v) for s in optics for v in s.fields.values()]
    assert 3969 not in values and 66 not in values and 12.1 not in values
    device = next(s.fields for s in samples if s.measurement == "device")
    assert device["temp_c"] == 36.8  # the hottest chassis sensor, not a transceiver's


async def test_an_agent_without_sysuptime_is_up(
    agents: Agents, caplog: pytest.LogCaptureFixture
) -> None:
    """No sysUpTime: the generic profile, timed by hrSystemUptime (said once), never up=false."""
    poller = SnmpPoller()
    target = SnmpTarget("lab", "gw", "access", agents.transport("fake-generic-nouptime"))
    samples = await poller.poll(target) + await poller.poll(target)
    devices = [s.fields for s in samples if s.measurement == "device"]
    assert all(d["up"] is True and d["uptime_s"] == 42_000 for d in devices)
    assert devices[0]["cpu_pct"] == 8 and devices[0]["temp_c"] == 45.5
    matched = poller.profile_of("gw")
    assert matched is not None and matched.profile.name == "generic"
    assert [r.message for r in caplog.records if "sysUpTime" in r.message] == [
        "gw: no sysUpTime; rates are timed by hrSystemUptime"
    ]


async def test_an_agent_without_admin_status_still_pages_its_uplink(agents: Agents) -> None:
    """Aruba CX answers no ifAdminStatus: no `admin_up` is written (unknown, not false), and a
    configured uplink that is oper-down pages through the shipped UplinkDown rule."""
    poller = SnmpPoller()
    transport = agents.transport("fake-aruba-cx")
    target = SnmpTarget("lab", "cx", "core", transport, uplinks=frozenset({"1/1/23"}))
    samples = await poller.poll(target)
    ports = {s.tags["ifname"]: s for s in samples if s.measurement == "interface"}
    assert all("admin_up" not in s.fields for s in ports.values())
    uplink = ports["1/1/23"]
    assert uplink.tags["role"] == "uplink" and uplink.fields["oper_up"] is False
    now = [uplink.time_ns / 1e9]
    pages: list[Transition] = []
    engine = AlertEngine(load_rules(), clock=lambda: now[0], on_transition=pages.append)
    engine.observe(samples)
    now[0] += 1
    engine.tick()
    firing = [
        (t.instance.rule, t.instance.labels.get("ifname")) for t in pages if t.state == "firing"
    ]
    assert ("UplinkDown", "1/1/23") in firing, firing


async def test_dell_os9_reads_each_lane_from_its_mib_column(agents: Agents) -> None:
    """DELL-NETWORKING-IF-EXTENSION-MIB: transmit power in .8-.11, receive power in .12-.15,
    bias in .18-.21, one column per lane; a 40G QSFP gives four lanes and its module's own
    temperature and voltage; an SFP+ answers "N/A" for lanes 2-4 and stays one series; the
    empty cage (dellNetIfTransOpticsPresent false; zeros, and the voltage of its powered
    rail) gives nothing."""
    _poller, samples = await poll(agents, "fake-dell-os9")
    optics = {
        (s.tags["ifname"], s.tags.get("lane")): dict(s.fields)
        for s in samples
        if s.measurement == "optics"
    }
    for lane in (1, 2, 3, 4):
        assert optics[("fortyGigE 0/52", str(lane))] == pytest.approx(
            {"tx_dbm": -1.1 - lane / 100, "rx_dbm": -3.2 - lane / 100, "bias_ma": 7 + lane / 100}
        )
    assert optics[("fortyGigE 0/52", None)] == {"temp_c": 36.25, "voltage_v": 3.31}
    assert optics[("TenGigabitEthernet 0/48", None)] == pytest.approx(
        {"tx_dbm": -2.5, "rx_dbm": -5.5, "bias_ma": 6.1, "temp_c": 33.5, "voltage_v": 3.3}
    )
    assert not any(name == "TenGigabitEthernet 0/47" for name, _ in optics)


@pytest.mark.parametrize(
    ("community", "mem_pct"),
    [
        # net-snmp on OS10: Physical memory 97.6 % used, of which buffers and cache are 63.8 %
        ("fake-dell-os10", 100 * (7974017 - 210000 - 5000000) / 8170100),
        ("fake-arista-eos", 100 * (1500000 - 900000 - 100000) / 4000000),  # "RAM (Cache)"...
    ],
)
async def test_memory_in_use_leaves_out_buffers_and_cache(
    agents: Agents, community: str, mem_pct: float
) -> None:
    _poller, samples = await poll(agents, community)
    device = next(s.fields for s in samples if s.measurement == "device")
    assert device["mem_pct"] == pytest.approx(mem_pct, abs=0.001)


async def test_no_reading_conventions_give_no_value(agents: Agents) -> None:
    """The agents' "no reading" through each family's fixture: Junos' -40.00 dBm floor on a
    dark fiber (no rx_dbm, the rest of the module kept) and on the unused lanes of a 100G
    module used as two (lanes 2 and 3 give nothing); Zyxel's empty slot (zeros and floors)
    gives no series; Huawei's empty cage (-255 degC, -1 for the rest) gives none; Arista's
    -1000000000 is its profile's own `invalid:`."""
    _poller, junos = await poll(agents, "fake-juniper-junos")
    optics = {
        (s.tags["ifname"], s.tags.get("lane")): dict(s.fields)
        for s in junos
        if s.measurement == "optics"
    }
    dark = optics[("xe-0/2/4", None)]
    assert "rx_dbm" not in dark and dark["tx_dbm"] == -2.33 and dark["bias_ma"] == 6.9
    assert {lane for name, lane in optics if name == "et-0/1/2"} == {None, "0", "1"}
    _poller, huawei = await poll(agents, "fake-huawei-vrp")  # -1 voltage, bias: shared rule
    huawei_ports = {s.tags["ifname"] for s in huawei if s.measurement == "optics"}
    assert huawei_ports == {"XGigabitEthernet0/0/1", "XGigabitEthernet0/0/2"}
    _poller, zyxel = await poll(agents, "fake-zyxel")
    assert {s.tags["ifname"] for s in zyxel if s.measurement == "optics"} == {"25", "26"}
    _poller, arista = await poll(agents, "fake-arista-eos")
    values = [v for s in arista if s.measurement == "optics" for v in s.fields.values()]
    assert values and all(-50 < float(v) < 200 for v in values)


async def test_fortiswitch_temperature_in_whole_degrees(agents: Agents) -> None:
    """FortiSwitchOS declares precision 1 and sends whole degrees: 40 and 46 are 40 and 46
    degC (the MIB's rule would give 4.6); its ports have no admin_up (no such column)."""
    _poller, samples = await poll(agents, "fake-fortiswitch")
    device = next(s.fields for s in samples if s.measurement == "device")
    assert device["temp_c"] == 46 and device["cpu_pct"] == 7
    assert device["mem_pct"] == pytest.approx(100 * 171036 / 491048, abs=0.001)
    ports = [s.fields for s in samples if s.measurement == "interface"]
    assert ports and all("admin_up" not in fields for fields in ports)
