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
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.devstack.servers import free_port
from simulators.hostile.traps import forged_v3_trap, link_down_v2c, send_paced
from tests.netsnmp import free_udp_port
from tests.processes import start_edumon
from tests.small_disk import fill, small_disk

pytestmark = [pytest.mark.integration, pytest.mark.slow]
COMMUNITY = "test-only-community"
ENVIRON = {"TRAP_COMMUNITY": COMMUNITY, "TRAP_AUTH": "test-only-auth", "TRAP_PRIV": "priv-only"}


def config(tmp_path: Path, state_dir: Path, trap_port: int, influx_port: int) -> Path:
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"""
service: {{state_dir: {state_dir}}}
influxdb: {{url: "http://127.0.0.1:{influx_port}", flush_interval_s: 0.2, max_retry_delay_s: 1}}
snmp: {{trap_listen: "127.0.0.1:{trap_port}", interval_s: 3600}}
credentials:
  snmp:
    v2: {{version: 2c, community_env: TRAP_COMMUNITY}}
    v3: {{version: 3, user: edumon, security_level: authPriv, auth_protocol: sha256,
          auth_password_env: TRAP_AUTH, priv_protocol: aes, priv_password_env: TRAP_PRIV}}
sites:
  - id: vsk-1
    name: School
    devices:
      - {{kind: switch, id: vsk-1-core, role: core, address: 127.0.0.1, port: 1, credentials: v2}}
"""
    )
    return path


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


async def received(port: int, count: int) -> None:
    """Until edumon has counted `count` datagrams (a few lost on loopback are allowed for)."""
    async with asyncio.timeout(120):
        while await asyncio.to_thread(trap_count, port, "received") < count * 0.99:  # noqa: ASYNC110
            await asyncio.sleep(0.5)


def stop(edumon: subprocess.Popen[str]) -> None:
    edumon.send_signal(signal.SIGTERM)
    edumon.communicate(timeout=30)


def forged(count: int, sizes: tuple[int, int]) -> Iterator[bytes]:
    return (forged_v3_trap(random.randint(*sizes)) for _ in range(count))


async def test_forged_v3_traps_with_huge_engine_ids_cost_no_memory(tmp_path: Path) -> None:
    port, trap_port = free_port(), free_udp_port()
    path = config(tmp_path, tmp_path / "state", trap_port, free_port())
    edumon = start_edumon(path, port, environ=ENVIRON)
    try:
        await started(port)
        await send_paced("127.0.0.1", trap_port, forged(200, (30_000, 60_000)), 1000)
        await received(port, 200)
        before = rss_mb(edumon.pid)
        await send_paced("127.0.0.1", trap_port, forged(10_000, (30_000, 60_000)), 1000)
        await send_paced("127.0.0.1", trap_port, forged(10_000, (32, 32)), 2000)
        await received(port, 20_200)
        after = rss_mb(edumon.pid)
        malformed = await asyncio.to_thread(trap_count, port, "rejected", "malformed")
        failed = await asyncio.to_thread(trap_count, port, "rejected", "auth_failed")
    finally:
        stop(edumon)
    print(f"RSS {before:.1f} -> {after:.1f} MB; {malformed:.0f} malformed, {failed:.0f} failed")
    assert after - before < 20
    assert malformed >= 9_900 and failed >= 9_900


async def test_a_blocked_pipeline_drops_the_oldest_traps_and_memory_stays_bounded(
    tmp_path: Path,
) -> None:
    port, trap_port = free_port(), free_udp_port()
    with small_disk(tmp_path / "state", 8) as state:
        edumon = start_edumon(
            config(tmp_path, state, trap_port, free_port()), port, environ=ENVIRON
        )
        try:
            await started(port)
            fill(state)  # the database is down and the spool cannot grow: the pipeline blocks
            rss = []
            for _ in range(4):
                datagrams = (link_down_v2c(COMMUNITY.encode(), n) for n in range(100_000))
                await send_paced("127.0.0.1", trap_port, datagrams, 10_000)
                rss.append(rss_mb(edumon.pid))
            got = await asyncio.to_thread(trap_count, port, "received")
            dropped = await asyncio.to_thread(trap_count, port, "dropped", "queue_full")
        finally:
            stop(edumon)
    print(f"RSS after each 100,000 traps: {rss} MB; {got:.0f} received, {dropped:.0f} dropped")
    assert got >= 300_000
    assert dropped >= got - 200_000  # at most the pipeline's and the trap queue's worth held
    assert rss[-1] - rss[1] < 20  # bounded: the last 200,000 cost no memory
