"""SNMPv2c over UDP with the lean codec: one socket per address family for every device,
replies matched by request-id, timeouts and retries per request, GETBULK column walks.

A reply is taken only from the address and port the request went to, with the request-id
(v3: msgID) asked and, for v1/v2c, the community sent; anything else is counted in
`UdpSockets.refused` by reason and the request keeps waiting for the real answer.

`SnmpTransport` is the boundary the poller sees (as in snmp_exporter's scraper): tests may
substitute it, and the SNMPv3 transport (v3_transport.py, on the same codec and sockets with
USM) implements the same methods.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import itertools
import logging
import random
import socket
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from collectors.snmp import ber
from collectors.snmp.v3 import is_v3, v3_message_id
from gateway.collector import CollectorError

log = logging.getLogger(__name__)


class SnmpError(CollectorError):
    """No usable answer from an agent; the message names the device."""


@dataclass
class RequestStats:
    requests: int = 0
    retries: int = 0
    timeouts: int = 0
    malformed: int = 0
    varbinds: int = 0
    # column walks stopped because the agent's OIDs did not increase (a loop or a step back)
    not_increasing: int = 0


class SnmpTransport(Protocol):
    stats: RequestStats

    async def get(self, oids: Sequence[bytes]) -> list[ber.VarBind]: ...

    async def bulk(self, oids: Sequence[bytes], max_repetitions: int) -> list[ber.VarBind]: ...


class Reply(NamedTuple):
    data: bytes
    message: ber.Message | None  # decoded already for v1/v2c; None for v3


RECEIVE_BUFFER_BYTES = 8 << 20  # answers in flight (64 polls x up to 64 KB) with room to spare
SEND_BUFFER_BYTES = 1 << 20
# Linux's SO_RCVBUFFORCE/SO_SNDBUFFORCE (Python's socket module does not name them)
FORCED = {socket.SO_RCVBUF: 33, socket.SO_SNDBUF: 32} if sys.platform == "linux" else {}


class _Pending(NamedTuple):
    future: asyncio.Future[Reply | None]  # None: no reply in time
    address: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]  # asked
    community: bytes | None  # v1/v2c: the community sent; None for v3


class UdpSockets:
    """Shared UDP sockets (IPv4 and IPv6) and the request-id table for all v2c devices."""

    def __init__(self) -> None:
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(random.randrange(1, 2**30))
        self._endpoints: dict[int, asyncio.DatagramTransport] = {}
        self.malformed = 0
        self.refused: Counter[str] = Counter()  # replies not taken, by reason
        self.receive_buffer_bytes = 0  # as the kernel granted it (for the log and the bench)

    async def endpoint(self, family: int) -> asyncio.DatagramTransport:
        if family not in self._endpoints:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Receiver(self), sock=self._socket(family)
            )
            self._endpoints[family] = transport
        return self._endpoints[family]

    def _socket(self, family: int) -> socket.socket:
        """A UDP socket whose receive buffer holds every answer in flight: with up to
        `max_concurrent` GETBULK answers of tens of KB arriving while the loop decodes, the
        kernel's default (about 208 KB) overflows and drops them (RcvbufErrors), and each
        drop costs a timeout and a retry."""
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            for option, size in (
                (socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES),
                (socket.SO_SNDBUF, SEND_BUFFER_BYTES),
            ):
                try:  # with CAP_NET_ADMIN the size may exceed net.core.[rw]mem_max
                    sock.setsockopt(socket.SOL_SOCKET, FORCED[option], size)
                except (KeyError, OSError):
                    sock.setsockopt(socket.SOL_SOCKET, option, size)
            # Linux reports twice the size it granted (the doubled part is its bookkeeping)
            self.receive_buffer_bytes = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2
            if self.receive_buffer_bytes < RECEIVE_BUFFER_BYTES:
                log.warning(
                    "SNMP socket receive buffer is %d KB, not %d KB: raise net.core.rmem_max "
                    "or answers may be dropped when many polls are in flight",
                    self.receive_buffer_bytes // 1024,
                    RECEIVE_BUFFER_BYTES // 1024,
                )
            sock.bind(("0.0.0.0", 0) if family == socket.AF_INET else ("::", 0))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    def next_id(self) -> int:
        return next(self._ids) % 2**31

    def delivered(self, data: bytes, sender: tuple[str | int, ...]) -> None:
        """Match a datagram to its request: v1/v2c are decoded here once (the waiting request
        gets the message); v3 needs the user's keys, so only its msgID is read here (the v3
        transport authenticates it and checks the engine)."""
        try:
            if is_v3(data):
                reply, request_id = Reply(data, None), v3_message_id(data)
            else:
                message = ber.decode_message(data)
                reply, request_id = Reply(data, message), message.request_id
        except ber.BerError:
            self.malformed += 1
            return
        pending = self._pending.get(request_id)
        if pending is None or pending.future.done():
            return
        if _address(sender) != pending.address:
            self.refused["wrong_address"] += 1
        elif (reply.message is None) != (pending.community is None):
            self.refused["wrong_version"] += 1
        elif reply.message is not None and reply.message.community != pending.community:
            self.refused["wrong_community"] += 1
        else:
            pending.future.set_result(reply)

    async def exchange(
        self,
        request_id: int,
        wire: bytes,
        host: str,
        port: int,
        *,
        timeout_s: float,
        retries: int,
        stats: RequestStats,
        name: str,
        community: bytes | None = None,
    ) -> Reply:
        """Send `wire` (re-sent on timeout) and return the datagram answering `request_id`
        from `host`:`port` (with `community`, for v1/v2c)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        endpoint = await self.endpoint(family)
        ip = await _resolve(host, family)
        loop = asyncio.get_running_loop()
        try:
            for attempt in range(retries + 1):
                stats.requests += 1
                stats.retries += attempt > 0
                # a future per try that the reply or a timer ends (None: the timer); cheaper
                # than a timeout around a shield
                future: asyncio.Future[Reply | None] = loop.create_future()
                self._pending[request_id] = _Pending(future, (ip, port), community)
                endpoint.sendto(wire, (str(ip), port))
                timer = loop.call_later(timeout_s, _time_out, future)
                try:
                    reply = await future
                finally:
                    timer.cancel()
                if reply is not None:
                    return reply
                stats.timeouts += 1
            raise SnmpError(
                f"{name}: no answer from {host}:{port} after {retries + 1} tries of {timeout_s:g} s"
            )
        finally:
            self._pending.pop(request_id, None)

    def close(self) -> None:
        for transport in self._endpoints.values():
            transport.close()
        self._endpoints.clear()


def _time_out(future: asyncio.Future[Reply | None]) -> None:
    if not future.done():
        future.set_result(None)


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, sockets: UdpSockets) -> None:
        self.sockets = sockets

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.sockets.delivered(data, addr)


def _address(
    sender: tuple[str | int, ...],
) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int] | None:
    try:
        return _ip(str(sender[0]).split("%")[0]), int(sender[1])
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An IP address from its text (parsed once per address: every request and reply asks)."""
    return ipaddress.ip_address(text)


async def _resolve(host: str, family: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address a reply must come from: the host itself, or what its name resolves to."""
    try:
        return _ip(host)
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, family=family)
    except OSError as error:
        raise SnmpError(f"cannot resolve {host}: {error}") from error
    return ipaddress.ip_address(infos[0][4][0])


@dataclass
class UdpDevice:
    """One agent reached over the shared sockets; subclasses build and read the messages."""

    sockets: UdpSockets
    name: str
    host: str
    port: int
    timeout_s: float = field(default=2.0, kw_only=True)
    retries: int = field(default=1, kw_only=True)
    stats: RequestStats = field(default_factory=RequestStats, kw_only=True)

    async def get(self, oids: Sequence[bytes]) -> list[ber.VarBind]:
        return await self._request(ber.GET, 0, 0, oids)

    async def bulk(self, oids: Sequence[bytes], max_repetitions: int) -> list[ber.VarBind]:
        return await self._request(ber.GET_BULK, 0, max_repetitions, oids)

    async def _request(self, pdu: int, a: int, b: int, oids: Sequence[bytes]) -> list[ber.VarBind]:
        raise NotImplementedError

    async def _send(self, request_id: int, wire: bytes, community: bytes | None = None) -> Reply:
        return await self.sockets.exchange(
            request_id,
            wire,
            self.host,
            self.port,
            timeout_s=self.timeout_s,
            retries=self.retries,
            stats=self.stats,
            name=self.name,
            community=community,
        )


@dataclass
class V2cTransport(UdpDevice):
    community: bytes

    async def _request(self, pdu: int, a: int, b: int, oids: Sequence[bytes]) -> list[ber.VarBind]:
        request_id = self.sockets.next_id()
        varbinds = [ber.VarBind(oid, ber.NULL, b"") for oid in oids]
        wire = ber.encode_message(self.community, pdu, request_id, a, b, varbinds)
        message = (await self._send(request_id, wire, self.community)).message
        assert message is not None  # a v1/v2c answer, decoded on arrival
        return checked(
            self.name, message.error_status, message.error_index, message.varbinds, self.stats
        )


def checked(
    name: str, error_status: int, error_index: int, varbinds: list[ber.VarBind], stats: RequestStats
) -> list[ber.VarBind]:
    if error_status:
        raise SnmpError(f"{name}: agent error-status {error_status} at varbind {error_index}")
    stats.varbinds += len(varbinds)
    return varbinds


async def walk_columns(
    transport: SnmpTransport, columns: Sequence[bytes], max_repetitions: int = 25
) -> dict[bytes, dict[tuple[int, ...], ber.VarBind]]:
    """Walk table columns together with GETBULK: {column: {row index: varbind}}.

    Never leaves a column's subtree (the classic lexicographic-mode trap), copes with agents
    that return fewer varbinds than asked, and stops a column at endOfMibView or noSuch*.
    A column whose OIDs do not strictly increase (an agent looping or stepping back) is stopped
    there and counted in `stats.not_increasing` (logged once per device): such an agent costs
    one walk per column, never a walk until the poll's deadline.
    """
    rows: dict[bytes, dict[tuple[int, ...], ber.VarBind]] = {c: {} for c in columns}
    cursor = {c: c for c in columns}
    indexes: dict[bytes, tuple[int, ...]] = {}  # the columns of a table share their row indexes
    active = list(columns)
    while active:
        varbinds = await transport.bulk([cursor[c] for c in active], max_repetitions)
        finished: set[bytes] = set()
        progressed = False
        for position, column in enumerate(active):
            # the answer repeats the columns in the order asked: this column's varbinds are
            # every len(active)-th from its position
            repetitions = varbinds[position :: len(active)]
            taken, backwards = _take_column(column, repetitions, rows[column], cursor, indexes)
            if backwards:
                _not_increasing(transport, column)
            if taken < len(repetitions):
                finished.add(column)
            progressed = progressed or taken > 0
        if not progressed and not finished:
            raise SnmpError("the agent's GETBULK answers make no progress")
        active = [c for c in active if c not in finished]
    return rows


def _not_increasing(transport: SnmpTransport, column: bytes) -> None:
    transport.stats.not_increasing += 1
    if transport.stats.not_increasing == 1:
        log.warning(
            "%s: the agent's OIDs do not increase in column %s; such columns stop there "
            "(counted in requests not_increasing, not logged again)",
            getattr(transport, "name", "agent"),
            ber.oid_text(column),
        )


def _take_column(
    column: bytes,
    varbinds: list[ber.VarBind],
    table: dict[tuple[int, ...], ber.VarBind],
    cursor: dict[bytes, bytes],
    indexes: dict[bytes, tuple[int, ...]],
) -> tuple[int, bool]:
    """Store one column's varbinds by row index, up to the first that ends the column (past
    its subtree, an exception, or an index not after the last one); move its cursor; return
    how many were taken and whether the column ended by not increasing."""
    prefix_length, last = len(column), cursor[column]
    last_index = indexes.get(last[prefix_length:], ())  # () is before every row
    taken = 0
    for varbind in varbinds:
        oid = varbind.oid
        if len(oid) <= prefix_length or not oid.startswith(column) or varbind.tag in ber.EXCEPTIONS:
            break
        suffix = oid[prefix_length:]
        index = indexes.get(suffix)
        if index is None:
            index = indexes[suffix] = ber.oid_suffix(oid, column)
        if index <= last_index:  # compared as numbers: BER bytes do not sort like OIDs
            cursor[column] = last
            return taken, True
        table[index] = varbind
        last, last_index = oid, index
        taken += 1
    cursor[column] = last
    return taken, False
