"""A simulated switch with 20,000 ports renamed at every poll, beside an ordinary one, polled by
edumon as a real process: the renamed switch gets at most `max_interfaces_per_device` interface
series, the rest are refused and counted (/metrics, /healthz `degraded`), the
InterfaceLimitReached alert fires, and the ordinary switch's every poll reaches InfluxDB
within 10 s throughout."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from gateway.devstack.servers import InfluxDB1, free_port
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.switch import SimSwitch
from tests.processes import start_edumon

pytestmark = [pytest.mark.integration, pytest.mark.slow]
COMMUNITY = "test-only-community"
INTERVAL_S = 10
RUN_S = 45


def config(tmp_path: Path, influxdb: InfluxDB1, fleet: SnmpFleet) -> Path:
    big, small = fleet.addresses["big"], fleet.addresses["small"]
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"""
service: {{state_dir: {tmp_path / "state"}}}
influxdb: {{url: {influxdb.url}, database: cap, flush_interval_s: 0.5}}
snmp: {{interval_s: {INTERVAL_S}, timeout_s: 3, retries: 1, max_repetitions: 100}}
credentials: {{snmp: {{v2: {{version: 2c, community_env: SNMP_COMMUNITY}}}}}}
sites:
  - id: vsk-1
    name: School
    devices:
      - {{kind: switch, id: big, role: access, address: 127.0.0.1, port: {big[1]},
          credentials: v2}}
      - {{kind: switch, id: small, role: core, address: 127.0.0.1, port: {small[1]},
          credentials: v2}}
"""
    )
    return path


def get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return str(response.read().decode())


def query(influxdb: InfluxDB1, text: str) -> list[list[Any]]:
    series = influxdb.query(text, db="cap")["results"][0].get("series")
    return list(series[0]["values"]) if series else []


def metric(metrics: str, prefix: str) -> float:
    return next(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(prefix))


async def test_a_renaming_switch_is_capped_and_the_other_keeps_flowing(
    influxdb: InfluxDB1, tmp_path: Path
) -> None:
    influxdb.create_database("cap")
    boot = time.time() - 3600
    big = SimSwitch("big", seed=1, boot=boot, access_ports=20_000, old=True)
    big.faults.rename_every_s = INTERVAL_S
    fleet = SnmpFleet(
        [(big, "127.0.0.1", 0), (SimSwitch("small", seed=2, boot=boot), "127.0.0.1", 0)],
        COMMUNITY.encode(),
    )
    await fleet.start()
    port = free_port()
    edumon = start_edumon(
        config(tmp_path, influxdb, fleet), port, environ={"SNMP_COMMUNITY": COMMUNITY}
    )
    latencies: dict[int, float] = {}  # each poll of `small` -> seconds until it was stored
    try:
        deadline = time.monotonic() + RUN_S
        while time.monotonic() < deadline:
            stored = query(influxdb, "SELECT \"up\" FROM device WHERE device = 'small'")
            for stamp_ns, _ in stored:  # the poll's time -> when it was first seen stored
                latencies.setdefault(stamp_ns, time.time() - stamp_ns / 1e9)
            await asyncio.sleep(0.5)
        metrics = await asyncio.to_thread(get, port, "/metrics")
        health = json.loads(await asyncio.to_thread(get, port, "/healthz"))
        status = json.loads(await asyncio.to_thread(get, port, "/status"))
    finally:
        edumon.send_signal(signal.SIGTERM)
        edumon.communicate(timeout=20)
        fleet.close()
    refused = metric(metrics, 'edumon_bound_refused_total{bound="snmp_interfaces_per_device"}')
    print(
        f"small: {len(latencies)} polls, stored after at most {max(latencies.values()):.2f} s; "
        f"big: {refused:.0f} names refused"
    )
    big_names = query(
        influxdb, "SHOW TAG VALUES FROM interface WITH KEY = ifname WHERE device = 'big'"
    )
    assert 0 < len(big_names) <= 1000
    assert (
        metric(metrics, 'edumon_bound_refused_total{bound="snmp_interfaces_per_device"}') >= 19_000
    )
    assert metric(metrics, 'edumon_bound_used{bound="snmp_interfaces_per_device"}') == 1000
    assert health["components"]["snmp"]["status"] == "degraded"
    assert "big" in health["components"]["snmp"]["detail"]
    firing = {(a["alertname"], a["device"]) for a in status["alerts"]}
    assert ("InterfaceLimitReached", "big") in firing
    assert len(latencies) >= RUN_S // INTERVAL_S - 1  # every poll of `small` was stored
    assert max(latencies.values()) < 10, latencies
