"""No value stored that the device did not mean, through snmpsim: the standards `generic`
reads on a switch no profile knows (ENTITY-SENSOR-MIB scale and precision, ENTITY-STATE-MIB
fans and power supplies, entPhySensorOperStatus), the agents' "no reading" values left out,
an implausible reading refused, named by `edumon test` and counted per device in /metrics."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from collectors.snmp.poller import SnmpPoller, SnmpTarget
from gateway.collector import CollectorContext
from gateway.config import load_config
from gateway.metrics import Metrics
from gateway.one_poll import poll_once
from gateway.plugins import PLUGINS

if TYPE_CHECKING:  # imported as a plugin below (pytest rewrites its asserts)
    from tests.snmpsim_lab import Agents

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.snmpsim_lab"]  # its fixtures: snmpsim, agents
SWITCH = "fake-generic-entity"


async def test_an_unknown_switch_gets_the_standards(agents: Agents) -> None:
    refused: list[tuple[str, str, str]] = []
    poller = SnmpPoller(on_refused=lambda *r: refused.append(r))
    samples = await poller.poll(SnmpTarget("lab", "sw", "access", agents.transport(SWITCH)))
    matched = poller.profile_of("sw")
    assert matched is not None and matched.profile.name == "generic"
    device = next(s.fields for s in samples if s.measurement == "device")
    # 41.5 °C (415, precision 1) is the hottest; the broken sensor, the 65535 and 2000 °C
    # are not; one PSU disabled, one fan unknown; the nonoperational sensor counts as failed
    assert {k: device.get(k) for k in ("cpu_pct", "temp_c", "fans_failed", "psus_failed")} == {
        "cpu_pct": 15.0,
        "temp_c": 41.5,
        "fans_failed": 0,
        "psus_failed": 1,
    }
    assert device["sensors_failed"] == 1
    assert device["refused"] == "temp_c=2000 (above 150)"
    assert refused == [("sw", "temp_c", "above 150")]
    optics = {s.tags["ifname"]: dict(s.fields) for s in samples if s.measurement == "optics"}
    # scale micro(7), precision 1: 6310 -> 631.0 µW -> -2.0 dBm; bias milli(8), precision 2
    assert optics == {
        "Ten-GigabitEthernet1/0/25": pytest.approx(
            {"temp_c": 35.12, "voltage_v": 3.3, "bias_ma": 6.12, "tx_dbm": -2.0, "rx_dbm": -3.0},
            abs=0.001,
        )
    }  # 1/0/26's 0 µW is no light to measure, not -40 dBm


async def test_edumon_test_shows_the_refusal_and_metrics_count_it(
    agents: Agents, tmp_path: Path
) -> None:
    config = tmp_path / "edumon.yaml"
    config.write_text(
        "service: {name: edumon-readings-test}\n"
        "influxdb: {url: 'http://127.0.0.1:9', api: v1, database: edumon}\n"
        "credentials:\n  snmp:\n    lab: {version: 2c, community_env: EDUMON_TEST_COMMUNITY}\n"
        "sites:\n  - id: lab\n    name: Lab\n    kind: school\n    devices:\n"
        f"      - {{kind: switch, id: sw, address: {agents.server.host},"
        f" port: {agents.server.port}, credentials: lab}}\n"
    )
    loaded = load_config(config, PLUGINS, {"EDUMON_TEST_COMMUNITY": SWITCH})
    out, err = io.StringIO(), io.StringIO()
    assert await poll_once(loaded, PLUGINS, out=out, err=err) == 0, err.getvalue()
    (line,) = [row for row in out.getvalue().splitlines() if row.startswith("device,")]
    assert 'refused="temp_c=2000 (above 150)"' in line and "temp_c=41.5" in line
    metrics = Metrics()
    (snmp,) = [p for p in PLUGINS if p.name == "snmp"]
    collector = snmp.open(CollectorContext(loaded, metrics))
    try:
        (job,) = [j for j in collector.polled if j.schedule.target_name == "sw"]
        await job.collector.poll(job.target)
    finally:
        collector.close()
    labels = {"device": "sw", "field": "temp_c", "reason": "above 150"}
    assert metrics.registry.get_sample_value("edumon_readings_refused_total", labels) == 1
