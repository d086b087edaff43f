"""Traps from the simulated switches reach the pipeline at once; bad packets are only counted."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import pytest

from collectors.snmp import ber
from collectors.snmp.traps import TrapReceiver, TrapSource
from gateway.sample import Sample
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.switch import SimSwitch

pytestmark = pytest.mark.integration
COMMUNITY = b"test-only-community"


@dataclass
class Collected:
    samples: list[tuple[float, Sample]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(
        self, samples: Sequence[Sample], *, collector: str, durable: bool = False
    ) -> None:
        self.samples.extend((time.monotonic(), s) for s in samples)
        self.arrived.set()

    async def wait(self, count: int) -> None:
        async with asyncio.timeout(2):
            while len(self.samples) < count:
                self.arrived.clear()
                await self.arrived.wait()


@dataclass
class TrapLab:
    fleet: SnmpFleet
    receiver: TrapReceiver
    collected: Collected


@pytest.fixture
async def lab() -> AsyncIterator[TrapLab]:
    switch = SimSwitch("sw", seed=3, boot=time.time() - 3600)
    receiver = TrapReceiver(
        "127.0.0.1",
        0,
        {COMMUNITY},
        {"127.0.0.1": TrapSource("school", "sw", "core")},
        interfaces=lambda device, index: ("Te1/0/1", "uplink") if index == 49 else None,
    )
    collected = Collected()
    task = asyncio.create_task(receiver.run(collected))
    await receiver.bound.wait()
    fleet = SnmpFleet(
        [(switch, "127.0.0.1", 0)], COMMUNITY, trap_receiver=("127.0.0.1", receiver.port)
    )
    await fleet.start()
    yield TrapLab(fleet, receiver, collected)
    fleet.close()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_link_down_reaches_the_pipeline_within_milliseconds(lab: TrapLab) -> None:
    sent = time.monotonic()
    lab.fleet.flap("sw", 49, up=False)
    await lab.collected.wait(2)
    arrived, trap = lab.collected.samples[0]
    assert arrived - sent < 0.1
    assert trap.measurement == "snmp_trap" and trap.tags["trap"] == "linkDown"
    assert trap.fields["if_index"] == 49
    interface = lab.collected.samples[1][1]
    assert interface.measurement == "interface"
    assert interface.tags == {
        "site": "school",
        "device": "sw",
        "ifname": "Te1/0/1",
        "role": "uplink",
    }
    assert interface.fields == {"oper_up": False}
    lab.fleet.flap("sw", 49, up=True)
    await lab.collected.wait(4)
    assert lab.collected.samples[3][1].fields == {"oper_up": True}


async def test_cold_start_marks_a_reboot(lab: TrapLab) -> None:
    lab.fleet.reboot("sw")
    await lab.collected.wait(2)
    device = lab.collected.samples[1][1]
    assert device.measurement == "device" and device.fields == {"rebooted": True}


async def test_unknown_traps_are_recorded(lab: TrapLab) -> None:
    lab.fleet.send_trap("sw", "warmStart", [])
    vendor = ber.encode_message(
        COMMUNITY,
        ber.TRAP_V2,
        7,
        0,
        0,
        [
            ber.VarBind(ber.encode_oid("1.3.6.1.2.1.1.3.0"), ber.TIMETICKS, ber.encode_unsigned(5)),
            ber.VarBind(
                ber.encode_oid("1.3.6.1.6.3.1.1.4.1.0"),
                ber.OBJECT_ID,
                ber.encode_oid("1.3.6.1.4.1.9.9.41.2.0.1"),
            ),
        ],
    )
    send(lab.receiver.port, vendor)
    await lab.collected.wait(3)
    unknown = lab.collected.samples[2][1]
    assert (
        unknown.tags["trap"] == "unknown"
        and unknown.fields["trap_oid"] == "1.3.6.1.4.1.9.9.41.2.0.1"
    )
    assert lab.receiver.stats.unknown_trap == 1


async def test_informs_are_acknowledged(lab: TrapLab) -> None:
    inform = ber.encode_message(
        COMMUNITY,
        ber.INFORM,
        4242,
        0,
        0,
        [
            ber.VarBind(ber.encode_oid("1.3.6.1.2.1.1.3.0"), ber.TIMETICKS, ber.encode_unsigned(5)),
            ber.VarBind(
                ber.encode_oid("1.3.6.1.6.3.1.1.4.1.0"),
                ber.OBJECT_ID,
                ber.encode_oid("1.3.6.1.6.3.1.1.5.1"),
            ),
        ],
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(inform, ("127.0.0.1", lab.receiver.port))
        reply = ber.decode_message(await asyncio.to_thread(sock.recv, 2048))
    assert reply.pdu == ber.RESPONSE and reply.request_id == 4242


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        b"\x30\x03\x02\x01",
        b"garbage" * 20,
        ber.encode_message(COMMUNITY, ber.GET, 1, 0, 0, []),
    ],
)
async def test_malformed_packets_are_counted_never_fatal(lab: TrapLab, packet: bytes) -> None:
    send(lab.receiver.port, packet)
    send(lab.receiver.port, ber.encode_message(b"wrong", ber.TRAP_V2, 1, 0, 0, []))
    await asyncio.sleep(0.1)
    assert sum(lab.receiver.stats.rejected.values()) == 2  # by reason: test_hostile_traps
    assert lab.receiver.stats.rejected["wrong_community"] == 1
    lab.fleet.flap("sw", 49, up=False)  # and it still works
    await lab.collected.wait(2)


def send(port: int, data: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(data, ("127.0.0.1", port))


async def test_snmpv3_traps_are_authenticated(lab: TrapLab) -> None:
    from collectors.snmp.usm import UsmUser

    user = UsmUser(b"traps", "sha256", b"test-only-trap-auth", "aes", b"test-only-trap-priv")
    lab.receiver.users = {user.name: user}
    lab.fleet.trap_user = user
    lab.fleet.flap("sw", 49, up=False)
    await lab.collected.wait(2)
    assert lab.collected.samples[0][1].tags["trap"] == "linkDown"
    lab.fleet.trap_user = UsmUser(
        b"traps", "sha256", b"not-the-key-at-all", "aes", b"test-only-trap-priv"
    )
    lab.fleet.flap("sw", 49, up=True)
    await asyncio.sleep(0.1)
    assert lab.receiver.stats.rejected["auth_failed"] == 1 and len(lab.collected.samples) == 2
