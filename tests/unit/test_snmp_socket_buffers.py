"""The shared SNMP sockets ask for receive buffers that hold every answer in flight."""

from __future__ import annotations

import socket
from pathlib import Path

from collectors.snmp.client import RECEIVE_BUFFER_BYTES, UdpSockets


async def test_the_receive_buffer_holds_the_answers_in_flight() -> None:
    sockets = UdpSockets()
    try:
        endpoint = await sockets.endpoint(socket.AF_INET)
        sock = endpoint.get_extra_info("socket")
        granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2
    finally:
        sockets.close()
    assert sockets.receive_buffer_bytes == granted
    # with CAP_NET_ADMIN all of it; without, the kernel caps it at net.core.rmem_max (and
    # edumon logs a warning saying so)
    limit = Path("/proc/sys/net/core/rmem_max")
    cap = int(limit.read_text()) if limit.exists() else RECEIVE_BUFFER_BYTES
    assert granted >= min(RECEIVE_BUFFER_BYTES, cap)
