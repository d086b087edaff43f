"""Spoofed SNMP replies on real loopback sockets: a reply with the right request-id from
another address or port, or with another community, is refused and counted, and the poll
still gets the agent's own answer."""

from __future__ import annotations

import asyncio
import socket

import pytest

from collectors.snmp import ber
from collectors.snmp.client import UdpSockets, V2cTransport

pytestmark = pytest.mark.integration
COMMUNITY = b"test-only-community"
SYS_NAME = ber.encode_oid("1.3.6.1.2.1.1.5.0")


def answer(request: bytes, value: bytes, community: bytes = COMMUNITY) -> bytes:
    asked = ber.decode_message(request)
    varbinds = [ber.VarBind(SYS_NAME, ber.OCTET_STRING, value)]
    return ber.encode_message(community, ber.RESPONSE, asked.request_id, 0, 0, varbinds)


def udp(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    return sock


async def test_only_the_asked_agent_with_its_community_is_believed() -> None:
    agent, other_host, other_port = udp("127.0.0.1"), udp("127.0.0.2"), udp("127.0.0.1")
    agent.setblocking(False)
    loop = asyncio.get_running_loop()

    async def spoofed_then_real() -> None:
        request, client = await loop.sock_recvfrom(agent, 4096)
        other_host.sendto(answer(request, b"forged by another host"), client)
        other_port.sendto(answer(request, b"forged from another port"), client)
        agent.sendto(answer(request, b"forged community", b"guessed"), client)
        await asyncio.sleep(0.2)  # the forgeries arrive first
        agent.sendto(answer(request, b"the real switch"), client)

    sockets = UdpSockets()
    transport = V2cTransport(
        sockets, "sw", "127.0.0.1", agent.getsockname()[1], COMMUNITY, timeout_s=5, retries=0
    )
    try:
        responder = asyncio.create_task(spoofed_then_real())
        [varbind] = await transport.get([SYS_NAME])
        await responder
    finally:
        sockets.close()
        for sock in (agent, other_host, other_port):
            sock.close()
    assert varbind.raw == b"the real switch"
    assert sockets.refused == {"wrong_address": 2, "wrong_community": 1}
