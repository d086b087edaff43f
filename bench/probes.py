"""Probe cost and accuracy, beside `ping` in the same run (needs root: network namespaces).

1. CPU % of one core to probe N targets (ICMP, 5-packet bursts) every 10 s, with the gateway's
   scheduler; reference: one `ping -c 5 -i 0.2` per target per round, as a script would.
2. RTT accuracy against a fixed delay: a responder in the lab school answers pings late.

Usage: sudo python bench/probes.py [--targets 200] [--rounds 3] [--delay-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.probes.collector import ProbeCollector, ProbeJob
from gateway.collector import PollSchedule
from gateway.intake_health import CollectorHealth
from gateway.metrics import Metrics
from gateway.sample import Sample
from gateway.scheduler import PollScheduler
from tests.netns_lab import SCHOOL_V4, SchoolLab, missing_tools

INTERVAL_S = 10.0


async def edumon_rounds(addresses: list[str], rounds: int) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, probe samples) for `rounds` intervals of all targets."""
    samples: list[Sample] = []

    async def emit(batch: Sequence[Sample], *, collector: str) -> None:
        samples.extend(s for s in batch if s.measurement == "probe")

    collector = ProbeCollector.open()
    scheduler = PollScheduler(emit, Metrics(), CollectorHealth("probes"), max_concurrent=256)
    jobs = [ProbeJob("bench", a, a, ("icmp",), timeout_s=1.0) for a in addresses]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        async with asyncio.timeout(rounds * INTERVAL_S + 0.5), asyncio.TaskGroup() as group:
            for job in jobs:
                schedule = PollSchedule(job.target, INTERVAL_S, 5.0)
                group.create_task(scheduler.run_target(collector, job, schedule))
    except TimeoutError:
        pass  # the rounds are over
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    collector.transport.close()
    return cpu, wall, len(samples)


def ping_rounds(addresses: list[str], rounds: int) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall0 = time.perf_counter()
    for _ in range(rounds):
        started = time.perf_counter()
        pings = [
            subprocess.Popen(
                ["ping", "-n", "-q", "-c", "5", "-i", "0.2", "-W", "1", a],
                stdout=subprocess.DEVNULL,
            )
            for a in addresses
        ]
        for ping in pings:
            ping.wait()
        time.sleep(max(0.0, INTERVAL_S - (time.perf_counter() - started)))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, time.perf_counter() - wall0


async def edumon_rtts(address: str, count: int) -> list[float]:
    collector = ProbeCollector.open()
    results = [await collector.transport.echo(address, 4, 2.0) for _ in range(count)]
    collector.transport.close()
    return [r.rtt_ms for r in results if r.rtt_ms is not None]


def ping_rtts(address: str, count: int) -> list[float]:
    out = subprocess.run(
        ["ping", "-n", "-c", str(count), "-i", "0.2", address],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [float(m) for m in re.findall(r"time=([\d.]+) ms", out)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    if (reason := missing_tools()) is not None:
        raise SystemExit(reason)
    with tempfile.TemporaryDirectory() as tmp, SchoolLab(Path(tmp)) as lab:
        addresses = lab.add_hosts(args.targets)
        cpu, wall, count = asyncio.run(edumon_rounds(addresses, args.rounds))
        ping_cpu, ping_wall = ping_rounds(addresses, args.rounds)
        lab.delay(args.delay_ms)
        ours = asyncio.run(edumon_rtts(SCHOOL_V4, args.samples))
        theirs = ping_rtts(SCHOOL_V4, args.samples)
    print(f"{args.targets} targets, ICMP bursts of 5 every {INTERVAL_S:g} s, {args.rounds} rounds")
    print(
        f"  edumon: {100 * cpu / wall:5.2f} % of one core ({cpu:.2f} CPU s / {wall:.1f} s), {count} samples"
    )
    print(
        f"  ping  : {100 * ping_cpu / ping_wall:5.2f} % of one core ({ping_cpu:.2f} CPU s / {ping_wall:.1f} s)"
    )
    print(f"  ratio edumon/ping CPU: x{cpu / ping_cpu:.2f}")
    print(f"RTT against a fixed {args.delay_ms:g} ms responder delay, {args.samples} echoes each")
    for name, rtts in (("edumon", ours), ("ping", theirs)):
        mean = statistics.fmean(rtts)
        print(
            f"  {name:6}: mean {mean:7.3f} ms (error {mean - args.delay_ms:+.3f} ms), "
            f"stdev {statistics.pstdev(rtts):.3f} ms, n={len(rtts)}"
        )


if __name__ == "__main__":
    main()
