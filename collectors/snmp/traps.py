"""SNMP trap receiver (v2c traps and informs, authenticated v3 traps): samples at once.

linkDown / linkUp become an `interface` sample (oper_up) and coldStart / warmStart a `device`
sample (rebooted), so the alert path sees them within milliseconds. Every trap, known or not,
is also recorded as an `snmp_trap` sample (tags site, device, trap; fields trap_oid, if_index).
Malformed packets and wrong communities are counted and logged once per sender.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from collectors.snmp import ber
from collectors.snmp.usm import UsmError, UsmUser
from collectors.snmp.v3 import FLAG_AUTH, decode_v3, is_v3
from gateway.collector import CollectorEmit
from gateway.sample import FieldValue, Sample

log = logging.getLogger(__name__)

SNMP_TRAP_OID = ber.encode_oid("1.3.6.1.6.3.1.1.4.1.0")
IF_INDEX = ber.encode_oid("1.3.6.1.2.1.2.2.1.1")
TRAPS = {
    "1.3.6.1.6.3.1.1.5.1": "coldStart",
    "1.3.6.1.6.3.1.1.5.2": "warmStart",
    "1.3.6.1.6.3.1.1.5.3": "linkDown",
    "1.3.6.1.6.3.1.1.5.4": "linkUp",
}


@dataclass(frozen=True)
class TrapSource:
    site: str
    device: str
    role: str


@dataclass
class TrapStats:
    received: int = 0
    malformed: int = 0
    auth_failures: int = 0
    wrong_community: int = 0
    unknown_sender: int = 0
    unknown_trap: int = 0
    complained: set[str] = field(default_factory=set)


class TrapReceiver:
    name = "snmp-traps"

    def __init__(
        self,
        host: str,
        port: int,
        communities: set[bytes],
        sources: Mapping[str, TrapSource],
        interfaces: Callable[[str, int], tuple[str, str] | None] = lambda device, index: None,
        users: Sequence[UsmUser] = (),
    ) -> None:
        self.host, self.port = host, port
        self.communities = communities
        self.sources = sources
        self.interfaces = interfaces  # (device, ifIndex) -> (ifname, role), from the poller
        self.users = {user.name: user for user in users}
        self.stats = TrapStats()
        self.bound = asyncio.Event()

    async def run(self, emit: CollectorEmit) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[list[Sample]] = asyncio.Queue()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self, queue.put_nowait), local_addr=(self.host, self.port)
        )
        self.port = transport.get_extra_info("sockname")[1]
        self.bound.set()
        log.info("SNMP traps on udp %s:%d", self.host, self.port)
        try:
            while True:
                await emit(await queue.get(), collector=self.name)
        finally:
            transport.close()

    def handle(self, data: bytes, sender: str) -> tuple[list[Sample], bytes | None]:
        """Samples for one datagram, and the Response to send back for a v2c inform."""
        self.stats.received += 1
        try:
            trap = self._decode(data)
        except UsmError as error:
            self.stats.auth_failures += 1
            self._complain(sender, f"SNMPv3 trap from {sender} failed authentication: {error}")
            return [], None
        except ber.BerError as error:
            self.stats.malformed += 1
            self._complain(sender, f"malformed trap from {sender}: {error}")
            return [], None
        if trap is None:
            self.stats.wrong_community += 1
            self._complain(sender, f"trap from {sender} with an unknown community, ignored")
            return [], None
        pdu, request_id, varbinds, community = trap
        source = self.sources.get(sender)
        if source is None:
            self.stats.unknown_sender += 1
            self._complain(sender, f"trap from {sender}, which is not in the inventory")
            source = TrapSource("unknown", "unknown", "unknown")
        samples = self._samples(source, ber.oid_text(varbinds[1].raw), varbinds, sender)
        reply = None
        if pdu == ber.INFORM and community is not None:
            reply = ber.encode_message(community, ber.RESPONSE, request_id, 0, 0, varbinds)
        return samples, reply

    def _decode(self, data: bytes) -> tuple[int, int, list[ber.VarBind], bytes | None] | None:
        """(pdu, request-id, varbinds, community or None for v3); None for a wrong community.

        SNMPv3 traps must be authenticated by a configured user (keys localised with the
        sending switch's engine id, which is authoritative for traps)."""
        if is_v3(data):
            v3_message = decode_v3(data, self.users.get)
            if not v3_message.flags & FLAG_AUTH:
                raise UsmError("unauthenticated SNMPv3 trap")
            pdu, request_id, varbinds, community = (
                v3_message.pdu,
                v3_message.request_id,
                v3_message.varbinds,
                None,
            )
        else:
            message = ber.decode_message(data)
            if message.community not in self.communities:
                return None
            pdu, request_id, varbinds = message.pdu, message.request_id, message.varbinds
            community = message.community
        if pdu not in (ber.TRAP_V2, ber.INFORM) or len(varbinds) < 2:
            raise ber.BerError(f"not an SNMPv2 trap (PDU 0x{pdu:02x})")
        if varbinds[1].oid != SNMP_TRAP_OID or varbinds[1].tag != ber.OBJECT_ID:
            raise ber.BerError("second varbind is not snmpTrapOID.0")
        return pdu, request_id, varbinds, community

    def _samples(
        self, source: TrapSource, trap_oid: str, varbinds: list[ber.VarBind], sender: str
    ) -> list[Sample]:
        now = time.time_ns()
        trap = TRAPS.get(trap_oid, "unknown")
        if trap == "unknown":
            self.stats.unknown_trap += 1
        if_index = next(
            (
                int.from_bytes(vb.raw, "big", signed=True)
                for vb in varbinds
                if vb.oid.startswith(IF_INDEX) and vb.tag == ber.INTEGER
            ),
            None,
        )
        fields: dict[str, FieldValue] = {"trap_oid": trap_oid, "sender": sender}
        if if_index is not None:
            fields["if_index"] = if_index
        samples = [
            Sample(
                "snmp_trap",
                {"site": source.site, "device": source.device, "trap": trap},
                fields,
                now,
            )
        ]
        device_tags = {"site": source.site, "device": source.device, "role": source.role}
        if trap in ("linkDown", "linkUp") and if_index is not None:
            ifname, role = self.interfaces(source.device, if_index) or (str(if_index), "unknown")
            tags = {"site": source.site, "device": source.device, "ifname": ifname, "role": role}
            samples.append(Sample("interface", tags, {"oper_up": trap == "linkUp"}, now))
        elif trap in ("coldStart", "warmStart"):
            samples.append(Sample("device", device_tags, {"rebooted": True}, now))
        return samples

    def _complain(self, sender: str, message: str) -> None:
        if sender not in self.stats.complained:
            self.stats.complained.add(sender)
            log.warning("%s (further ones from this sender are only counted)", message)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, receiver: TrapReceiver, deliver: Callable[[list[Sample]], None]) -> None:
        self.receiver = receiver
        self.deliver = deliver
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        samples, reply = self.receiver.handle(data, str(addr[0]))
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)
        if samples:
            self.deliver(samples)
