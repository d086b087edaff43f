"""Serializer + writer throughput into a real influxd, beside `curl --data-binary` in the same run.

edumon's path per point: Sample -> line protocol -> gzip -> spool append + fsync -> HTTP POST
-> acknowledged. The reference ships the same, already-encoded batches with one curl process
(keep-alive, `--next` per batch), which is the floor for "just send the bytes". Both are
measured in CPU-seconds of the sending process (the database's own CPU is excluded from both).

Usage: python bench/writer_throughput.py [--points N] [--batch B]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from gateway.deadletter import DeadLetterFile
from gateway.devstack.servers import InfluxDB1
from gateway.metrics import Metrics
from gateway.sample import Sample
from gateway.storage.influx_http import InfluxHttp, InfluxTarget
from gateway.storage.lineprotocol import LineEncoder
from gateway.storage.spool import Spool
from gateway.storage.writer import InfluxWriter

BASE_NS = 1_700_000_000 * 10**9


def interface_samples(count: int, measurement: str) -> list[Sample]:
    """Points shaped like the `interface` measurement: 4 tags, 9 fields."""
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
                BASE_NS + i * 1000,
            )
        )
    return out


async def edumon_run(
    url: str, samples: list[Sample], batch: int, workdir: Path
) -> tuple[float, float]:
    writer = InfluxWriter(
        InfluxHttp(InfluxTarget(url=url, database="bench")),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl is not installed (apt install curl)")
    with tempfile.TemporaryDirectory() as tmp, InfluxDB1(Path(tmp) / "influx") as influx:
        influx.create_database("bench")
        ours = interface_samples(args.points, "bench_edumon")
        theirs = interface_samples(args.points, "bench_curl")
        curl_cpu, curl_wall = curl_run(influx.url, theirs, args.batch, Path(tmp))
        cpu, wall = asyncio.run(edumon_run(influx.url, ours, args.batch, Path(tmp)))
        assert influx.count("bench_edumon", "in_bps", db="bench") == args.points
        assert influx.count("bench_curl", "in_bps", db="bench") == args.points
    n = args.points
    print(f"points: {n}, batch {args.batch}, 4 tags + 9 fields each, real influxd {influx.url}")
    print(f"{'':28}{'CPU s':>8}{'wall s':>8}{'points/CPU-s':>14}{'points/s wall':>15}")
    for label, c, w in (
        ("edumon (encode+spool+send)", cpu, wall),
        ("curl --data-binary", curl_cpu, curl_wall),
    ):
        print(f"{label:28}{c:8.2f}{w:8.2f}{n / c:14,.0f}{n / w:15,.0f}")
    print(f"ratio edumon/curl: CPU per point x{cpu / curl_cpu:.1f}, wall x{wall / curl_wall:.2f}")


if __name__ == "__main__":
    main()
