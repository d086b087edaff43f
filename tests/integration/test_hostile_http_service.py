"""edumon as a real process under `ulimit -n 1024`, with 1,100 half-sent HTTP connections held
open against it (each one the server closes is opened again at once): /healthz keeps
answering, every trap sent meanwhile reaches InfluxDB, and the log stays small."""

from __future__ import annotations

import asyncio
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gateway.devstack.servers import InfluxDB1, free_port
from simulators.hostile.http_idle import IdleStats, hold_half_sent
from simulators.hostile.traps import link_down_v2c, send_paced
from tests.netsnmp import free_udp_port
from tests.processes import start_edumon
from tests.trap_service import COMMUNITY, ENVIRON, trap_service_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TRAPS = 200
ATTACK_S = 25.0


def healthz_seconds(port: int) -> float:
    """How long /healthz takes to answer. A 503 is an answer too: the config's switch does not
    exist, so once its first poll or discovery round (jittered across the interval) has
    failed, the SNMP component is in error; what this test guards is that edumon answers."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            response.read()
    except urllib.error.HTTPError as answer:
        assert answer.code == 503, answer
        answer.read()
    return time.monotonic() - started


def read_metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def traps_stored(influxdb: InfluxDB1) -> int:
    result = influxdb.query('SELECT count("trap_oid") FROM "snmp_trap"', db="edumon")
    series = result["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


async def test_idle_half_sent_connections_starve_nothing(
    influxdb: InfluxDB1, tmp_path: Path
) -> None:
    port, trap_port = free_port(), free_udp_port()
    log_path = tmp_path / "edumon.log"
    with log_path.open("w") as log:
        edumon = start_edumon(
            trap_service_config(
                tmp_path, tmp_path / "state", trap_port, influxdb.url, "http: {header_timeout_s: 3}"
            ),
            port,
            log=log,
            max_open_files=1024,
            environ=ENVIRON,
        )
    latencies: list[float] = []
    stats = IdleStats()
    try:
        async with asyncio.timeout(30):
            while True:
                try:
                    await asyncio.to_thread(healthz_seconds, port)
                    break
                except OSError:
                    await asyncio.sleep(0.3)
        attack = asyncio.create_task(hold_half_sent("127.0.0.1", port, 1100, stats))
        datagrams = (link_down_v2c(COMMUNITY.encode(), n) for n in range(TRAPS))
        traps = asyncio.create_task(send_paced("127.0.0.1", trap_port, datagrams, TRAPS / 20))
        deadline = time.monotonic() + ATTACK_S
        while time.monotonic() < deadline:
            latencies.append(await asyncio.to_thread(healthz_seconds, port))
            await asyncio.sleep(0.5)
        assert await traps == TRAPS
        attack.cancel()
        await asyncio.gather(attack, return_exceptions=True)
        metrics = await asyncio.to_thread(read_metrics, port)
        async with asyncio.timeout(20):
            while traps_stored(influxdb) < TRAPS:  # noqa: ASYNC110 - polls InfluxDB
                await asyncio.sleep(0.3)
    finally:
        edumon.send_signal(signal.SIGTERM)
        edumon.wait(20)
    log_bytes = log_path.stat().st_size
    print(f"healthz max {max(latencies):.3f} s over {len(latencies)}; {stats}; log {log_bytes} B")
    assert edumon.returncode == 0
    assert stats.opened >= 1100 and stats.closed_by_server > 0  # the attack ran in full
    assert len(latencies) >= 20 and max(latencies) < 2.0, latencies
    assert traps_stored(influxdb) == TRAPS  # nothing lost
    evicted = next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith('edumon_http_outcomes_total{outcome="evicted"}')
    )
    assert evicted > 0
    assert log_bytes < 1_000_000, log_bytes
    assert "Traceback" not in log_path.read_text()
