"""Discovery against snmpsim serving fixtures shaped like real recordings of the shipped
vendor families (tests/fixtures/snmprec/fake-*-discovery.snmprec, written for edumon):

- a Catalyst 2960-X (cisco-ios): CDP neighbours (one of them the switch itself), BRIDGE-MIB
  forwarding rows, POWER-ETHERNET-MIB ports named Gi1/0/<port> by the profile and their power
  from CISCO-POWER-ETHERNET-EXT-MIB;
- an Aruba 2530 (hpe-procurve): LLDP with local port IDs, a network-address chassis and a MAC
  port ID, a neighbour pointing at itself, Q-BRIDGE-MIB forwarding databases looked up by MAC,
  PoE ports by ifIndex with HP-ICF-POE-MIB power, at 92 % of its budget."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from collectors.snmp.discovery.poe_profile import PoeProfile
from collectors.snmp.discovery.reader import DiscoveryPoller, DiscoveryTarget
from collectors.snmp.poller import SnmpPoller, SnmpTarget
from gateway.sample import Sample
from gateway.topology.observations import Discovery

if TYPE_CHECKING:
    from tests.snmpsim_lab import Agents

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.snmpsim_lab"]
AP, EXHIBIT = "00:3a:7d:21:0b:11", "dc:a6:32:00:00:01"


async def discover(
    agents: Agents, community: str, macs: set[str]
) -> tuple[str, Discovery, list[Sample]]:
    """The profile the counter poll matched, the discovery round, its poe samples."""
    transport = agents.transport(community)
    poller = SnmpPoller()
    await poller.poll(SnmpTarget("lab", community, "access", transport))
    matched = poller.profile_of(community)
    assert matched is not None

    def poe_profile_of(_device: str) -> PoeProfile | None:
        return matched.profile.poe

    seen: list[Discovery] = []
    discovery = DiscoveryPoller(observe=seen.append, poe_profile_of=poe_profile_of)
    samples = await discovery.poll(
        DiscoveryTarget("lab", community, transport, macs=frozenset(macs))
    )
    (found,) = seen
    return matched.profile.name, found, samples


def poe_fields(samples: list[Sample]) -> dict[str | None, dict[str, object]]:
    return {s.tags.get("ifname"): dict(s.fields) for s in samples if s.measurement == "poe"}


async def test_a_catalyst_with_cdp_bridge_forwarding_and_cisco_poe(agents: Agents) -> None:
    profile, found, samples = await discover(agents, "fake-cisco-ios-discovery", {AP})
    assert profile == "cisco-ios"
    neighbours = {
        (n.local_ifname, n.sys_name, n.port_id, n.mgmt_addresses) for n in found.neighbours
    }
    assert neighbours == {
        ("Gi1/0/3", "lab-ap-011", "GigabitEthernet0", ("192.0.2.111",)),
        ("Te1/0/1", "city-agg-1.example.net", "TenGigabitEthernet1/1/3", ("192.0.2.2",)),
    }
    assert {n.protocol for n in found.neighbours} == {"cdp"}
    assert found.counts.refused == 1  # the row that is the switch itself
    # BRIDGE-MIB only (IOS keeps a VLAN's table behind community@vlan): walked, not looked up
    assert [(m.mac, m.ifname, m.source) for m in found.macs] == [(AP, "Gi1/0/3", "fdb")]
    poe = poe_fields(samples)
    assert poe[None] == {"budget_w": 370.0, "power_w": 12.0, "used_pct": 3.24}
    assert poe["Gi1/0/3"] == {"status": "deliveringPower", "power_w": 6.952, "class": 4}
    assert poe["Gi1/0/6"] == {"status": "fault", "power_w": 0.0, "class": 0}
    assert poe["Gi1/0/7"]["status"] == "disabled"
    assert [p.admin_up for p in found.poe_ports if p.ifname == "Gi1/0/7"] == [False]


async def test_an_aruba_2530_with_lldp_q_bridge_and_hp_poe(agents: Agents) -> None:
    profile, found, samples = await discover(agents, "fake-hpe-procurve-discovery", {EXHIBIT})
    assert profile == "hpe-procurve"
    by_port = {n.local_ifname: n for n in found.neighbours}
    assert set(by_port) == {"49", "5"}  # port 7's neighbour is the switch's own chassis
    agg, exhibit = by_port["49"], by_port["5"]
    assert (agg.chassis_id, agg.chassis_id_subtype) == ("f4:03:43:aa:01:01", "macAddress")
    assert (agg.sys_name, agg.port_id, agg.mgmt_addresses) == (
        "city-agg-2",
        "1/1/47",
        ("192.0.2.3",),
    )
    assert (exhibit.chassis_id, exhibit.chassis_id_subtype) == ("192.0.2.104", "networkAddress")
    assert (exhibit.port_id, exhibit.port_id_subtype) == ("dc:a6:32:00:00:01", "macAddress")
    assert found.counts.refused == 1
    # the exhibit's MAC is in VLAN 1 at its edge port and in VLAN 20 behind the uplink
    located = {m.mac: (m.ifname, m.vlan) for m in found.macs}
    assert located[EXHIBIT] == ("5", 1)
    assert located["f4:03:43:aa:01:01"] == ("49", 1)  # the neighbour's chassis MAC
    poe = poe_fields(samples)
    assert poe[None] == {"budget_w": 375.0, "power_w": 345.0, "used_pct": 92.0}  # PoeBudgetHigh
    assert poe["3"] == {"status": "deliveringPower", "power_w": 15.4, "class": 4}
    assert poe["6"]["status"] == "otherFault"
