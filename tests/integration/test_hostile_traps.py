"""Hostile datagrams at the real trap socket: each refused one is counted by its reason and
complained about at most once a minute per sender and reason; an SNMPv3 authPriv linkDown
from a simulated switch is stored in a real InfluxDB; replayed and badly timed v3 traps are
refused and counted."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from collectors.snmp import ber
from collectors.snmp.traps import TrapReceiver, TrapSource
from collectors.snmp.usm import UsmUser
from collectors.snmp.v3 import V3Message, encode_v3, flags_for
from gateway.devstack.servers import InfluxDB1
from gateway.sample import Sample
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.switch import SimSwitch
from tests.integration.test_snmp_traps import COMMUNITY, TrapLab, lab, send  # noqa: F401
from tests.integration.test_writer_influxdb import make_writer

pytestmark = pytest.mark.integration
USER = UsmUser(b"traps", "sha256", b"test-only-trap-auth", "aes", b"test-only-trap-priv")
ENGINE = bytes.fromhex("80001f8880") + os.urandom(8)
UPTIME = ber.VarBind(ber.encode_oid("1.3.6.1.2.1.1.3.0"), ber.TIMETICKS, ber.encode_unsigned(5))
TRAP_OID = ber.encode_oid("1.3.6.1.6.3.1.1.4.1.0")
LINK_DOWN = ber.VarBind(TRAP_OID, ber.OBJECT_ID, ber.encode_oid("1.3.6.1.6.3.1.1.5.3"))
IF_49 = ber.VarBind(ber.encode_oid("1.3.6.1.2.1.2.2.1.1.49"), ber.INTEGER, b"\x31")


def v2c(varbinds: list[ber.VarBind], pdu: int = ber.TRAP_V2, community: bytes = COMMUNITY) -> bytes:
    return ber.encode_message(community, pdu, 7, 0, 0, varbinds)


def v3_trap(boots: int, engine_time: int, msg_id: int, user: UsmUser = USER) -> bytes:
    message = V3Message(
        msg_id,
        flags_for(user),
        ENGINE,
        boots,
        engine_time,
        user.name,
        ber.TRAP_V2,
        msg_id,
        varbinds=[UPTIME, LINK_DOWN, IF_49],
        context_engine_id=ENGINE,
    )
    return encode_v3(message, user)


async def settle(receiver: TrapReceiver, received: int) -> None:
    async with asyncio.timeout(5):
        while receiver.stats.received < received:  # noqa: ASYNC110 - counts datagrams
            await asyncio.sleep(0.01)


MALFORMED: list[tuple[bytes, str]] = [
    (b"", "malformed"),
    (b"garbage" * 20, "malformed"),
    (b"\x30\x03\x02\x01", "malformed"),
    (v2c([], pdu=ber.GET), "not_a_trap"),
    (v2c([UPTIME]), "not_a_trap"),
    (v2c([UPTIME, UPTIME]), "bad_trap_oid"),
    # the right community and an snmpTrapOID whose value is no OID: raised outside the handler
    (v2c([UPTIME, ber.VarBind(TRAP_OID, ber.OBJECT_ID, b"\x80")]), "malformed"),
    (v2c([UPTIME, LINK_DOWN], community=b"wrong"), "wrong_community"),
    (
        v3_trap(1, 100, 1, UsmUser(b"traps", "sha256", b"not-the-key", "aes", b"x" * 8)),
        "auth_failed",
    ),
    (v3_trap(1, 100, 2, UsmUser(b"intruder", "sha256", b"any-key-at-all")), "auth_failed"),
    (v3_trap(1, 100, 3, UsmUser(b"traps", "sha256", b"test-only-trap-auth")), "security_level"),
]


async def test_every_refused_datagram_is_counted_by_reason(
    lab: TrapLab,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    lab.receiver.users = {USER.name: USER}
    caplog.set_level(logging.WARNING)
    for packet, _ in MALFORMED:
        send(lab.receiver.port, packet)
    await settle(lab.receiver, len(MALFORMED))
    assert lab.receiver.stats.rejected == Counter(reason for _, reason in MALFORMED)
    assert "Exception in callback" not in caplog.text
    lab.fleet.flap("sw", 49, up=False)  # and it still works
    await lab.collected.wait(2)


async def test_complaints_are_limited_per_sender_and_reason_not_silenced(
    lab: TrapLab,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    for _ in range(50):
        send(lab.receiver.port, b"garbage")
        send(lab.receiver.port, v2c([UPTIME, LINK_DOWN], community=b"wrong"))
    await settle(lab.receiver, 100)
    complaints = [r.message for r in caplog.records if r.name == "collectors.snmp.traps"]
    assert len(complaints) == 2  # one per reason: the wrong community is not hidden
    assert any("(malformed)" in c for c in complaints)
    assert any("(wrong_community)" in c for c in complaints)
    assert lab.receiver.stats.rejected == {"malformed": 50, "wrong_community": 50}


async def test_replayed_and_badly_timed_v3_traps_are_refused(
    lab: TrapLab,  # noqa: F811
) -> None:
    lab.receiver.users = {USER.name: USER}
    first = v3_trap(boots=5, engine_time=10_000, msg_id=100)
    send(lab.receiver.port, first)
    await lab.collected.wait(2)  # taken: snmp_trap + interface
    send(lab.receiver.port, first)  # the same bytes again
    send(lab.receiver.port, v3_trap(boots=5, engine_time=10_000 - 1000, msg_id=101))  # late
    send(lab.receiver.port, v3_trap(boots=5, engine_time=10_000 + 1000, msg_id=102))  # early
    send(lab.receiver.port, v3_trap(boots=4, engine_time=10_001, msg_id=103))  # before reboot
    send(lab.receiver.port, v3_trap(boots=0, engine_time=0, msg_id=104))  # never synchronised
    await settle(lab.receiver, 6)
    assert lab.receiver.stats.rejected == {"replayed": 1, "not_in_time_window": 4}
    send(lab.receiver.port, v3_trap(boots=5, engine_time=10_002, msg_id=105))  # on time
    send(lab.receiver.port, v3_trap(boots=6, engine_time=3, msg_id=106))  # after a reboot
    await lab.collected.wait(6)
    assert lab.receiver.stats.accepted == 3


async def test_a_v3_auth_priv_link_down_is_stored_in_influxdb(
    influxdb: InfluxDB1, tmp_path: Path
) -> None:
    influxdb.create_database("traps")
    writer = make_writer(tmp_path, influxdb.url, "traps")
    receiver = TrapReceiver(
        "127.0.0.1",
        0,
        set(),  # no community at all: only the v3 user gets in
        {"127.0.0.1": TrapSource("school", "sw", "core")},
        interfaces=lambda device, index: ("Te1/0/1", "uplink") if index == 49 else None,
        users=[USER],
    )

    spooled = asyncio.Event()

    async def emit(samples: Sequence[Sample], *, collector: str, durable: bool = False) -> None:
        await writer.accept(samples)
        spooled.set()

    tasks = [asyncio.create_task(receiver.run(emit)), asyncio.create_task(writer.run())]
    await receiver.bound.wait()
    switch = SimSwitch("sw", seed=3, boot=time.time() - 3600)
    fleet = SnmpFleet(
        [(switch, "127.0.0.1", 0)], COMMUNITY, trap_receiver=("127.0.0.1", receiver.port)
    )
    await fleet.start()
    fleet.trap_user = USER
    try:
        fleet.flap("sw", 49, up=False)
        async with asyncio.timeout(5):
            await spooled.wait()
        assert await writer.drain(10)
    finally:
        fleet.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await writer.close()
    assert receiver.stats.accepted == 1 and not receiver.stats.rejected
    result = influxdb.query(
        'SELECT "oper_up" FROM "interface" WHERE "ifname" = \'Te1/0/1\'', db="traps"
    )
    [series] = result["results"][0]["series"]
    assert series["values"][0][1] is False
