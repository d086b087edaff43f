"""Trap datagrams an attacker sends: SNMPv3 traps with huge engine ids and a wrong key, and
floods of valid v2c linkDown traps."""

from __future__ import annotations

import asyncio
import os
import random
import socket
from collections.abc import Iterable

from collectors.snmp import ber
from collectors.snmp.usm import UsmUser
from collectors.snmp.v3 import V3Message, encode_v3, flags_for

TRAP_OID = ber.encode_oid("1.3.6.1.6.3.1.1.4.1.0")
UPTIME = ber.VarBind(ber.encode_oid("1.3.6.1.2.1.1.3.0"), ber.TIMETICKS, ber.encode_unsigned(5))
LINK_DOWN = ber.VarBind(TRAP_OID, ber.OBJECT_ID, ber.encode_oid("1.3.6.1.6.3.1.1.5.3"))
IF_1 = ber.VarBind(ber.encode_oid("1.3.6.1.2.1.2.2.1.1.1"), ber.INTEGER, b"\x01")
FORGER = UsmUser(b"edumon", "sha256", b"an attacker's guess", "aes", b"another guess")


def forged_v3_trap(engine_id_bytes: int, user: UsmUser = FORGER) -> bytes:
    """A v3 authPriv linkDown with a random engine id of that many bytes, signed with a
    wrong key (the receiver must refuse it without keeping anything of it)."""
    engine_id = os.urandom(engine_id_bytes)
    message = V3Message(
        random.randrange(2**31),
        flags_for(user),
        engine_id,
        1,
        100,
        user.name,
        ber.TRAP_V2,
        1,
        varbinds=[UPTIME, LINK_DOWN, IF_1],
        context_engine_id=b"",
    )
    return encode_v3(message, user)


def link_down_v2c(community: bytes, request_id: int = 1) -> bytes:
    return ber.encode_message(community, ber.TRAP_V2, request_id, 0, 0, [UPTIME, LINK_DOWN, IF_1])


async def send_paced(host: str, port: int, datagrams: Iterable[bytes], per_second: float) -> int:
    """Send each datagram from one UDP socket, `per_second` of them a second; how many."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sent = 0
    loop = asyncio.get_running_loop()
    start = loop.time()
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for datagram in datagrams:
            try:
                sock.sendto(datagram, (host, port))
                sent += 1
            except BlockingIOError:
                await asyncio.sleep(0.001)
            ahead = start + sent / per_second - loop.time()
            if ahead > 0:
                await asyncio.sleep(ahead)
    return sent
