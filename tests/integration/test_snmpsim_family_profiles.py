"""The shipped profiles for families that fell to `generic` (HPE Comware, D-Link,
TP-Link JetStream, Cisco Small Business, Eltex MES, Allied Telesis AlliedWare Plus; and
Alcatel-Lucent OmniSwitch AOS 7, learnt from LibreNMS's recordings), each
against snmpsim serving a fixture with the rows that family answers (written from the
vendor's MIB): the profile matches, and CPU, memory and temperature come from the right
rows and columns."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from collectors.snmp.poller import SnmpPoller, SnmpTarget

if TYPE_CHECKING:  # imported as a plugin below, not here (pytest rewrites its asserts)
    from tests.snmpsim_lab import Agents

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.snmpsim_lab"]  # its fixtures: snmpsim, agents

# fixture -> (profile, the device fields expected; None: not answered by that family)
CASES = {
    # CPU and memory of boards 0 and 1 only (the "Slot" container answers 0); the hottest of
    # the boards and the sensor, not the 0 and 65535 of entities without one
    "fake-hpe-comware": ("hpe-comware", {"cpu_pct": 10.0, "mem_pct": 35.0, "temp_c": 45.0}),
    # the 1-minute CPU, not the 5-second one (40)
    "fake-dlink": ("dlink", {"cpu_pct": 17.0, "mem_pct": 61.0, "temp_c": 44.0}),
    "fake-tplink-jetstream": ("tplink-jetstream", {"cpu_pct": 12.0, "mem_pct": 57.0}),
    # column 10 on this firmware (9 is the sixth fan's status)
    "fake-cisco-sb": ("cisco-sb", {"cpu_pct": 9.0, "temp_c": 36.0}),
    # the older RADLAN MIB: column 9 is the temperature, 10 its status
    "fake-eltex-mes21xx": ("eltex-mes21xx", {"cpu_pct": 14.0, "temp_c": 33.0}),
    "fake-allied-awplus": ("allied-awplus", {"cpu_pct": 6.0, "temp_c": 45.0}),
    # snAgentTempValue counts half degrees: the hottest sensor, 110, is 55 degC
    "fake-ruckus-icx": ("ruckus-icx", {"cpu_pct": 9.0, "mem_pct": 47.0, "temp_c": 55.0}),
    # 110,000 of 200,000 kB allocated
    "fake-hirschmann": ("hirschmann", {"cpu_pct": 42.0, "mem_pct": 55.0, "temp_c": 43.0}),
    # two stack units: 1-minute CPU 12 and 18; 320 of 512 MB in use; 86 half degrees
    "fake-extreme-boss": ("extreme-boss", {"cpu_pct": 15.0, "mem_pct": 62.5, "temp_c": 43.0}),
    # RADLAN: the minute's CPU (not the last second's 89); temperature in column 9
    "fake-dell-powerconnect": ("dell-powerconnect", {"cpu_pct": 21.0, "temp_c": 45.0}),
    # Aricent ISS, not RADLAN: the 1-minute CPU (not the 5-second 40)
    "fake-eltex-mes24xx": ("eltex-mes24xx", {"cpu_pct": 6.0, "mem_pct": 43.0, "temp_c": 37.0}),
    # the mean of the slots' 1-minute averages; the hotter chassis
    "fake-alcatel-aos7": ("alcatel-aos7", {"cpu_pct": 26.0, "mem_pct": 56.0, "temp_c": 42.0}),
}


@pytest.mark.parametrize("community", sorted(CASES))
async def test_family_profile_reads_cpu_memory_temperature(agents: Agents, community: str) -> None:
    poller = SnmpPoller()
    samples = await poller.poll(SnmpTarget("lab", community, "access", agents.transport(community)))
    profile, expected = CASES[community]
    device = next(s.fields for s in samples if s.measurement == "device")
    assert device["profile"] == profile, poller.profile_of(community)
    assert {k: device.get(k) for k in expected} == pytest.approx(expected), device


async def test_omniswitch_optics_per_port_and_channel(agents: Agents) -> None:
    """ddmPortInfoTable: an SFP (one channel) is one series; a QSFP gives one per lane."""
    target = SnmpTarget("lab", "aos7", "access", agents.transport("fake-alcatel-aos7"))
    samples = await SnmpPoller().poll(target)
    optics = {
        (s.tags["ifname"], s.tags.get("lane")): dict(s.fields)
        for s in samples
        if s.measurement == "optics"
    }
    assert optics[("1/1/25", None)] == pytest.approx(
        {
            "temp_c": 40.125,
            "voltage_v": 3.283,
            "bias_ma": 4.466,
            "tx_dbm": -4.986,
            "rx_dbm": -5.212,
            "rx_dbm_low_alarm": -18.0,
            "rx_dbm_high_alarm": 0.0,
        }
    )
    lanes = {lane: fields for (name, lane), fields in optics.items() if name == "1/1/26"}
    assert [lanes[str(n)]["rx_dbm"] for n in (1, 2, 3, 4)] == [-2.1, -2.2, -2.3, -2.4]
    assert [lanes[str(n)]["tx_dbm"] for n in (1, 2, 3, 4)] == [-1.0, -1.1, -1.2, -1.3]
