"""Operations on edumon as a real process beside simulated switches: SIGHUP reloads the
config (a switch added is polled, a switch removed no longer is, without a restart); a broken
config is refused with its file:line, by SIGHUP and by `POST /-/reload`, and the running one
goes on; `GET /probe?target=ID` answers one device's samples and writes none of them."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.error
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
INTERVAL_S = 2


def write_config(path: Path, influxdb: InfluxDB1, fleet: SnmpFleet, switches: list[str]) -> None:
    sites = "".join(  # each switch at a school of its own
        f"  - id: school-{name}\n    name: School {name}\n    devices:\n"
        f"      - {{kind: switch, id: {name}, role: access, address: 127.0.0.1, "
        f"port: {fleet.addresses[name][1]}, credentials: v2}}\n"
        for name in switches
    )
    path.write_text(
        f"service: {{state_dir: {path.parent / 'state'}}}\n"
        f"influxdb: {{url: {influxdb.url}, database: reload, flush_interval_s: 0.5}}\n"
        f"snmp: {{interval_s: {INTERVAL_S}, timeout_s: 1, retries: 0}}\n"
        "credentials: {snmp: {v2: {version: 2c, community_env: SNMP_COMMUNITY}}}\n"
        f"sites:\n{sites}"
    )


def http(port: int, path: str, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def query(influxdb: InfluxDB1, text: str) -> list[list[Any]]:
    series = influxdb.query(text, db="reload")["results"][0].get("series")
    return list(series[0]["values"]) if series else []


async def heard_from(fleet: SnmpFleet, name: str, since: float, timeout_s: float) -> bool:
    """Whether edumon asked switch `name` anything after `since` (within `timeout_s`)."""
    assert fleet.heard is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(t > since and switch == name for t, switch, _ in fleet.heard):
            return True
        await asyncio.sleep(0.2)
    return False


async def test_sighup_adds_and_removes_a_switch_and_refuses_a_broken_config(
    influxdb: InfluxDB1, tmp_path: Path
) -> None:
    influxdb.create_database("reload")
    boot = time.time() - 3600
    fleet = SnmpFleet(
        [(SimSwitch(name, seed=i, boot=boot), "127.0.0.1", 0) for i, name in enumerate("ab")],
        COMMUNITY.encode(),
    )
    await fleet.start()
    fleet.heard = []
    config = tmp_path / "edumon.yaml"
    write_config(config, influxdb, fleet, ["a"])
    port = free_port()
    edumon = start_edumon(config, port, environ={"SNMP_COMMUNITY": COMMUNITY})
    try:
        assert await heard_from(fleet, "a", 0, 30), "switch a is not polled"
        assert not await heard_from(fleet, "b", 0, 2 * INTERVAL_S)  # not configured yet

        write_config(config, influxdb, fleet, ["a", "b"])
        edumon.send_signal(signal.SIGHUP)
        added = time.time()
        assert await heard_from(fleet, "b", added, 6 * INTERVAL_S), "b not polled after SIGHUP"

        good = config.read_text()
        config.write_text(good.replace("role: access", "role: acess", 1))
        edumon.send_signal(signal.SIGHUP)
        status, refusal = await asyncio.to_thread(http, port, "/-/reload", "POST")
        assert status == 400
        assert f"{config}:9: sites[0].devices[0].role:" in refusal, refusal
        refused = time.time()
        for name in "ab":  # the running config goes on
            assert await heard_from(fleet, name, refused, 6 * INTERVAL_S), name

        write_config(config, influxdb, fleet, ["b"])
        status, applied = await asyncio.to_thread(http, port, "/-/reload", "POST")
        assert status == 200 and "removed a" in applied, applied
        await asyncio.sleep(1)  # a poll of `a` under way when the reload came may still answer
        removed = time.time()
        assert not await heard_from(fleet, "a", removed, 3 * INTERVAL_S)
        assert await heard_from(fleet, "b", removed, 6 * INTERVAL_S)
        _, health = await asyncio.to_thread(http, port, "/healthz")
        _, status = await asyncio.to_thread(http, port, "/status")
    finally:
        edumon.send_signal(signal.SIGTERM)
        _, log = edumon.communicate(timeout=20)
        fleet.close()
    assert edumon.returncode == 0, log
    assert "config reloaded from" in log and "added b" in log, log
    assert "config reload refused, the running config is kept" in log, log
    assert f"{config}:9: sites[0].devices[0].role:" in log
    assert '"applied": 2' in health and '"refused": 2' in health, health
    sites = {site["id"] for site in json.loads(status)["sites"]}
    assert sites == {"school-b"}, status  # `edumon status` follows the reload too


async def test_probe_answers_one_switch_and_writes_nothing(
    influxdb: InfluxDB1, tmp_path: Path
) -> None:
    influxdb.create_database("reload")
    switch = SimSwitch("p", seed=7, boot=time.time() - 60)
    fleet = SnmpFleet([(switch, "127.0.0.1", 0)], COMMUNITY.encode())
    await fleet.start()
    config = tmp_path / "edumon.yaml"
    write_config(config, influxdb, fleet, ["p"])
    config.write_text(config.read_text().replace(f"interval_s: {INTERVAL_S}", "interval_s: 3600"))
    port = free_port()
    edumon = start_edumon(config, port, environ={"SNMP_COMMUNITY": COMMUNITY})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, text = await asyncio.to_thread(http, port, "/probe?target=p")
                break
            except OSError:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)
        _, lines = await asyncio.to_thread(http, port, "/probe?target=p&format=line")
        missing = await asyncio.to_thread(http, port, "/probe?target=nope")
        await asyncio.sleep(3)  # twice the flush interval: anything sent would be stored
        stored = query(influxdb, "SELECT * FROM device WHERE device = 'p'")
    finally:
        edumon.send_signal(signal.SIGTERM)
        edumon.communicate(timeout=20)
        fleet.close()
    assert status == 200, text
    assert "# TYPE edumon_device_up gauge" in text
    assert 'edumon_device_up{site="school-p",device="p",role="access"} 1.0' in text, text
    assert "edumon_interface_oper_up{" in text
    assert lines.startswith("device,") or "\ndevice," in lines, lines
    probed = {
        int(line.rsplit(" ", 1)[1]) for line in lines.splitlines() if line.startswith("device,")
    }
    assert probed and not {stamp for stamp, *_ in stored} & probed, stored
    assert missing[0] == 404
