"""The whole chain on the simulated city network (simulators/snmp/city.py): edumon's SNMP
discovery reads LLDP, forwarding and PoE tables, the topology learns the wiring (no `links:`
in the config), and the shipped rules page once for a failed aggregation switch, hold the
schools behind it but not the dual-homed one, and raise PoePortFault for an exhibit's port.

Time is scaled: polls and discovery rounds every POLL_S = 4 s (30-60 s and 5 min in a city);
a switch pages after two missed polls (`for` 8 s instead of 0 s, against a loaded test
machine's occasional missed poll).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from rich.console import Console

from gateway.config import load_config
from gateway.plugins import PLUGINS
from gateway.service import Service
from gateway.status_view import render_status
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.city import CityNetwork
from simulators.snmp.run import city_fleet
from simulators.snmp.wiring import city_wiring
from tests.alert_rules import rules_with
from tests.sim_city import city_sites_yaml

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COMMUNITY = "sim-topology-city"
POLL_S = 4.0
SCHOOLS = 6
DUAL_HOMED = "school-2"


def city_yaml(tmp_path: Path) -> str:
    two_polls = {"for": f"{2 * POLL_S}s"}
    rules = rules_with(
        tmp_path / "rules.yaml",
        {"CoreSwitchUnreachable": two_polls, "SwitchUnreachable": two_polls},
    )
    return (
        f"service: {{state_dir: {tmp_path / 'state'}, http_listen: '127.0.0.1:0'}}\n"
        "influxdb: {url: 'http://127.0.0.1:9', api: v1, database: edumon}\n"
        f"snmp: {{interval_s: {POLL_S}, discovery_interval_s: {POLL_S}, timeout_s: 1,"
        " retries: 1}\n"
        f"alerts: {{rules_file: {rules}}}\n"
        "credentials:\n  snmp:\n    lab: {version: 2c, community_env: EDUMON_TEST_COMMUNITY}\n"
        "topology: {roots: [core-1, core-2], settle_s: 20, recovery_grace_s: 8}\n"
    ) + city_sites_yaml(SCHOOLS, DUAL_HOMED, ring_kind="science_centre")


async def running(tmp_path: Path) -> AsyncIterator[tuple[Service, SnmpFleet, CityNetwork]]:
    path = tmp_path / "edumon.yaml"
    path.write_text(city_yaml(tmp_path))
    config = load_config(path, PLUGINS, {"EDUMON_TEST_COMMUNITY": COMMUNITY})
    fleet = city_fleet(config, COMMUNITY.encode(), seed=5)
    await fleet.start()
    assert fleet.city is not None
    wiring = city_wiring(config)
    service = Service(config, PLUGINS)
    stop = asyncio.Event()
    runner = asyncio.create_task(service.run(stop))
    try:
        await service.started.wait()
        async with asyncio.timeout(60):  # every link learned, every switch answering
            while True:
                learned = [k for k in service.topology.model.links if k.learned == "lldp"]
                up = [s for s in service.topology.states.values() if s.up]
                if len(learned) >= len(wiring.links) and len(up) == 4 + 2 * SCHOOLS:
                    break
                await asyncio.sleep(0.2)
        yield service, fleet, fleet.city
    finally:
        stop.set()
        await runner
        fleet.close()


@pytest.fixture
async def city(tmp_path: Path) -> AsyncIterator[tuple[Service, SnmpFleet, CityNetwork]]:
    async for running_city in running(tmp_path):
        yield running_city


def pages(service: Service) -> list[tuple[str, str | None]]:
    """The pages about the city's devices (this test runs no MQTT broker: IntakeDown is
    edumon's own, about that)."""
    engine = service.alerting.engine
    return sorted(
        (i.rule, i.labels.get("device"))
        for i in engine.instances.values()
        if i.state in ("firing", "resolved")
        and engine.rules[i.rule].severity == "page"
        and i.rule != "IntakeDown"
    )


async def test_a_failed_aggregation_switch_pages_once_on_the_learned_topology(
    city: tuple[Service, SnmpFleet, CityNetwork],
) -> None:
    service, fleet, network = city
    model = service.topology.model
    schools = {p for p in model.neighbours("agg-1") if p.endswith("-core")}
    single = {s for s in schools if set(model.neighbours(s)) & {"agg-1", "agg-2"} == {"agg-1"}}
    assert single and "s2-core" in {p for p in model.neighbours("agg-2")} & schools
    silent = single | {s.replace("core", "access") for s in single}
    network.fail("agg-1")
    for name in silent:  # cut off with it
        fleet[name].faults.silent = True
    await asyncio.sleep(6 * POLL_S)
    assert pages(service) == [("CoreSwitchUnreachable", "agg-1")]
    notes = service.topology.annotations("agg-1")
    assert notes["schools_behind"] == str(len(single))
    # each school: its core, access switch, AP and exhibit
    assert notes["devices_behind"] == str(4 * len(single))
    assert "s2-core" not in service.topology.held
    network.recover("agg-1")
    for name in silent:
        fleet[name].faults.silent = False
    await asyncio.sleep(5 * POLL_S)
    assert pages(service) == [("CoreSwitchUnreachable", "agg-1")]
    assert not service.topology.held


async def test_an_exhibit_port_in_poe_fault_raises_poe_port_fault(
    city: tuple[Service, SnmpFleet, CityNetwork],
) -> None:
    service, _, network = city
    attachment = service.topology.model.attachments["s1-exhibit"]
    assert (attachment.switch, attachment.ifname) == ("s1-access", "Gi1/0/2")
    network.poe_fault("s1-access", 2)
    engine = service.alerting.engine
    async with asyncio.timeout(6 * POLL_S):
        while True:
            firing = [i for i in engine.firing() if engine.rules[i.rule].alert == "PoePortFault"]
            if firing:
                break
            await asyncio.sleep(0.2)
    (alert,) = firing
    assert alert.labels == {
        "site": "school-1",
        "device": "s1-access",
        "ifname": "Gi1/0/2",
        "feeds": "s1-exhibit",
    }
    await asyncio.sleep(POLL_S + 1)  # a poll of the switch since: the port's link state
    notes = service.alerting.annotations_of(alert.labels)
    assert notes["poe_status"] == "fault" and notes["port"] == "Gi1/0/2"
    assert notes["port_oper"] == "down"  # the port lost its link with the power
    assert "s1-exhibit" in service.topology.held
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(render_status(service.status.snapshot()))
    screen = console.export_text()
    assert "Failed s1-access:Gi1/0/2 (switch s1-access port Gi1/0/2 down, PoE fault)" in screen
