"""The writer against a real influxd (and VictoriaMetrics): escaping round trip, 400 partial
writes, a 20 s database outage, kill -9 while spooling, SIGTERM shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from gateway.config import load_config
from gateway.deadletter import DeadLetterFile
from gateway.devstack.servers import free_port
from gateway.metrics import Metrics
from gateway.plugins import PLUGINS
from gateway.sample import Sample
from gateway.service import Service
from gateway.storage.influx_http import InfluxHttp, InfluxTarget
from gateway.storage.spool import Spool
from gateway.storage.writer import InfluxWriter, RetryPolicy
from tests.processes import start_edumon

pytestmark = pytest.mark.integration
HERE = Path(__file__).parent
CHILD_ENV = {**os.environ, "PYTHONPATH": str(HERE.parents[1]), "PYTHONUNBUFFERED": "1"}


def write_config(tmp_path: Path, influx_url: str, database: str = "edumon") -> Path:
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"""
service:
  state_dir: {tmp_path / "state"}
  http_listen: "127.0.0.1:0"
influxdb:
  url: {influx_url}
  database: {database}
  flush_interval_s: 0.2
  batch_size: 2000
  max_retry_delay_s: 1.0
sites: []
"""
    )
    return path


def make_writer(tmp_path: Path, url: str, database: str = "edumon") -> InfluxWriter:
    return InfluxWriter(
        InfluxHttp(InfluxTarget(url=url, database=database)),
        Spool(tmp_path / "spool", max_bytes=1 << 30, segment_bytes=1 << 24),
        DeadLetterFile(tmp_path / "dead.jsonl"),
        Metrics(),
        retry=RetryPolicy(initial_delay_s=0.05, max_delay_s=0.5),
    )


async def write_through(writer: InfluxWriter, samples: list[Sample]) -> None:
    task = asyncio.create_task(writer.run())
    await writer.accept(samples)
    assert await writer.drain(30), writer.health.detail
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await writer.close()


TRICKY = [
    ("plain", {"site": "vsk-1"}, {"v": 1.5}),
    ("with space", {"tag key": "tag value"}, {"field key": 2}),
    ("comma,measurement", {"k,comma": "v,comma"}, {"f,comma": 3}),
    ("equals=m", {"k=eq": "v=eq"}, {"f=eq": 4}),
    ("quotes", {"q": 'tag "quoted"'}, {"s": 'field "quoted"'}),
    ("backslash", {"b": r"C:\temp\dir"}, {"s": "ends with \\"}),
    ("unicode", {"site": "Ventspils Jaunā skola ☀"}, {"s": "Kuldīgas iela 1, Ventspils"}),
    ("newline", {"t": "x"}, {"s": "line one\nline two"}),
    ("types", {"t": "y"}, {"i": -(2**63), "b": True, "f": -1e-7, "empty": ""}),
]


async def test_escaping_round_trips_through_real_influxdb(influxdb: Any, tmp_path: Path) -> None:
    samples = [Sample(m, tags, fields, 1_000 + i) for i, (m, tags, fields) in enumerate(TRICKY)]
    writer = make_writer(tmp_path, influxdb.url)
    await write_through(writer, samples)
    assert writer.dead_letters.read() == []
    for sample in samples:
        name = sample.measurement.replace("\\", "\\\\").replace('"', '\\"')
        result = influxdb.query(f'SELECT * FROM "{name}"', db="edumon")
        series = result["results"][0]["series"][0]
        row = dict(zip(series["columns"], series["values"][0], strict=True))
        for key, value in {**sample.tags, **sample.fields}.items():
            assert row[key] == value, (sample.measurement, key)


async def test_400_partial_write_dead_letters_exactly_the_bad_lines(
    influxdb: Any, tmp_path: Path
) -> None:
    influxdb.query("CREATE DATABASE partial", db="")
    first = make_writer(tmp_path / "a", influxdb.url, "partial")
    await write_through(first, [Sample("conflict", {}, {"value": 1.0}, 1)])  # value is a float
    batch = [
        Sample("conflict", {"n": str(i)}, {"value": "text" if i in (3, 17) else float(i)}, 10 + i)
        for i in range(40)
    ]
    writer = make_writer(tmp_path / "b", influxdb.url, "partial")
    await write_through(writer, batch)
    dead = writer.dead_letters.read()
    assert sorted(d["raw"] for d in dead) == [
        'conflict,n=17 value="text" 27',
        'conflict,n=3 value="text" 13',
    ]
    assert all("field type conflict" in d["reason"] for d in dead)
    assert influxdb.count("conflict", "value", db="partial") == 1 + 38


async def test_100k_points_survive_a_20s_database_outage(influxdb: Any, tmp_path: Path) -> None:
    influxdb.query("DROP MEASUREMENT outage", db="edumon")
    service = Service(load_config(write_config(tmp_path, influxdb.url), PLUGINS), PLUGINS)
    stop = asyncio.Event()
    runner = asyncio.create_task(service.run(stop))
    await service.started.wait()
    total, per_batch = 100_000, 2_500
    outage: asyncio.Task[None] | None = None
    started = time.monotonic()
    for n, first in enumerate(range(0, total, per_batch)):
        batch = [
            Sample("outage", {"t": "x"}, {"id": i}, 10**18 + i)
            for i in range(first, first + per_batch)
        ]
        await service.emit(batch, collector="test")
        if n == 5:
            outage = asyncio.create_task(asyncio.to_thread(stop_for, influxdb, 20.0))
        await asyncio.sleep(0.7)
    assert outage is not None
    await outage
    assert time.monotonic() - started > 25
    assert await service.writer.drain(60), service.writer.health.detail
    stop.set()
    await runner
    assert influxdb.count("outage", "id", db="edumon") == total
    failures = service.metrics.write_failures.labels(outcome="retry")._value.get()
    assert failures > 0, "the outage was not noticed"


def stop_for(server: Any, seconds: float) -> None:
    server.stop()
    time.sleep(seconds)
    server.start()


def read_acks(process: subprocess.Popen[str], at_least: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    acked = 0
    assert process.stdout is not None
    while acked < at_least and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:  # the process died
            break
        if line.startswith("acked "):
            acked = int(line.split()[1])
    return acked


def healthz(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


@pytest.mark.slow
def test_kill_9_while_spooling_loses_and_duplicates_nothing(influxdb: Any, tmp_path: Path) -> None:
    influxdb.create_database("kill9")
    config = write_config(tmp_path, influxdb.url, database="kill9")
    influxdb.stop()  # the database is down: everything goes to the spool
    load = subprocess.Popen(
        [sys.executable, str(HERE / "load_service.py"), str(config), "1000000"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        acked = read_acks(load, at_least=50_000, timeout_s=60)
    finally:
        load.send_signal(signal.SIGKILL)
        load.wait()
    assert acked >= 50_000
    influxdb.start()
    port = free_port()
    service = start_edumon(config, port)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            checked_at = time.time_ns()
            try:
                components = healthz(port)["components"]
                if (
                    components["writer"]["spool_points"]
                    == components["pipeline"]["queued_samples"]
                    == 0
                ):
                    break
            except OSError:
                pass
            time.sleep(0.2)
        written = metric_value(port, "edumon_samples_written_total")
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=15)
    stats = influxdb.query('SELECT count("id"), min("id"), max("id") FROM "load"', db="kill9")
    _, count, low, high = stats["results"][0]["series"][0]["values"][0]
    assert low == 0 and count == high + 1, "a gap: points were lost"
    assert count >= acked, "an acknowledged point was lost"
    # the restarted service sent each spooled point once: the load and both runs' self-metrics
    # (a self-metric emitted after the health check may or may not be in `written`)
    own = influxdb.query(
        f'SELECT count("errors") FROM "collector" WHERE time <= {checked_at}', db="kill9"
    )
    own_before = (
        own["results"][0]["series"][0]["values"][0][1] if own["results"][0].get("series") else 0
    )
    own_total = influxdb.count("collector", "errors", db="kill9")
    assert count + own_before <= written <= count + own_total, "some points were sent twice"


def metric_value(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_sigterm_flushes_within_10_seconds(influxdb: Any, tmp_path: Path) -> None:
    influxdb.query("DROP MEASUREMENT load", db="edumon")
    config = write_config(tmp_path, influxdb.url)
    load = subprocess.Popen(
        [sys.executable, str(HERE / "load_service.py"), str(config), "20000"],
        stdout=subprocess.PIPE,
        text=True,
        env=CHILD_ENV,
    )
    acked = read_acks(load, at_least=20_000, timeout_s=60)
    started = time.monotonic()
    load.send_signal(signal.SIGTERM)
    assert load.wait(timeout=15) == 0
    assert time.monotonic() - started < 10
    assert acked == 20_000
    assert influxdb.count("load", "id", db="edumon") == 20_000


async def test_victoria_metrics_write_and_read_back(victoria_metrics: Any, tmp_path: Path) -> None:
    samples = [
        Sample(
            "vmcheck",
            {"site": "vsk 1", "device": f"sw-{i % 3}"},
            {"up": 1, "poll_ms": float(i)},
            (1_700_000_000 + i) * 10**9,
        )
        for i in range(300)
    ]
    writer = make_writer(tmp_path, victoria_metrics.url)
    await write_through(writer, samples)
    series = victoria_metrics.export('{__name__="vmcheck_poll_ms"}')
    values = sorted(v for s in series for v in s["values"])
    assert values == [float(i) for i in range(300)]
    assert {s["metric"]["site"] for s in series} == {"vsk 1"}
