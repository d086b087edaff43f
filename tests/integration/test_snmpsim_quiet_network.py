"""A quiet network through the real alert engine with the default rules: every fixture
(admin-down and unused 10G ports, Junos logical units, VLAN and loopback rows) polled from
snmpsim raises no UplinkDown; an uplink the config names that is really down does."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from collectors.snmp.poller import SnmpPoller, SnmpTarget
from gateway.alerts.engine import AlertEngine
from gateway.alerts.rules import load_rules
from gateway.sample import Sample

if TYPE_CHECKING:  # imported as a plugin below, not here (pytest rewrites its asserts)
    from tests.snmpsim_lab import Agents

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.snmpsim_lab"]  # its fixtures: snmpsim, agents


def target(agents: Agents, community: str, uplinks: frozenset[str] = frozenset()) -> SnmpTarget:
    connection = agents.transport(community)
    return SnmpTarget("school", community, "access", connection, uplinks=uplinks)


async def run_through_engine(
    poller: SnmpPoller, targets: list[SnmpTarget], polls: int = 3
) -> tuple[AlertEngine, list[Sample]]:
    now = [1_000_000.0]
    engine = AlertEngine(load_rules(), clock=lambda: now[0])
    samples: list[Sample] = []
    for _ in range(polls):
        for t in targets:
            batch = await poller.poll(t)
            engine.observe(batch)
            samples += batch
        now[0] += 60
        engine.tick()
    return engine, samples


def uplink_down(engine: AlertEngine) -> list[dict[str, str]]:
    return [
        i.labels
        for i in engine.instances.values()
        if i.rule == "UplinkDown" and i.state in ("pending", "firing")
    ]


async def test_a_quiet_network_pages_nobody(agents: Agents) -> None:
    poller = SnmpPoller()
    targets = [target(agents, c) for c in agents.communities]
    engine, samples = await run_through_engine(poller, targets)
    assert uplink_down(engine) == []
    ports = {
        (s.tags["device"], s.tags["ifname"]): (s.tags["role"], s.fields)
        for s in samples
        if s.measurement == "interface"
    }
    uplinks = {key for key, (role, _) in ports.items() if role == "uplink"}
    # the uplinks are the ports whose ifAlias says so, never a port for its speed
    assert ("fake-juniper-junos", "ae0") in uplinks and ("fake-cisco-ios", "Te1/1/1") in uplinks
    assert ("fake-cisco-ios", "Te1/1/2") not in uplinks  # 10G, but "to library"
    assert all(ports[key][1]["oper_up"] is True for key in uplinks)
    unused, shut = (
        ports[("fake-juniper-junos", "xe-0/2/2")],
        ports[("fake-juniper-junos", "xe-0/2/3")],
    )
    assert unused[0] == "access" and unused[1]["speed_mbps"] == 10_000
    assert shut[1]["admin_up"] is False and shut[1]["oper_up"] is False
    # Junos logical units, VLAN, loopback and sub-interface rows are not ports
    names = {name for _, name in ports}
    assert not names & {"ae0.0", "xe-0/2/0.0", "et-0/1/0.0", "lo0", "vlan", "Vl10", "Lo0"}
    assert "Te1/1/1.200" not in names and "Vlanif10" not in names
    # LAGs are ports, also where IOS calls its port-channels propVirtual like a VLAN
    assert ("fake-juniper-junos", "ae0") in ports and ("fake-cisco-ios", "Po1") in ports


async def test_a_configured_uplink_that_is_down_pages(agents: Agents) -> None:
    poller = SnmpPoller()
    down = target(agents, "fake-cisco-ios", uplinks=frozenset({"Gi1/0/2"}))
    engine, _ = await run_through_engine(poller, [down], polls=1)
    assert [labels["ifname"] for labels in uplink_down(engine)] == ["Gi1/0/2"]
