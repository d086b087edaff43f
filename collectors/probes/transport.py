"""Shared probe sockets and one asyncio receive path for all probes.

Per address family: a raw ICMP(v6) socket (echo requests out; echo replies and ICMP errors in)
and a raw TCP socket (SYN out; SYN-ACK / RST in), plus a UDP socket for DNS queries. Replies
are matched to waiting probes by key (see packets.py); receive times come from the kernel
(SO_TIMESTAMPNS), so RTTs do not include event-loop latency. Unlike scapy's `sr()`, nothing
blocks: hundreds of probes share these sockets.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import os
import random
import socket
import struct
import time
from dataclasses import dataclass

from collectors.probes.packets import (
    Family,
    Key,
    Reply,
    dns_query,
    echo_request,
    parse_icmp,
    parse_tcp,
    tcp_syn,
)

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
# Our SYN source ports lie above Linux's default ephemeral range (32768-60999), so they never
# collide with the kernel's own connections.
TCP_PORTS = range(61000, 65536)


class RawSocketsUnavailable(Exception):
    """No root / CAP_NET_RAW: raw sockets cannot be opened."""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    outcome: str  # echo | open | closed | dns | unreachable | timeout | error
    rtt_ms: float | None = None
    detail: str = ""
    payload: bytes = b""


@dataclass
class _Pending:
    future: asyncio.Future[ProbeResult]
    sent_ns: int
    expect_ack: int | None = None


class ProbeTransport:
    def __init__(self, *, raw: bool = True) -> None:
        self.raw = raw
        self._loop = asyncio.get_running_loop()
        self._pending: dict[Key, _Pending] = {}
        self._sockets: dict[tuple[str, Family], socket.socket] = {}
        self._ident = (os.getpid() ^ random.getrandbits(16)) & 0xFFFF
        self._seq = itertools.cycle(range(65536))
        self._ports = itertools.cycle(TCP_PORTS)
        self._sources: dict[str, str] = {}
        self.malformed = 0
        for family in (4, 6):
            self._open("dns", family, socket.SOCK_DGRAM, 0)
            if raw:
                self._open("icmp", family, socket.SOCK_RAW, _ICMP_PROTOCOL[family])
                self._open("tcp", family, socket.SOCK_RAW, socket.IPPROTO_TCP)

    def _open(self, kind: str, family: Family, sock_type: int, protocol: int) -> None:
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        try:
            sock = socket.socket(af, sock_type, protocol)
        except PermissionError as error:
            self.close()
            raise RawSocketsUnavailable("raw sockets need root or CAP_NET_RAW") from error
        except OSError as error:
            if error.errno == errno.EAFNOSUPPORT:  # no IPv6 on this host
                return
            raise
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        if sock_type == socket.SOCK_DGRAM:
            sock.bind(("0.0.0.0", 0) if family == 4 else ("::", 0))
        self._sockets[(kind, family)] = sock
        self._loop.add_reader(sock.fileno(), self._on_readable, kind, family, sock)

    # ------------------------------------------------------------------ probes
    async def echo(self, address: str, family: Family, timeout_s: float) -> ProbeResult:
        seq = next(self._seq)
        key: Key = ("icmp", address, self._ident, seq)
        packet = echo_request(family, self._ident, seq)
        return await self._exchange(key, ("icmp", family), packet, (address, 0), timeout_s)

    async def syn(self, address: str, family: Family, port: int, timeout_s: float) -> ProbeResult:
        sport = self._free_port(address, port)
        seq = random.getrandbits(32)
        packet = tcp_syn(family, self._source_for(address, family), address, sport, port, seq)
        key: Key = ("tcp", address, port, sport)
        return await self._exchange(
            key, ("tcp", family), packet, (address, 0), timeout_s, expect_ack=(seq + 1) % 2**32
        )

    async def dns(
        self, server: str, family: Family, name: str, qtype: str, timeout_s: float, port: int = 53
    ) -> ProbeResult:
        query_id = random.getrandbits(16)
        key: Key = ("dns", server, query_id)
        packet = dns_query(query_id, name, qtype)
        return await self._exchange(key, ("dns", family), packet, (server, port), timeout_s)

    async def _exchange(
        self,
        key: Key,
        sock_key: tuple[str, Family],
        packet: bytes,
        address: tuple[str, int],
        timeout_s: float,
        expect_ack: int | None = None,
    ) -> ProbeResult:
        sock = self._sockets.get(sock_key)
        if sock is None:
            return ProbeResult("error", detail=f"no {sock_key[0]} socket for IPv{sock_key[1]}")
        future: asyncio.Future[ProbeResult] = self._loop.create_future()
        pending = _Pending(future, 0, expect_ack)
        self._pending[key] = pending
        try:
            pending.sent_ns = time.time_ns()  # as close to the send as possible
            sock.sendto(packet, address)
        except OSError as error:  # e.g. unreachable network, blackhole/prohibit route
            self._pending.pop(key, None)
            return ProbeResult("error", detail=os.strerror(error.errno or 0) or str(error))
        try:
            async with asyncio.timeout(timeout_s):
                return await future
        except TimeoutError:
            return ProbeResult("timeout")
        finally:
            self._pending.pop(key, None)

    # ----------------------------------------------------------------- receive
    def _on_readable(self, kind: str, family: Family, sock: socket.socket) -> None:
        while True:
            try:
                data, ancillary, _flags, address = sock.recvmsg(65535, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # e.g. ICMP port unreachable reported on the UDP socket
            received_ns = _kernel_time_ns(ancillary) or time.time_ns()
            self._dispatch(kind, family, data, address[0], address[1], received_ns)

    def _dispatch(
        self, kind: str, family: Family, data: bytes, source: str, port: int, received_ns: int
    ) -> None:
        try:
            if kind == "icmp":
                reply = parse_icmp(data, family, source)
                ack = None
            elif kind == "tcp":
                parsed = parse_tcp(data, family, source)
                reply, ack = parsed if parsed else (None, None)
            else:
                reply = (
                    Reply(("dns", source, int.from_bytes(data[:2], "big")), "dns")
                    if len(data) >= 12
                    else None
                )
                ack = None
        except (struct.error, ValueError, IndexError):
            self.malformed += 1
            return
        if reply is None:
            return
        pending = self._pending.get(reply.key)
        if pending is None or pending.future.done():
            return
        if (
            pending.expect_ack is not None
            and reply.kind in ("open", "closed")
            and ack != pending.expect_ack
        ):
            return  # a stale or forged segment for this port pair
        rtt_ms = max(0.0, (received_ns - pending.sent_ns) / 1e6)
        pending.future.set_result(
            ProbeResult(reply.kind, rtt_ms, reply.detail, data if kind == "dns" else b"")
        )

    # ----------------------------------------------------------------- helpers
    def _free_port(self, address: str, port: int) -> int:
        for _ in range(len(TCP_PORTS)):
            candidate = next(self._ports)
            if ("tcp", address, port, candidate) not in self._pending:
                return candidate
        raise RuntimeError("all probe source ports are in use")

    def _source_for(self, address: str, family: Family) -> str:
        """The local address the kernel would use towards `address` (for the TCP checksum)."""
        source = self._sources.get(address)
        if source is None:
            af = socket.AF_INET if family == 4 else socket.AF_INET6
            with socket.socket(af, socket.SOCK_DGRAM) as probe:
                probe.connect((address, 9))
                source = str(probe.getsockname()[0])
            self._sources[address] = source
        return source

    def close(self) -> None:
        for sock in self._sockets.values():
            self._loop.remove_reader(sock.fileno())
            sock.close()
        self._sockets.clear()
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.cancel()


_ICMP_PROTOCOL: dict[Family, int] = {4: socket.IPPROTO_ICMP, 6: socket.IPPROTO_ICMPV6}


def _kernel_time_ns(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack_from("qq", data)
            return int(seconds * 1_000_000_000 + nanoseconds)
    return None
