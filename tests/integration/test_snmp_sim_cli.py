"""`edumon sim snmp` standalone, with a scenario: faults from the file, events on time."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.snmp import ber
from collectors.snmp.client import SnmpError, UdpSockets, V2cTransport
from gateway.devstack.child_server import free_port

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


async def test_standalone_fleet_with_a_scenario(tmp_path: Path) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    base = free_port(kind=socket.SOCK_DGRAM)  # sw-0001 there, the next two after it
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "faults:\n  - {switch: sw-0002, silent: true}\n"
        "events:\n  - {at_s: 0.5, switch: sw-0001, action: flap, port: 49, down_s: 0.5}\n"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "sim",
            "snmp",
            "--switches",
            "3",
            "--base-port",
            str(base),
            "--scenario",
            str(scenario),
            "--trap-to",
            f"127.0.0.1:{receiver.getsockname()[1]}",
            "--duration",
            "20",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "EDUMON_SNMP_COMMUNITY": "test-only-community", "PYTHONPATH": str(REPO)},
    )
    sockets = UdpSockets()
    try:
        assert process.stdout is not None
        assert "3 switches" in process.stdout.readline()
        await asyncio.sleep(0.3)
        answering = V2cTransport(
            sockets, "sw-0001", "127.0.0.1", base + 1, b"test-only-community", timeout_s=1
        )
        [name] = await answering.get([ber.encode_oid("1.3.6.1.2.1.1.5.0")])
        assert name.raw == b"sw-0001"
        silent = V2cTransport(
            sockets,
            "sw-0002",
            "127.0.0.1",
            base + 2,
            b"test-only-community",
            timeout_s=0.3,
            retries=0,
        )
        with pytest.raises(SnmpError):
            await silent.get([ber.encode_oid("1.3.6.1.2.1.1.5.0")])
        loop = asyncio.get_running_loop()
        traps = [
            ber.decode_message(await asyncio.wait_for(loop.sock_recv(receiver, 2048), 5))
            for _ in range(2)
        ]
        assert [ber.oid_text(t.varbinds[1].raw) for t in traps] == [
            "1.3.6.1.6.3.1.1.5.3",
            "1.3.6.1.6.3.1.1.5.4",
        ]
    finally:
        sockets.close()
        receiver.close()
        process.terminate()
        process.wait(timeout=10)
