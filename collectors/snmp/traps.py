"""SNMP trap receiver (v2c traps and informs, authenticated v3 traps): samples at once.

linkDown / linkUp become an `interface` sample (oper_up) and coldStart / warmStart a `device`
sample (rebooted), so the alert path sees them within milliseconds. Every trap, known or not,
is also recorded as an `snmp_trap` sample (tags site, device, trap; fields trap_oid, if_index).

SNMPv3 traps are taken from the configured `users` only, authenticated (and decrypted), at
least at the user's own security level, and within the engine-time window of RFC 3414
(collectors.snmp.trap_time). Every datagram that is refused is counted by reason
(`stats.rejected`), and complaints are logged at most once a minute per sender and reason.
Tag values never come from the datagram: site and device from the inventory (the sender by
address, collectors.snmp.trap_sources), the trap name
from a fixed set, ifname from the poller (or the ifIndex, at most MAX_UNMAPPED per device).

Samples wait for the pipeline in a bounded queue: while the pipeline is blocked (a full state
disk, a held sink) the oldest trap is dropped for the newest (collectors.snmp.trap_queue).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from collectors.snmp import ber, trap_engines
from collectors.snmp.trap_queue import TrapQueue
from collectors.snmp.trap_sources import TrapSource, TrapSources
from collectors.snmp.trap_time import NotInTimeWindow, TrapTimeliness
from collectors.snmp.usm import UsmError, UsmUser
from collectors.snmp.v3 import FLAG_AUTH, FLAG_PRIV, decode_v3, flags_for, is_v3
from gateway.collector import CollectorEmit
from gateway.limits import LIMITS
from gateway.log_limit import LogLimit
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
MAX_UNMAPPED = LIMITS["snmp_trap_unmapped_if_indexes"]  # ifIndexes the poller has not named
COMPLAIN_EVERY_S = 60.0
UNATTRIBUTED = {
    "unknown_sender": "not in the inventory; recorded only",
    "ambiguous_sender": "several devices have this address and the trap names none of them "
    "(snmpTrapAddress.0, sysName.0); recorded only",
}


class Refused(Exception):
    """A datagram that is not taken: `reason` is the counter's label, the text the log's."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class TrapStats:
    received: int = 0
    accepted: int = 0
    unknown_sender: int = 0
    unknown_trap: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> datagrams

    def totals(self) -> dict[tuple[str, str], int]:
        """(outcome, reason) -> count, for the collector's health object."""
        counts = {("rejected", reason): n for reason, n in self.rejected.items()}
        counts["accepted", ""] = self.accepted - self.unknown_sender - self.unknown_trap
        counts["accepted", "unknown_sender"] = self.unknown_sender
        counts["accepted", "unknown_trap"] = self.unknown_trap
        counts["received", ""] = self.received
        return counts


# pdu, request-id, varbinds, community (v2c), the sending engine's id (v3)
_Trap = tuple[int, int, list[ber.VarBind], bytes | None, bytes]


class TrapReceiver:
    name = "snmp-traps"

    def __init__(
        self,
        host: str,
        port: int,
        communities: set[bytes],
        sources: Mapping[str, TrapSource] | TrapSources,
        interfaces: Callable[[str, int], tuple[str, str] | None] = lambda device, index: None,
        users: Sequence[UsmUser] = (),
        engines_path: Path | None = None,  # where engine clocks outlive a restart
    ) -> None:
        self.host, self.port = host, port
        self.communities = communities
        self.sources = TrapSources.of(sources)
        self.interfaces = interfaces  # (device, ifIndex) -> (ifname, role), from the poller
        self.users = {user.name: user for user in users}
        self.stats = TrapStats()
        self.queue = TrapQueue()
        self.timeliness = TrapTimeliness()
        self.engines_path = engines_path
        self.bound = asyncio.Event()
        self._complaints = LogLimit(COMPLAIN_EVERY_S)
        self._unmapped: dict[str, set[int]] = {}

    async def run(self, emit: CollectorEmit) -> None:
        loop = asyncio.get_running_loop()
        queue = self.queue
        if self.engines_path is not None:
            restored = trap_engines.load(self.timeliness, self.engines_path)
            log.info("SNMP traps: %d engines' clocks restored", restored)
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self, queue.put), local_addr=(self.host, self.port)
        )
        self.port = transport.get_extra_info("sockname")[1]
        self.bound.set()
        log.info("SNMP traps on udp %s:%d", self.host, self.port)
        keeper = None
        if self.engines_path is not None:
            keeper = asyncio.create_task(trap_engines.keep(self.timeliness, self.engines_path))
        try:
            while True:
                await emit(await queue.get(), collector=self.name)
        finally:
            transport.close()
            if keeper is not None:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)

    def handle(self, data: bytes, sender: str) -> tuple[list[Sample], bytes | None]:
        """Samples for one datagram, and the Response to send back for a v2c inform. Never
        raises: whatever is wrong with a datagram is counted by reason."""
        self.stats.received += 1
        try:
            pdu, request_id, varbinds, community, engine_id = self._decode(data)
            source, why = self.sources.find(sender, varbinds, engine_id)
            if source is None:
                self.stats.unknown_sender += 1
                self._complain(sender, why, UNATTRIBUTED[why])
            samples = self._samples(source, varbinds, sender)
        except Refused as refused:
            self.stats.rejected[refused.reason] += 1
            self._complain(sender, refused.reason, str(refused))
            return [], None
        except Exception as error:  # a bug must cost one datagram, never the receiver
            self.stats.rejected["internal_error"] += 1
            self._complain(sender, "internal_error", f"{type(error).__name__}: {error}")
            log.debug("trap from %s could not be handled", sender, exc_info=True)
            return [], None
        self.stats.accepted += 1
        reply = None
        if pdu == ber.INFORM and community is not None:
            reply = ber.encode_message(community, ber.RESPONSE, request_id, 0, 0, varbinds)
        return samples, reply

    def _decode(self, data: bytes) -> _Trap:
        try:
            pdu, request_id, varbinds, community, engine_id = (
                self._decode_v3(data) if is_v3(data) else self._decode_community(data)
            )
            if pdu not in (ber.TRAP_V2, ber.INFORM) or len(varbinds) < 2:
                raise Refused("not_a_trap", f"not an SNMPv2 trap (PDU 0x{pdu:02x})")
            if varbinds[1].oid != SNMP_TRAP_OID or varbinds[1].tag != ber.OBJECT_ID:
                raise Refused("bad_trap_oid", "the second varbind is not snmpTrapOID.0")
            ber.oid_text(varbinds[1].raw)  # its value must be a well-formed OID
        except ber.BerError as error:
            raise Refused("malformed", f"malformed: {error}") from error
        return pdu, request_id, varbinds, community, engine_id

    def _decode_community(self, data: bytes) -> _Trap:
        message = ber.decode_message(data)
        if message.community not in self.communities:
            raise Refused("wrong_community", "unknown community, ignored")
        return message.pdu, message.request_id, message.varbinds, message.community, b""

    def _decode_v3(self, data: bytes) -> _Trap:
        """Authenticated by a configured user (keys localised with the sending switch's
        engine id, which is authoritative for traps) and in its engine's time window."""
        try:
            message = decode_v3(data, self.users.get)
        except UsmError as error:
            raise Refused("auth_failed", f"SNMPv3 trap failed authentication: {error}") from error
        user = self.users.get(message.user)
        if not message.flags & FLAG_AUTH or user is None:
            raise Refused("unauthenticated", "SNMPv3 trap without authentication")
        if flags_for(user) & FLAG_PRIV and not message.flags & FLAG_PRIV:
            raise Refused("security_level", f"user {user.name!r} must send encrypted traps")
        try:
            self.timeliness.check(message.engine_id, message.boots, message.time, message.msg_id)
        except NotInTimeWindow as error:
            raise Refused(error.reason, f"SNMPv3 trap refused: {error}") from error
        return message.pdu, message.request_id, message.varbinds, None, message.engine_id

    def _samples(
        self, source: TrapSource | None, varbinds: list[ber.VarBind], sender: str
    ) -> list[Sample]:
        now = time.time_ns()
        trap_oid = ber.oid_text(varbinds[1].raw)
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
        site, device = (source.site, source.device) if source else ("unknown", "unknown")
        tags = {"site": site, "device": device, "trap": trap}
        samples = [Sample("snmp_trap", tags, fields, now)]
        if source is None:  # a stranger's trap says nothing about any device of ours
            return samples
        if trap in ("linkDown", "linkUp") and if_index is not None:
            named = self._interface(source.device, if_index)
            if named is not None:
                ifname, role = named
                tags = {"site": site, "device": device, "ifname": ifname, "role": role}
                samples.append(Sample("interface", tags, {"oper_up": trap == "linkUp"}, now))
        elif trap in ("coldStart", "warmStart"):
            tags = {"site": site, "device": device, "role": source.role}
            samples.append(Sample("device", tags, {"rebooted": True}, now))
        return samples

    def _interface(self, device: str, if_index: int) -> tuple[str, str] | None:
        """The poller's name and role of the interface; before the poller knows it, the
        ifIndex itself, for at most MAX_UNMAPPED ifIndexes per device."""
        named = self.interfaces(device, if_index)
        if named is not None:
            return named
        unmapped = self._unmapped.setdefault(device, set())
        if if_index not in unmapped and (len(unmapped) >= MAX_UNMAPPED or not 0 < if_index < 2**31):
            self.stats.rejected["unmapped_if_index"] += 1
            return None
        unmapped.add(if_index)
        return str(if_index), "unknown"

    def _complain(self, sender: str, reason: str, message: str) -> None:
        skipped = self._complaints.take((sender, reason))
        if skipped is not None:
            more = f"; {skipped} more since the last report" if skipped else ""
            log.warning("trap from %s: %s (%s%s)", sender, message, reason, more)


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
