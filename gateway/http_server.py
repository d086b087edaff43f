"""edumon's own HTTP server (`/healthz`, `/metrics`, `/status`): small, and built so that no
client can starve it or fill its log.

- The request head must arrive within `header_timeout_s` of the connection (or of the first
  byte of a kept-alive connection's next request), a body within `body_timeout_s`, and an
  idle kept-alive connection is closed after `keepalive_timeout_s`; a response the client
  does not read is abandoned after `write_timeout_s`.
- At most `max_connections` are open: past it, the connection that has waited longest for
  its request head is closed for the new one (counted as `evicted`), so idle or half-sent
  connections can never keep a new `/healthz` out, and file handles stay bounded.
- edumon accepts connections itself: when the process has no file handle left, it waits
  and logs that at most once a minute (asyncio's own server logs every failed accept).
- A malformed request gets a 4xx and is counted; one log line a minute says how many (no
  traceback). GET and HEAD, and POST on the paths of `post_routes` (`/-/reload`); bodies are
  read and discarded. A route ending in "/" serves every path below it (`/runbooks/`).
- With `Access` configured (gateway/http_access.py), every path but the public ones
  (`/healthz`) needs a valid basic-auth user or bearer token; TLS by an ssl context.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple

from gateway.limits import LIMITS
from gateway.log_limit import LogLimit

log = logging.getLogger(__name__)

ACCEPT_RETRY_S = 0.5  # after accept() failed (no file handle left)
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
REASONS |= {405: "Method Not Allowed", 413: "Content Too Large"}
REASONS |= {431: "Request Header Fields Too Large", 500: "Internal Server Error"}
REASONS |= {501: "Not Implemented", 503: "Service Unavailable"}


@dataclass(frozen=True)
class HttpLimits:
    header_timeout_s: float = 5.0
    body_timeout_s: float = 5.0
    keepalive_timeout_s: float = 15.0
    write_timeout_s: float = 10.0
    max_connections: int = LIMITS["http_connections"]
    max_head_bytes: int = 16_384
    max_body_bytes: int = 65_536


class Request(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    query: str = ""  # what follows "?" in the target, undecoded


class Response(NamedTuple):
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


Handler = Callable[[Request], Awaitable[Response]]
Authorize = Callable[[Request], Awaitable[Response | None]]  # None: let it through


class BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class HttpServer:
    def __init__(
        self,
        host: str,
        port: int,
        routes: dict[str, Handler],
        *,
        limits: HttpLimits | None = None,
        ssl_context: ssl.SSLContext | None = None,
        authorize: Authorize | None = None,
        post_routes: dict[str, Handler] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.routes = routes
        self.post_routes = post_routes or {}
        self.limits = limits or HttpLimits()
        self.ssl_context = ssl_context
        self.authorize = authorize
        self.outcomes: Counter[str] = Counter()  # responses by status, refusals by reason
        self._waiting: dict[
            asyncio.Task[None], None
        ] = {}  # waiting for a request head (oldest first)
        self._open: set[asyncio.Task[None]] = set()
        self._complaints = LogLimit(60.0)
        self._sock: socket.socket | None = None
        self._acceptor: asyncio.Task[None] | None = None

    @property
    def connections(self) -> int:
        return len(self._open)

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(1024)
        except OSError as error:  # name the address, as asyncio's servers do
            sock.close()
            where = f"({self.host!r}, {self.port})"
            raise OSError(
                error.errno, f"error while attempting to bind on address {where}: {error.strerror}"
            ) from error
        sock.setblocking(False)
        self.port = sock.getsockname()[1]  # resolves port 0 for tests
        self._sock = sock
        self._acceptor = asyncio.create_task(self._accept(sock), name="http-accept")

    async def stop(self) -> None:
        tasks = [t for t in (self._acceptor, *self._open) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._sock is not None:
            self._sock.close()

    # ------------------------------------------------------------ connections
    async def _accept(self, listening: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                connection, _ = await loop.sock_accept(listening)
            except OSError as error:  # EMFILE, ENFILE, ENOBUFS: wait for handles to free up
                self.outcomes["accept_failed"] += 1
                self._complain("accept_failed", f"cannot accept a connection: {error}")
                await asyncio.sleep(ACCEPT_RETRY_S)
                continue
            if len(self._open) >= self.limits.max_connections and not self._evict_one():
                self.outcomes["refused_full"] += 1
                connection.close()
                continue
            task = asyncio.create_task(self._connection(connection))
            self._open.add(task)
            task.add_done_callback(self._closed)
            # sock_accept does not yield while connections are pending: let the new one read
            # its request before a burst of others could push it out
            await asyncio.sleep(0)

    def _closed(self, task: asyncio.Task[None]) -> None:
        self._open.discard(task)
        self._waiting.pop(task, None)

    def _evict_one(self) -> bool:
        """Close the connection that has waited longest for a request head."""
        for task in self._waiting:
            del self._waiting[task]
            task.cancel()
            self.outcomes["evicted"] += 1
            return True
        return False

    async def _connection(self, connection: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._waiting[task] = None
        writer = None
        try:
            reader = asyncio.StreamReader(limit=self.limits.max_head_bytes, loop=loop)
            async with asyncio.timeout(self.limits.header_timeout_s):
                transport, protocol = await loop.connect_accepted_socket(
                    lambda: asyncio.StreamReaderProtocol(reader), connection, ssl=self.ssl_context
                )
            writer = asyncio.StreamWriter(transport, protocol, reader, loop)
            first = True
            while await self._exchange(reader, writer, task, first):
                first = False
                self._waiting[task] = None
        except (TimeoutError, ConnectionError, ssl.SSLError, OSError) as error:
            self.outcomes["timeout" if isinstance(error, TimeoutError) else "dropped"] += 1
        finally:
            if writer is not None:
                writer.transport.abort()
            else:
                connection.close()

    async def _exchange(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        task: asyncio.Task[None],
        first: bool,
    ) -> bool:
        """One request and its response; True when the connection stays open for the next.
        A new connection's request must start within the head timeout, a kept-alive one's
        within the keep-alive timeout."""
        limits, head_only = self.limits, False
        idle_s = limits.header_timeout_s if first else limits.keepalive_timeout_s
        try:
            async with asyncio.timeout(idle_s):
                start = await reader.readexactly(1)
            async with asyncio.timeout(limits.header_timeout_s):
                head = start + await reader.readuntil(b"\r\n\r\n")
            request, keep_alive = _parse_head(head)
            self._waiting.pop(task, None)
            await self._discard_body(reader, request)
            response = await self._respond(request)
            head_only = request.method == "HEAD"
        except asyncio.IncompleteReadError:
            return False  # the client went away (between requests, or mid-request)
        except asyncio.LimitOverrunError:
            response, keep_alive = self._malformed(writer, BadRequest(431, "head too large"))
        except BadRequest as bad:
            response, keep_alive = self._malformed(writer, bad)
        self.outcomes[str(response.status)] += 1
        await self._send(writer, response, keep_alive, head_only)
        return keep_alive

    async def _discard_body(self, reader: asyncio.StreamReader, request: Request) -> None:
        if "transfer-encoding" in request.headers:
            raise BadRequest(501, "chunked request bodies are not taken")
        length_text = request.headers.get("content-length", "0")
        if not length_text.isdigit():
            raise BadRequest(400, "bad Content-Length")
        length = int(length_text)
        if length > self.limits.max_body_bytes:
            raise BadRequest(413, f"a body of {length} bytes")
        if length:
            async with asyncio.timeout(self.limits.body_timeout_s):
                await reader.readexactly(length)

    async def _respond(self, request: Request) -> Response:
        handler = _route(self.post_routes if request.method == "POST" else self.routes, request)
        if request.method not in ("GET", "HEAD") and (request.method != "POST" or not handler):
            return Response(405, b"GET or HEAD here\n", headers=(("Allow", "GET, HEAD"),))
        if handler is None:
            return Response(404, b"not found\n")
        if self.authorize is not None and (refusal := await self.authorize(request)):
            return refusal
        try:
            return await handler(request)
        except Exception as error:  # a failing page must not take the server with it
            self._complain("handler_failed", f"{request.path} failed: {error!r}")
            return Response(500, b"internal error\n")

    def _malformed(self, writer: asyncio.StreamWriter, bad: BadRequest) -> tuple[Response, bool]:
        self.outcomes["malformed"] += 1
        peer = writer.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else "?"
        self._complain("malformed", f"malformed HTTP request from {address}: {bad}")
        return Response(bad.status, f"{bad}\n".encode()), False

    async def _send(
        self, writer: asyncio.StreamWriter, response: Response, keep_alive: bool, head_only: bool
    ) -> None:
        lines = [
            f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Unknown')}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            f"Connection: {'keep-alive' if keep_alive else 'close'}",
            *(f"{name}: {value}" for name, value in response.headers),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if not head_only:
            writer.write(response.body)
        async with asyncio.timeout(self.limits.write_timeout_s):
            await writer.drain()

    def _complain(self, kind: str, message: str) -> None:
        skipped = self._complaints.take(kind)
        if skipped is not None:
            more = f" ({skipped} more in the last minute)" if skipped else ""
            log.warning("%s%s", message, more)


def _parse_head(head: bytes) -> tuple[Request, bool]:
    """The request line and headers; and whether the connection may stay open after it."""
    try:
        text = head.decode("latin-1")
        request_line, *header_lines = text[:-4].split("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError as error:
        raise BadRequest(400, "bad request line") from error
    if version not in ("HTTP/1.1", "HTTP/1.0") or not target.startswith("/"):
        raise BadRequest(400, "bad request line")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadRequest(400, "bad header line")
        headers[name.lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    path, _, query = target.partition("?")
    return Request(method, path, headers, query), keep_alive


def _route(routes: dict[str, Handler], request: Request) -> Handler | None:
    """The handler of the path, else of the longest route ending in "/" that it is below."""
    if request.path in routes:
        return routes[request.path]
    below = [prefix for prefix in routes if prefix.endswith("/") and prefix != "/"]
    matching = [prefix for prefix in below if request.path.startswith(prefix)]
    return routes[max(matching, key=len)] if matching else None
