"""Profiles in the Datadog/Kentik/Netdata format (tests/fixtures/ecosystem, written by this
project) against snmpsim serving an invented vendor: a mixin through `extends`, an exact
sysObjectID beating a wildcard, scalars and tables, `scale_factor`, `mapping`, an `index`
tag and a column of another table through `index_transform`; CPU, memory, temperature and
fans land in `device`, the vendor's other metrics in `snmp_metric`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from collectors.snmp.poller import METRIC_LIMIT, SnmpPoller, SnmpTarget
from collectors.snmp.profiles import load_profiles
from gateway.sample import Sample

if TYPE_CHECKING:  # imported as a plugin below, not here (pytest rewrites its asserts)
    from tests.snmpsim_lab import Agents

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.snmpsim_lab"]  # its fixtures: snmpsim, agents
LIBRARY = Path(__file__).parents[1] / "fixtures" / "ecosystem"
COMMUNITY = "fake-acme-ecosystem"


async def poll(agents: Agents, limit: int = 2000) -> tuple[SnmpPoller, list[Sample]]:
    poller = SnmpPoller(profiles=load_profiles([LIBRARY]))
    target = SnmpTarget("lab", "acme", "access", agents.transport(COMMUNITY), metric_limit=limit)
    return poller, await poller.poll(target)


async def test_an_ecosystem_profile_feeds_device_fields_and_snmp_metric(agents: Agents) -> None:
    poller, samples = await poll(agents)
    matched = poller.profile_of("acme")
    assert matched is not None and matched.profile.name == "acme-switch-48", matched
    assert "acme-switch-48.yaml" in matched.why and "under 1.3.6.1.4.1.99991.1.48" in matched.why
    device = next(s.fields for s in samples if s.measurement == "device")
    assert device["profile"] == "acme-switch-48"
    assert device["cpu_pct"] == 23  # cpu.usage, from the mixin
    assert device["mem_pct"] == 30.0  # memory.used / (memory.used + memory.free)
    assert device["temp_c"] == 45.5  # the hottest of 412 and 455 tenths (scale_factor 0.1)
    assert device["fans_failed"] == 1  # ok, failed, notPresent (by the enum's names)
    assert (device["vendor"], device["os_version"]) == ("acme", "3.2.1")  # metadata
    metrics = {
        tuple(sorted((k, v) for k, v in s.tags.items() if k not in ("site", "device"))): s.fields[
            "value"
        ]
        for s in samples
        if s.measurement == "snmp_metric" and s.tags["site"] == "lab" and s.tags["device"] == "acme"
    }
    power = (("metric", "acmePoePortPower"), ("slot", "1"))
    assert metrics == {
        (("metric", "acmeUptimeHours"),): 1234,
        (("interface", "ge-1"), *power[:1], ("poe_class", "class2"), *power[1:]): 4.5,
        (("interface", "ge-2"), *power[:1], ("poe_class", "class4"), *power[1:]): 15.4,
    }
    assert {s.tags["ifname"] for s in samples if s.measurement == "interface"} == {"ge-1", "ge-2"}


async def test_snmp_metric_is_bounded_per_device_and_the_rest_counted(agents: Agents) -> None:
    poller, samples = await poll(agents, limit=1)
    assert len([s for s in samples if s.measurement == "snmp_metric"]) == 1
    assert poller.discarded[METRIC_LIMIT] == 2
    device = next(s.fields for s in samples if s.measurement == "device")
    assert device["metrics_left_out"] == 2
