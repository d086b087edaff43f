"""The shipped profiles for families that fell to `generic` (HPE Comware, D-Link,
TP-Link JetStream, Cisco Small Business, Eltex MES, Allied Telesis AlliedWare Plus), each
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
}


@pytest.mark.parametrize("community", sorted(CASES))
async def test_family_profile_reads_cpu_memory_temperature(agents: Agents, community: str) -> None:
    poller = SnmpPoller()
    samples = await poller.poll(SnmpTarget("lab", community, "access", agents.transport(community)))
    profile, expected = CASES[community]
    device = next(s.fields for s in samples if s.measurement == "device")
    assert device["profile"] == profile, poller.profile_of(community)
    assert {k: device.get(k) for k in expected} == pytest.approx(expected), device
