"""`edumon test`: one poll of every selected target printed, nothing written to the database,
exit 1 with the reason when a target does not answer."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import pytest

from gateway.devstack.servers import InfluxDB1
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.switch import SimSwitch
from tests.netsnmp import free_udp_port
from tests.processes import REPO

pytestmark = pytest.mark.integration
COMMUNITY = "one-poll-test"


async def edumon(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        *args,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "EDUMON_TEST_COMMUNITY": COMMUNITY},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_edumon_test_prints_each_device_and_writes_nothing(
    tmp_path: Path, influxdb: InfluxDB1
) -> None:
    influxdb.create_database("onepoll")
    now = time.time()
    switches = [
        (SimSwitch("sw-a", seed=1, boot=now - 3600), "127.0.0.1", 0),
        (SimSwitch("sw-b", seed=2, boot=now - 3600), "127.0.0.1", 0),
    ]
    # the simulated switches answer from this process, the first answer of each after building
    # its data (~0.25 s on a loaded machine): the timeout leaves room for that, and sw-dead
    # costs one timeout
    fleet = SnmpFleet(switches, COMMUNITY.encode())
    await fleet.start()
    dead = free_udp_port()
    ports = {name: port for name, (_, port) in fleet.addresses.items()}
    config = tmp_path / "edumon.yaml"
    config.write_text(
        f"""
service: {{state_dir: {tmp_path / "state"}}}
influxdb: {{url: {influxdb.url}, database: onepoll}}
snmp: {{timeout_s: 3, retries: 0}}
credentials: {{snmp: {{v2: {{version: 2c, community_env: EDUMON_TEST_COMMUNITY}}}}}}
sites:
  - id: s
    name: School
    devices:
      - {{kind: switch, id: sw-a, address: 127.0.0.1, port: {ports["sw-a"]}, credentials: v2}}
      - {{kind: switch, id: sw-b, address: 127.0.0.1, port: {ports["sw-b"]}, credentials: v2}}
      - {{kind: switch, id: sw-dead, address: 127.0.0.1, port: {dead}, credentials: v2}}
"""
    )
    try:
        code, out, err = await edumon(
            "test", "-c", str(config), "--device", "sw-a", "--device", "sw-b"
        )
        json_code, json_out, json_err = await edumon("test", "-c", str(config), "--format", "json")
    finally:
        fleet.close()
    assert code == 0, err
    lines = out.splitlines()
    for device in ("sw-a", "sw-b"):
        assert any(line.startswith("device,") and f"device={device}" in line for line in lines)
        assert any(line.startswith("interface,") and f"device={device}" in line for line in lines)
    assert json_code == 1  # sw-dead did not answer
    assert "sw-dead: " in json_err and "sw-a" not in json_err
    records = [json.loads(line) for line in json_out.splitlines()]
    assert {r["tags"]["device"] for r in records if r["measurement"] == "device"} >= {
        "sw-a",
        "sw-b",
    }
    stored = influxdb.query("SELECT count(*) FROM /.*/", db="onepoll")
    assert "series" not in stored["results"][0]  # nothing written
    assert not (tmp_path / "state" / "spool").exists() or not any(
        (tmp_path / "state" / "spool").iterdir()
    )


async def test_a_second_round_has_rates_and_a_silent_switch_is_named_once(tmp_path: Path) -> None:
    switch = SimSwitch("sw-a", seed=1, boot=time.time() - 3600)
    fleet = SnmpFleet([(switch, "127.0.0.1", 0)], COMMUNITY.encode())
    await fleet.start()
    port, dead = fleet.addresses["sw-a"][1], free_udp_port()
    config = tmp_path / "edumon.yaml"
    config.write_text(
        f"""
service: {{state_dir: {tmp_path / "state"}}}
snmp: {{timeout_s: 2, retries: 0}}
credentials: {{snmp: {{v2: {{version: 2c, community_env: EDUMON_TEST_COMMUNITY}}}}}}
sites:
  - id: s
    name: School
    devices:
      - {{kind: switch, id: sw-a, address: 127.0.0.1, port: {port}, credentials: v2}}
      - {{kind: switch, id: sw-dead, address: 127.0.0.1, port: {dead}, credentials: v2}}
"""
    )
    try:
        code, out, err = await edumon(
            "test", "-c", str(config), "--device", "sw-a", "--rounds", "2", "--gap", "1"
        )
        _, _, dead_err = await edumon("test", "-c", str(config), "--device", "sw-dead")
    finally:
        fleet.close()
    interfaces = [line for line in out.splitlines() if line.startswith("interface,")]
    with_rate = [line for line in interfaces if "in_bps=" in line]
    assert code == 0, err
    assert with_rate and len(with_rate) <= len(interfaces) / 2  # the second round's only
    assert "edumon test: sw-dead: no answer" in dead_err and "sw-dead: sw-dead" not in dead_err
