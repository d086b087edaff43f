"""Memory a trap sender controls, measured on edumon as a real process: 10,000 SNMPv3 traps
with random 30-60 KB engine ids and a wrong key (and 10,000 more with 32-octet ones) grow its
RSS by less than 20 MB; 400,000 valid traps while the pipeline is blocked (database down and
the state disk full) leave RSS bounded, and the traps that did not fit are counted as dropped."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.devstack.servers import free_port
from simulators.hostile.traps import forged_v3_trap, link_down_v2c, send_paced
from tests.netsnmp import free_udp_port
from tests.processes import start_edumon
from tests.small_disk import fill, small_disk
from tests.trap_service import COMMUNITY, ENVIRON, trap_service_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def nowhere() -> str:
    """A database URL nobody listens on."""
    return f"http://127.0.0.1:{free_port()}"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def trap_count(port: int, outcome: str, reason: str = "") -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    wanted = f'component="snmp-traps",outcome="{outcome}",reason="{reason}"}}'
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("edumon_collector_outcomes_total") and wanted in line
    )


async def started(port: int) -> None:
    async with asyncio.timeout(30):
        while True:
            try:
                await asyncio.to_thread(trap_count, port, "received")
                return
            except OSError:
                await asyncio.sleep(0.3)


async def deliver(
    port: int, trap_port: int, make: Callable[[], bytes], count: int, per_second: int = 1000
) -> None:
    """Send until edumon has received `count` more datagrams (on a loaded machine the kernel
    drops some when edumon's socket buffer, a few 60 KB datagrams, is full)."""
    target = await asyncio.to_thread(trap_count, port, "received") + count
    async with asyncio.timeout(180):
        while (missing := target - await asyncio.to_thread(trap_count, port, "received")) > 0:
            chunk = (make() for _ in range(min(int(missing), per_second // 2)))
            await send_paced("127.0.0.1", trap_port, chunk, per_second)


def stop(edumon: subprocess.Popen[str]) -> None:
    edumon.send_signal(signal.SIGTERM)
    edumon.communicate(timeout=30)


def link_down() -> bytes:
    return link_down_v2c(COMMUNITY.encode())


def huge_engine_id() -> bytes:
    return forged_v3_trap(random.randint(30_000, 60_000))


def longest_engine_id() -> bytes:
    return forged_v3_trap(32)


async def test_forged_v3_traps_with_huge_engine_ids_cost_no_memory(tmp_path: Path) -> None:
    port, trap_port = free_port(), free_udp_port()
    path = trap_service_config(tmp_path, tmp_path / "state", trap_port, nowhere())
    edumon = start_edumon(path, port, environ=ENVIRON)
    try:
        await started(port)
        await deliver(port, trap_port, huge_engine_id, 200)
        before = rss_mb(edumon.pid)
        await deliver(port, trap_port, huge_engine_id, 10_000)
        await deliver(port, trap_port, longest_engine_id, 10_000)
        after = rss_mb(edumon.pid)
        malformed = await asyncio.to_thread(trap_count, port, "rejected", "malformed")
        failed = await asyncio.to_thread(trap_count, port, "rejected", "auth_failed")
    finally:
        stop(edumon)
    print(f"RSS {before:.1f} -> {after:.1f} MB; {malformed:.0f} malformed, {failed:.0f} failed")
    assert after - before < 20
    assert malformed >= 10_200 and failed >= 10_000


async def test_a_blocked_pipeline_drops_the_oldest_traps_and_memory_stays_bounded(
    tmp_path: Path,
) -> None:
    port, trap_port = free_port(), free_udp_port()
    with small_disk(tmp_path / "state", 8) as state:
        path = trap_service_config(tmp_path, state, trap_port, nowhere())
        edumon = start_edumon(path, port, environ=ENVIRON)
        try:
            await started(port)
            fill(state)  # the database is down and the spool cannot grow: the pipeline blocks
            rss = []
            for _ in range(4):
                await deliver(port, trap_port, link_down, 100_000, 20_000)
                rss.append(rss_mb(edumon.pid))
            got = await asyncio.to_thread(trap_count, port, "received")
            dropped = await asyncio.to_thread(trap_count, port, "dropped", "queue_full")
        finally:
            stop(edumon)
    print(f"RSS after each 100,000 traps: {rss} MB; {got:.0f} received, {dropped:.0f} dropped")
    assert got >= 400_000
    assert dropped >= got - 200_000  # at most the pipeline's and the trap queue's worth held
    assert rss[-1] - rss[1] < 20  # bounded: the last 200,000 cost no memory
