"""SNMP poller cost: varbinds per CPU-second beside snmpbulkwalk and pysnmp on the same agents,
and the CPU share of one core needed to poll a fleet of 52-port switches every 60 s.

The simulated fleet runs in its own process (`edumon sim snmp`), so its CPU is not counted.

Usage: python bench/snmp.py [--switches 500] [--walk-switches 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.snmp.client import UdpSockets, V2cTransport
from collectors.snmp.poller import SnmpPoller, SnmpTarget
from gateway.collector import CollectorError

COMMUNITY = "bench-only-community"
BASE_PORT = 26100
COLUMNS = [  # what the poller walks on a 64-bit switch
    "1.3.6.1.2.1.2.2.1.2",
    "1.3.6.1.2.1.2.2.1.5",
    "1.3.6.1.2.1.2.2.1.7",
    "1.3.6.1.2.1.2.2.1.8",
    "1.3.6.1.2.1.2.2.1.13",
    "1.3.6.1.2.1.2.2.1.14",
    "1.3.6.1.2.1.2.2.1.19",
    "1.3.6.1.2.1.2.2.1.20",
    "1.3.6.1.2.1.31.1.1.1.1",
    "1.3.6.1.2.1.31.1.1.1.6",
    "1.3.6.1.2.1.31.1.1.1.10",
    "1.3.6.1.2.1.31.1.1.1.15",
    "1.3.6.1.2.1.31.1.1.1.18",
]
QUIET = {**os.environ, "MIBS": "", "MIBDIRS": "/nonexistent"}


def start_fleet(count: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "sim",
            "snmp",
            "--switches",
            str(count),
            "--base-port",
            str(BASE_PORT),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "EDUMON_SNMP_COMMUNITY": COMMUNITY},
    )
    assert process.stdout is not None
    process.stdout.readline()  # "N switches on udp ..."
    time.sleep(1.0)
    return process


async def edumon_round(count: int, rounds: int) -> tuple[float, int, float]:
    """(CPU seconds, varbinds, wall seconds) to poll every switch `rounds` times."""
    sockets = UdpSockets()
    poller = SnmpPoller()
    targets = [
        SnmpTarget(
            "bench",
            f"sw-{n:04d}",
            "core",
            V2cTransport(
                sockets, f"sw-{n:04d}", "127.0.0.1", BASE_PORT + n, COMMUNITY.encode(), timeout_s=5
            ),
        )
        for n in range(1, count + 1)
    ]
    limit = asyncio.Semaphore(64)

    async def poll(target: SnmpTarget) -> None:
        async with limit:
            try:
                await poller.poll(target)
            except CollectorError as error:
                print("  poll failed:", error)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        await asyncio.gather(*(poll(t) for t in targets))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    sockets.close()
    varbinds = sum(t.transport.stats.varbinds for t in targets)
    return cpu, varbinds, wall


def snmpbulkwalk_round(count: int) -> tuple[float, int]:
    """Walk ifTable and ifXTable whole (two processes per switch, so start-up is amortised)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = 0
    for n in range(1, count + 1):
        for table in ("1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1"):
            out = subprocess.run(
                [
                    "snmpbulkwalk",
                    "-v2c",
                    "-c",
                    COMMUNITY,
                    "-On",
                    "-Cr25",
                    f"127.0.0.1:{BASE_PORT + n}",
                    table,
                ],
                capture_output=True,
                text=True,
                env=QUIET,
                check=True,
            ).stdout
            lines += out.count("\n")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), lines


async def pysnmp_round(count: int) -> tuple[float, int]:
    from pysnmp.hlapi.v3arch.asyncio import (
        CommunityData,
        ContextData,
        ObjectIdentity,
        ObjectType,
        SnmpEngine,
        UdpTransportTarget,
        bulk_walk_cmd,
    )

    engine = SnmpEngine()
    varbinds = 0
    cpu0 = time.process_time()
    for n in range(1, count + 1):
        target = await UdpTransportTarget.create(("127.0.0.1", BASE_PORT + n), timeout=5, retries=1)
        for column in COLUMNS:
            async for indication, status, _index, rows in bulk_walk_cmd(
                engine,
                CommunityData(COMMUNITY),
                target,
                ContextData(),
                0,
                25,
                ObjectType(ObjectIdentity(column)),
                lexicographicMode=False,
                lookupMib=False,
            ):
                if indication or status:
                    raise RuntimeError(f"pysnmp: {indication or status}")
                varbinds += len(rows)
    cpu = time.process_time() - cpu0
    engine.close_dispatcher()
    return cpu, varbinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--switches", type=int, default=500)
    parser.add_argument(
        "--walk-switches", type=int, default=20, help="switches walked by the references"
    )
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    fleet = start_fleet(args.switches)
    try:
        asyncio.run(edumon_round(args.switches, 1))  # first readings (no rates yet), warm-up
        cpu, varbinds, wall = asyncio.run(edumon_round(args.switches, args.rounds))
        walk_cpu, walk_varbinds = snmpbulkwalk_round(args.walk_switches)
        py_cpu, py_varbinds = asyncio.run(pysnmp_round(max(1, args.walk_switches // 4)))
    finally:
        fleet.terminate()
        fleet.wait()
    per_round = cpu / args.rounds
    print(
        f"{args.switches} simulated 52-port switches (agents in another process), {args.rounds} rounds"
    )
    print(f"{'':34}{'varbinds':>10}{'CPU s':>8}{'varbinds/CPU-s':>16}")
    for label, count, seconds in (
        ("edumon poller (decode + rates)", varbinds, cpu),
        ("snmpbulkwalk (net-snmp)", walk_varbinds, walk_cpu),
        ("pysnmp bulk_walk_cmd", py_varbinds, py_cpu),
    ):
        print(f"{label:34}{count:10,}{seconds:8.2f}{count / seconds:16,.0f}")
    print(
        f"ratio edumon/snmpbulkwalk: x{(varbinds / cpu) / (walk_varbinds / walk_cpu):.2f}; "
        f"edumon/pysnmp: x{(varbinds / cpu) / (py_varbinds / py_cpu):.1f}"
    )
    print(
        f"one round of {args.switches} switches: {per_round:.2f} CPU s, {wall / args.rounds:.1f} s wall; "
        f"at a 60 s interval: {100 * per_round / 60:.1f} % of one core"
    )


if __name__ == "__main__":
    main()
