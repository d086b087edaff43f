"""The simulated fleet as a city network (simulators/snmp/city.py) read by edumon's discovery
over real UDP: two city cores, two aggregation switches, four schools (one dual-homed), APs
and exhibits with MACs; the topology model built from the discovery rounds is the wiring
derived from the config, and the city's faults (an aggregation switch failing, a PoE port
fault, a budget overrun) show in the next round, also through `edumon demo fault`. A GETBULK
past the last object answers endOfMibView."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from collectors.snmp import ber
from collectors.snmp.client import UdpSockets, V2cTransport
from gateway.config import EdumonConfig, load_config
from gateway.devstack.demo_control import FaultControl, request_faults
from gateway.devstack.demo_faults import DemoWorld
from gateway.plugins import PLUGINS
from gateway.sample import Sample
from gateway.topology.model import TopologyModel
from gateway.topology.observations import Discovery
from simulators.lorawan.network_server import NetworkServerSimulator
from simulators.mqtt.devices import DeviceFleet
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.city import CityNetwork
from simulators.snmp.run import city_fleet
from simulators.snmp.scenario import Scenario, run_events
from simulators.snmp.wiring import city_wiring, port_name
from tests.discovery_rounds import DiscoveryRounds
from tests.sim_city import city_sites_yaml

pytestmark = pytest.mark.integration
COMMUNITY = "sim-topology-test"
SCHOOLS = 4
DUAL_HOMED = "school-2"


def city_yaml() -> str:
    return (
        "service: {name: edumon-sim-topology}\n"
        "influxdb: {url: 'http://127.0.0.1:9', api: v1, database: edumon}\n"
        "credentials:\n  snmp:\n    lab: {version: 2c, community_env: EDUMON_TEST_COMMUNITY}\n"
        "topology: {roots: [core-1, core-2]}\n"
    ) + city_sites_yaml(SCHOOLS, DUAL_HOMED, switch_options=", timeout_s: 0.5, retries: 0")


@dataclass
class City:
    config: EdumonConfig
    fleet: SnmpFleet
    network: CityNetwork
    rounds: DiscoveryRounds

    @property
    def model(self) -> TopologyModel:
        return self.rounds.model

    @property
    def seen(self) -> dict[str, Discovery]:
        return self.rounds.seen

    async def discover(self) -> list[Sample]:
        return await self.rounds.round()


@pytest.fixture
async def city(tmp_path: Path) -> AsyncIterator[City]:
    path = tmp_path / "edumon.yaml"
    path.write_text(city_yaml())
    config = load_config(path, PLUGINS, {"EDUMON_TEST_COMMUNITY": COMMUNITY})
    fleet = city_fleet(config, COMMUNITY.encode(), seed=5)
    await fleet.start()
    assert fleet.city is not None
    rounds = DiscoveryRounds(config)
    yield City(config, fleet, fleet.city, rounds)
    rounds.close()
    fleet.close()


async def test_discovery_of_the_simulated_city_is_the_wiring(city: City) -> None:
    wiring = city_wiring(city.config)
    expected = {
        frozenset({(a.switch, port_name(a.if_index)), (b.switch, port_name(b.if_index))})
        for a, b in wiring.links
    }
    await city.discover()
    assert city.rounds.links() == expected
    # 1 ring link, 2 x 2 aggregation-root links, 5 school uplinks, 4 access-core links
    assert len(expected) == 1 + 4 + SCHOOLS + 1 + SCHOOLS
    dual = {peer for peer in city.model.neighbours("s2-core") if peer.startswith("agg")}
    assert dual == {"agg-1", "agg-2"}
    attachments = city.model.snapshot()["attachments"]
    # each device at its access switch's edge port, not behind the core's trunk
    placed = {d: (a["switch"], a["ifname"]) for d, a in attachments.items()}
    for n in range(1, SCHOOLS + 1):
        assert placed[f"s{n}-ap"] == (f"s{n}-access", "Gi1/0/1")
        assert placed[f"s{n}-exhibit"] == (f"s{n}-access", "Gi1/0/2")
    assert all(d.counts.refused == 0 for d in city.seen.values())


async def test_an_aggregation_switch_fails_and_recovers(city: City) -> None:
    await city.discover()
    city.network.fail("agg-1")
    await city.discover()
    # its neighbours' LLDP entries for it aged out; only its own last round still reports
    # its links (the model keeps them: they say what is behind the failed switch)
    for name in ("core-1", "core-2", "s1-core", "s2-core", "s3-core"):
        assert "agg-1" not in {n.sys_name for n in city.seen[name].neighbours}
    reporters = [
        k["reporters"] for k in city.model.snapshot()["links"] if "agg-1" in (k["a"], k["b"])
    ]
    assert reporters and all(r == ["agg-1"] for r in reporters)
    city.network.recover("agg-1")
    await city.discover()
    assert {n.sys_name for n in city.seen["core-1"].neighbours} >= {"agg-1", "agg-2"}


async def test_poe_port_fault_and_budget_overrun(city: City) -> None:
    samples = await city.discover()
    poe = {
        (s.tags["device"], s.tags.get("ifname")): dict(s.fields)
        for s in samples
        if s.measurement == "poe"
    }
    assert poe["s1-access", "Gi1/0/1"] == {"status": "deliveringPower", "class": 4}
    assert poe["s1-access", "Gi1/0/3"] == {"status": "searching", "class": 0}
    assert poe["s1-access", None] == {"budget_w": 370.0, "power_w": 16.0, "used_pct": 4.32}
    city.network.poe_fault("s1-access", 2)  # the exhibit's port
    city.network.poe_overrun("s2-access", 330)
    samples = await city.discover()
    poe = {
        (s.tags["device"], s.tags.get("ifname")): dict(s.fields)
        for s in samples
        if s.measurement == "poe"
    }
    assert poe["s1-access", "Gi1/0/2"]["status"] == "fault"
    assert poe["s1-access", None]["power_w"] == 10.0  # only the AP's 10.5 W, rounded
    # 10.5 + 6 + 330 W drawn of 370 (the agent rounds to whole watts: 346)
    assert poe["s2-access", None] == {"budget_w": 370.0, "power_w": 346.0, "used_pct": 93.51}
    fed = city.model.poe_of("s1-exhibit")
    assert fed is not None and fed.detection == "fault"


async def test_a_walk_past_the_last_object_answers_end_of_mib_view(city: City) -> None:
    host, port = city.fleet.addresses["s1-core"]
    sockets = UdpSockets()
    try:
        agent = V2cTransport(sockets, "s1-core", host, port, COMMUNITY.encode(), timeout_s=1)
        past = [ber.encode_oid("1.3.6.1.6.3.1"), ber.encode_oid("1.3.6.1.2.1.105.9")]
        answer = await agent.bulk(past, 5)
        assert [vb.tag for vb in answer] == [ber.END_OF_MIB_VIEW] * 2
        assert [vb.oid for vb in answer] == past
    finally:
        sockets.close()


async def test_the_demos_city_faults_through_edumon_demo_fault(city: City, tmp_path: Path) -> None:
    """`edumon demo fault` poe-fault, poe-overrun and switch-fail act on the city network;
    a device no PoE port feeds is refused with the reason."""
    devices = DeviceFleet("127.0.0.1", 1, [])
    sensors = NetworkServerSimulator("127.0.0.1", 1, [])
    control = FaultControl(tmp_path, DemoWorld(city.fleet, devices, sensors, time.time))
    running = asyncio.create_task(control.run())
    try:
        wanted = [
            ("poe-fault", "s1-exhibit"),
            ("poe-overrun", "s3-core"),  # powers nothing: it gets PoE tables for the fault
            ("switch-fail", "agg-2"),
            ("poe-fault", "s1-core"),
        ]
        state = await asyncio.to_thread(request_faults, tmp_path, wanted)
        assert state is not None
        assert [(e["fault"], e["target"]) for e in state["active"]] == wanted[:3]
        (refused,) = state["refused"]
        assert "no powered_device 's1-core'" in refused["reason"]
        samples = await city.discover()
        poe = {
            (s.tags["device"], s.tags.get("ifname")): s.fields
            for s in samples
            if s.measurement == "poe"
        }
        assert poe["s1-access", "Gi1/0/2"]["status"] == "fault"
        assert poe["s3-core", None]["used_pct"] == 93.24
        assert "agg-2" not in {n.sys_name for n in city.seen["core-1"].neighbours}
        state = await asyncio.to_thread(request_faults, tmp_path, [])
        assert state is not None and state["active"] == []
        samples = await city.discover()
        poe = {
            (s.tags["device"], s.tags.get("ifname")): s.fields
            for s in samples
            if s.measurement == "poe"
        }
        assert poe["s1-access", "Gi1/0/2"]["status"] == "deliveringPower"
        assert poe["s3-core", None]["used_pct"] == 0.0
        assert "agg-2" in {n.sys_name for n in city.seen["core-1"].neighbours}
    finally:
        running.cancel()


async def test_scenario_events_act_on_the_city(city: City) -> None:
    scenario = Scenario.model_validate(
        {
            "events": [
                {"at_s": 0, "switch": "agg-1", "action": "fail"},
                {"at_s": 0, "switch": "s1-access", "action": "poe_fault", "port": 1},
                {"at_s": 0, "switch": "s2-access", "action": "poe_overrun", "watts": 330},
            ]
        }
    )
    events = asyncio.create_task(run_events(city.fleet, scenario))
    try:
        await asyncio.sleep(0.1)
        assert city.network.failed == {"agg-1"} and city.fleet["agg-1"].faults.silent
        assert city.network.poe["s1-access"].faulted == {1}
        assert not city.fleet["s1-access"].oper_up(1)  # the AP lost power and link
        assert city.network.poe["s2-access"].extra_w == 330
    finally:
        events.cancel()
    with pytest.raises(ValueError, match="poe_fault needs a port"):
        Scenario.model_validate({"events": [{"at_s": 0, "switch": "x", "action": "poe_fault"}]})
