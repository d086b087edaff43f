"""A v3 trap sent by net-snmp's snmptrap is captured and replayed against edumon as a real
process: taken once, and after edumon restarts the same datagram is still refused as a replay
(engine boots/time are kept in the state directory), while the switch's next trap is taken."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from gateway.devstack.servers import free_port
from tests.integration.test_hostile_trap_memory import nowhere, started, stop, trap_count
from tests.netsnmp import free_udp_port
from tests.processes import start_edumon
from tests.trap_service import ENVIRON, trap_service_config

pytestmark = pytest.mark.integration
ENGINE = "0x80001f8804656475746573742d7377"


def snmptrap(tmp_path: Path, boots: int, engine_time: int) -> bytes:
    """The datagram `snmptrap -v 3` (authPriv, as the configured user) sends for a linkDown."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as capture:
        capture.bind(("127.0.0.1", 0))
        capture.settimeout(10)
        command = [
            "snmptrap", "-v", "3", "-e", ENGINE, "-u", "edumon", "-l", "authPriv",
            "-a", "SHA-256", "-A", ENVIRON["TRAP_AUTH"], "-x", "AES", "-X", ENVIRON["TRAP_PRIV"],
            "-Z", f"{boots},{engine_time}", f"127.0.0.1:{capture.getsockname()[1]}", "0",
            "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.1", "i", "1",
        ]  # fmt: skip
        environ = {"SNMP_PERSISTENT_DIR": str(tmp_path / "snmptrap"), "MIBS": ""}
        subprocess.run(command, check=True, capture_output=True, env={**os.environ, **environ})
        return capture.recv(65535)


async def send_and_count(edumon_port: int, trap_port: int, datagram: bytes, seen: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(datagram, ("127.0.0.1", trap_port))
    async with asyncio.timeout(10):
        while await asyncio.to_thread(trap_count, edumon_port, "received") < seen:  # noqa: ASYNC110
            await asyncio.sleep(0.2)


async def test_a_replayed_v3_trap_is_refused_after_a_restart_too(tmp_path: Path) -> None:
    port, trap_port = free_port(), free_udp_port()
    state = tmp_path / "state"
    path = trap_service_config(tmp_path, state, trap_port, nowhere())
    captured = snmptrap(tmp_path, boots=5, engine_time=1000)
    edumon = start_edumon(path, port, environ=ENVIRON)
    try:
        await started(port)
        await send_and_count(port, trap_port, captured, 1)
        first_accepted = await asyncio.to_thread(trap_count, port, "accepted")
    finally:
        stop(edumon)
    engines = state / "snmp" / "trap_engines.json"
    assert stat.S_IMODE(engines.stat().st_mode) == 0o600
    edumon = start_edumon(path, port, environ=ENVIRON)
    try:
        await started(port)
        await send_and_count(port, trap_port, captured, 1)
        replayed = await asyncio.to_thread(trap_count, port, "rejected", "replayed")
        await send_and_count(port, trap_port, snmptrap(tmp_path, boots=5, engine_time=1010), 2)
        next_accepted = await asyncio.to_thread(trap_count, port, "accepted")
    finally:
        stop(edumon)
    assert first_accepted == 1
    assert replayed == 1
    assert next_accepted == 1
