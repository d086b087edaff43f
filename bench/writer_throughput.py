"""Writer throughput beside the InfluxDB client libraries' batching writers, on the same points,
in one run: points per CPU-second of the sending process.

Every side gets the same N `interface`-shaped points (4 tags, 9 fields), sends them in batches
of B with gzip, and is counted when the database has them all (checked by a count query).
What each side's CPU includes (time.process_time of this process, all its threads; the
database's CPU is excluded):
- edumon: Sample -> line protocol -> gzip -> spool append + fsync -> HTTP POST -> acknowledged
  (InfluxWriter, as the service runs it): the only side that survives a database outage;
- influxdb-python (`influxdb` 5.x): InfluxDBClient.write_points(dicts, batch_size=B), gzip;
- influxdb-client (1.x): write_api with WriteOptions(batch_size=B) (its background batching
  thread), gzip, closed at the end (its flush() does not flush); it writes only /api/v2/write,
  which InfluxDB 1.6 lacks, so it runs against VictoriaMetrics, with edumon beside it there;
- curl: the same pre-encoded (not gzipped) batches, one process with keep-alive: the floor for
  "just send the bytes" (its CPU from RUSAGE_CHILDREN).
The libraries' inputs (dicts) are built before their clock starts; edumon's input is Samples.

Usage: python bench/writer_throughput.py [--points 300000] [--batch 5000]
  (pip install 'edumon[bench]' for the two libraries; a side whose library is missing is skipped)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.deadletter import DeadLetterFile
from gateway.devstack.servers import InfluxDB1, VictoriaMetrics
from gateway.metrics import Metrics
from gateway.sample import Sample
from gateway.storage.influx_http import InfluxHttp, InfluxTarget
from gateway.storage.lineprotocol import LineEncoder
from gateway.storage.spool import Spool
from gateway.storage.writer import InfluxWriter

BASE_NS = 1_700_000_000 * 10**9


def interface_samples(count: int, measurement: str) -> list[Sample]:
    """Points shaped like the `interface` measurement: 4 tags, 9 fields; 1 ms apart (so
    VictoriaMetrics, which keeps milliseconds, stores every one)."""
    out = []
    for i in range(count):
        port = i % 52
        out.append(
            Sample(
                measurement,
                {
                    "site": f"vsk-{i % 20}",
                    "device": f"sw-{i % 500}",
                    "ifname": f"Ethernet1/{port}",
                    "role": "uplink" if port >= 48 else "access",
                },
                {
                    "in_bps": i * 1.5,
                    "out_bps": i * 0.5,
                    "in_util_pct": (i % 100) / 1.0,
                    "out_util_pct": (i % 37) / 1.0,
                    "in_errors": i % 3,
                    "out_errors": 0,
                    "in_discards": i % 5,
                    "oper_up": True,
                    "speed_mbps": 10000,
                },
                BASE_NS + i * 1_000_000,
            )
        )
    return out


def as_dicts(samples: list[Sample]) -> list[dict[str, Any]]:
    return [
        {
            "measurement": s.measurement,
            "tags": dict(s.tags),
            "fields": dict(s.fields),
            "time": s.time_ns,
        }
        for s in samples
    ]


async def edumon_run(
    target: InfluxTarget, samples: list[Sample], batch: int, workdir: Path
) -> tuple[float, float]:
    workdir.mkdir()
    writer = InfluxWriter(
        InfluxHttp(target),
        Spool(workdir / "spool", max_bytes=1 << 32, segment_bytes=1 << 26),
        DeadLetterFile(workdir / "dead.jsonl"),
        Metrics(),
    )
    cpu0, wall0 = time.process_time(), time.perf_counter()
    sender = asyncio.create_task(writer.run())
    for start in range(0, len(samples), batch):
        await writer.accept(samples[start : start + batch])
    assert await writer.drain(600), writer.health.detail
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    sender.cancel()
    await asyncio.gather(sender, return_exceptions=True)
    await writer.close()
    return cpu, wall


def influxdb_python_run(url: str, points: list[dict[str, Any]], batch: int) -> tuple[float, float]:
    from influxdb import InfluxDBClient

    host, port = url.removeprefix("http://").rsplit(":", 1)
    client = InfluxDBClient(host, int(port), database="bench", gzip=True)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    client.write_points(points, batch_size=batch)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    client.close()
    return cpu, wall


def influxdb_client_run(url: str, points: list[dict[str, Any]], batch: int) -> tuple[float, float]:
    from influxdb_client import InfluxDBClient, WriteOptions

    client = InfluxDBClient(url=url, token="unused", org="bench", enable_gzip=True)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    write_api = client.write_api(
        write_options=WriteOptions(batch_size=batch, flush_interval=1_000, max_retries=0)
    )
    write_api.write(bucket="bench", record=points)
    write_api.close()  # blocks until every batch is sent
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    client.close()
    return cpu, wall


def curl_run(url: str, samples: list[Sample], batch: int, workdir: Path) -> tuple[float, float]:
    encoder = LineEncoder()
    args: list[str] = []
    for n, start in enumerate(range(0, len(samples), batch)):
        payload, _, _ = encoder.encode_batch(samples[start : start + batch])
        path = workdir / f"batch-{n}.lp"
        path.write_bytes(payload)
        if args:
            args.append("--next")
        args += ["-s", "-o", "/dev/null", "--data-binary", f"@{path}", f"{url}/write?db=bench"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall0 = time.perf_counter()
    subprocess.run(["curl", *args], check=True)
    wall = time.perf_counter() - wall0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def have(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        print(f"({module} not installed: pip install 'edumon[bench]'; its side is skipped)")
        return False
    return True


Row = tuple[str, float, float]


def influx_side(args: argparse.Namespace, tmp: Path) -> list[Row]:
    rows: list[Row] = []
    with InfluxDB1(tmp / "influx") as influx:
        influx.create_database("bench")
        runs: list[tuple[str, str, Callable[[list[Sample]], tuple[float, float]]]] = [
            (
                "edumon (encode+gzip+spool fsync+send)",
                "bench_edumon",
                lambda s: asyncio.run(
                    edumon_run(
                        InfluxTarget(url=influx.url, database="bench"), s, args.batch, tmp / "e1"
                    )
                ),
            )
        ]
        if have("influxdb"):
            runs.append(
                (
                    "influxdb-python write_points",
                    "bench_influxdb_python",
                    lambda s: influxdb_python_run(influx.url, as_dicts(s), args.batch),
                )
            )
        if shutil.which("curl"):
            runs.append(
                (
                    "curl --data-binary (pre-encoded)",
                    "bench_curl",
                    lambda s: curl_run(influx.url, s, args.batch, tmp),
                )
            )
        for label, measurement, run in runs:
            cpu, wall = run(interface_samples(args.points, measurement))
            stored = influx.count(measurement, "in_bps", db="bench")
            assert stored == args.points, f"{label}: {stored} of {args.points} stored"
            rows.append((f"{label} -> influxd 1.6", cpu, wall))
    return rows


def vm_side(args: argparse.Namespace, tmp: Path) -> list[Row]:
    rows: list[Row] = []
    if not have("influxdb_client"):
        return rows
    with VictoriaMetrics(tmp / "vm") as vm:
        runs: list[tuple[str, str, Callable[[list[Sample]], tuple[float, float]]]] = [
            (
                "edumon, api v2 (same as above)",
                "vm_edumon",
                lambda s: asyncio.run(
                    edumon_run(
                        InfluxTarget(url=vm.url, api="v2", org="bench", bucket="bench"),
                        s,
                        args.batch,
                        tmp / "e2",
                    )
                ),
            ),
            (
                "influxdb-client write_api batching",
                "vm_influxdb_client",
                lambda s: influxdb_client_run(vm.url, as_dicts(s), args.batch),
            ),
        ]
        last_s = (BASE_NS + args.points * 1_000_000) // 10**9 + 1
        for label, measurement, run in runs:
            cpu, wall = run(interface_samples(args.points, measurement))
            result = vm.query(f"sum(count_over_time({measurement}_in_bps[1000d]))", at=last_s)
            stored = int(float(result[0]["value"][1])) if result else 0
            assert stored == args.points, f"{label}: {stored} of {args.points} stored"
            rows.append((f"{label} -> VictoriaMetrics", cpu, wall))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = influx_side(args, Path(tmp)) + vm_side(args, Path(tmp))
    n = args.points
    print(
        f"bench/writer_throughput.py  {datetime.datetime.now().isoformat(timespec='seconds')}  "
        f"{platform.node()} {os.cpu_count()} CPUs (shared), Python {platform.python_version()}"
    )
    print(
        f"{n:,} points per side, batches of {args.batch}, 4 tags + 9 fields, gzip; "
        "CPU of the sending process only; every point counted back from the database"
    )
    print(f"{'':52}{'CPU s':>8}{'wall s':>8}{'points/CPU-s':>14}")
    for label, cpu, wall in rows:
        print(f"{label:52}{cpu:8.2f}{wall:8.2f}{n / cpu:14,.0f}")
    ours = {label.split(" ->")[1]: cpu for label, cpu, _ in rows if label.startswith("edumon")}
    for label, cpu, _ in rows:
        if not label.startswith("edumon"):
            server = label.split(" ->")[1]
            print(
                f"CPU per point, {label.split(' ')[0]} / edumon (same server, same run): "
                f"x{cpu / ours[server]:.2f}"
            )


if __name__ == "__main__":
    main()
