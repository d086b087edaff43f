"""SNMPv2c over UDP with the lean codec: one socket per address family for every device,
replies matched by request-id, timeouts and retries per request, GETBULK column walks.

`SnmpTransport` is the boundary the poller sees (as in snmp_exporter's scraper): tests may
substitute it, and the SNMPv3 transport (pysnmp's engine) implements the same methods.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from collectors.snmp import ber
from gateway.collector import CollectorError


class SnmpError(CollectorError):
    """No usable answer from an agent; the message names the device."""


@dataclass
class RequestStats:
    requests: int = 0
    retries: int = 0
    timeouts: int = 0
    malformed: int = 0
    varbinds: int = 0


class SnmpTransport(Protocol):
    stats: RequestStats

    async def get(self, oids: Sequence[bytes]) -> list[ber.VarBind]: ...

    async def bulk(self, oids: Sequence[bytes], max_repetitions: int) -> list[ber.VarBind]: ...


class UdpSockets:
    """Shared UDP sockets (IPv4 and IPv6) and the request-id table for all v2c devices."""

    def __init__(self) -> None:
        self._pending: dict[int, asyncio.Future[bytes]] = {}
        self._ids = itertools.count(random.randrange(1, 2**30))
        self._endpoints: dict[int, asyncio.DatagramTransport] = {}
        self.malformed = 0

    async def endpoint(self, family: int) -> asyncio.DatagramTransport:
        if family not in self._endpoints:
            loop = asyncio.get_running_loop()
            local = ("0.0.0.0", 0) if family == socket.AF_INET else ("::", 0)
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Receiver(self), local_addr=local, family=family
            )
            self._endpoints[family] = transport
        return self._endpoints[family]

    def next_id(self) -> int:
        return next(self._ids) % 2**31

    def delivered(self, data: bytes) -> None:
        # the request-id sits at a fixed depth; decoding the whole message here would double
        # the work, so peek it and let the waiting request decode the rest
        try:
            request_id = ber.decode_message(data).request_id
        except ber.BerError:
            self.malformed += 1
            return
        future = self._pending.get(request_id)
        if future is not None and not future.done():
            future.set_result(data)

    def close(self) -> None:
        for transport in self._endpoints.values():
            transport.close()
        self._endpoints.clear()


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, sockets: UdpSockets) -> None:
        self.sockets = sockets

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.sockets.delivered(data)


@dataclass
class V2cTransport:
    """One device over the shared sockets."""

    sockets: UdpSockets
    name: str
    host: str
    port: int
    community: bytes
    timeout_s: float = 2.0
    retries: int = 1
    stats: RequestStats = field(default_factory=RequestStats)

    async def get(self, oids: Sequence[bytes]) -> list[ber.VarBind]:
        return await self._request(ber.GET, 0, 0, oids)

    async def bulk(self, oids: Sequence[bytes], max_repetitions: int) -> list[ber.VarBind]:
        return await self._request(ber.GET_BULK, 0, max_repetitions, oids)

    async def _request(self, pdu: int, a: int, b: int, oids: Sequence[bytes]) -> list[ber.VarBind]:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        endpoint = await self.sockets.endpoint(family)
        request_id = self.sockets.next_id()
        varbinds = [ber.VarBind(oid, ber.NULL, b"") for oid in oids]
        wire = ber.encode_message(self.community, pdu, request_id, a, b, varbinds)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.sockets._pending[request_id] = future
        try:
            for attempt in range(self.retries + 1):
                self.stats.requests += 1
                self.stats.retries += attempt > 0
                endpoint.sendto(wire, (self.host, self.port))
                try:
                    async with asyncio.timeout(self.timeout_s):
                        data = await asyncio.shield(future)
                    break
                except TimeoutError:
                    self.stats.timeouts += 1
            else:
                raise SnmpError(
                    f"{self.name}: no answer from {self.host}:{self.port} after "
                    f"{self.retries + 1} tries of {self.timeout_s:g} s"
                )
        finally:
            self.sockets._pending.pop(request_id, None)
        try:
            message = ber.decode_message(data)
        except ber.BerError as error:  # pragma: no cover - filtered in `delivered`
            self.stats.malformed += 1
            raise SnmpError(f"{self.name}: malformed answer: {error}") from error
        if message.error_status:
            raise SnmpError(
                f"{self.name}: agent error-status {message.error_status} at {message.error_index}"
            )
        self.stats.varbinds += len(message.varbinds)
        return message.varbinds


async def walk_columns(
    transport: SnmpTransport, columns: Sequence[bytes], max_repetitions: int = 25
) -> dict[bytes, dict[tuple[int, ...], ber.VarBind]]:
    """Walk table columns together with GETBULK: {column: {row index: varbind}}.

    Never leaves a column's subtree (the classic lexicographic-mode trap), copes with agents
    that return fewer varbinds than asked, and stops a column at endOfMibView or noSuch*.
    """
    rows: dict[bytes, dict[tuple[int, ...], ber.VarBind]] = {c: {} for c in columns}
    cursor = {c: c for c in columns}
    active = list(columns)
    while active:
        varbinds = await transport.bulk([cursor[c] for c in active], max_repetitions)
        finished: set[bytes] = set()
        progressed = False
        for i, varbind in enumerate(varbinds):
            column = active[i % len(active)]
            if column in finished:
                continue
            inside = varbind.oid.startswith(column) and len(varbind.oid) > len(column)
            if not inside or varbind.tag in ber.EXCEPTIONS or varbind.oid == cursor[column]:
                finished.add(column)
                continue
            rows[column][ber.oid_suffix(varbind.oid, column)] = varbind
            cursor[column] = varbind.oid
            progressed = True
        if not progressed and not finished:
            raise SnmpError("the agent's GETBULK answers make no progress")
        active = [c for c in active if c not in finished]
    return rows
