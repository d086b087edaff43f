"""edumon's HTTP server against hostile clients on real loopback sockets: half-sent requests
time out, idle connections make room for new ones, malformed requests are answered and
logged once a minute without a traceback, and every path but /healthz can require basic
auth (bcrypt) or a bearer token, over TLS."""

from __future__ import annotations

import asyncio
import base64
import datetime
import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import bcrypt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.http_access import Access, HttpSection
from gateway.http_server import HttpLimits, HttpServer, Request, Response

LIMITS = HttpLimits(header_timeout_s=0.5, keepalive_timeout_s=0.5, max_connections=8)


async def hello(request: Request) -> Response:
    return Response(200, f"hello {request.path}\n".encode())


ROUTES = {"/healthz": hello, "/metrics": hello}


@pytest.fixture
async def server() -> AsyncIterator[HttpServer]:
    server = HttpServer("127.0.0.1", 0, dict(ROUTES), limits=LIMITS)
    await server.start()
    yield server
    await server.stop()


async def ask(
    port: int, head: bytes, ssl_context: ssl.SSLContext | None = None
) -> tuple[int, bytes]:
    """Send `head` on a new connection; the status and body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ssl_context)
    try:
        writer.write(head)
        answer = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def get(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: edumon", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_a_half_sent_request_is_closed_after_the_head_timeout(server: HttpServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
    writer.close()
    assert server.outcomes["timeout"] == 1 and server.connections == 0


async def test_idle_connections_make_room_for_a_new_request(server: HttpServer) -> None:
    idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(30)]
    for _, writer in idle:
        writer.write(b"GET /he")
    await asyncio.sleep(0.1)
    assert server.connections <= LIMITS.max_connections
    assert await ask(server.port, get("/healthz")) == (200, b"hello /healthz\n")
    assert server.outcomes["evicted"] >= 30 - LIMITS.max_connections
    for _, writer in idle:
        writer.close()


async def test_keep_alive_serves_several_requests_then_closes_when_idle(
    server: HttpServer,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    for path in ("/healthz", "/metrics"):
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"Connection: keep-alive" in head
        assert await reader.readexactly(len(f"hello {path}\n")) == f"hello {path}\n".encode()
    assert await asyncio.wait_for(reader.read(), 5) == b""  # idle past the keep-alive timeout
    writer.close()


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET /healthz SPDY/3\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nContent-Length: 9999999\r\n\r\n", 413),
        (b"GET /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
        (b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 20_000 + b"\r\n\r\n", 431),
        (b"POST /healthz HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 405),
        (b"GET /nowhere HTTP/1.1\r\n\r\n", 404),
    ],
)
async def test_bad_requests_get_their_status(server: HttpServer, head: bytes, status: int) -> None:
    assert (await ask(server.port, head))[0] == status


async def test_malformed_requests_are_logged_once_a_minute_without_traceback(
    server: HttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for _ in range(50):
        assert (await ask(server.port, b"\x16\x03\x01garbage\r\n\r\n"))[0] == 400
    assert server.outcomes["malformed"] == 50
    lines = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "tls.crt", directory / "tls.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_tls_and_authentication_guard_everything_but_healthz(tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)
    token = "test-only-bearer-token"
    section = HttpSection.model_validate(
        {
            "tls_server_config": {"cert_file": cert_file, "key_file": key_file},
            "basic_auth_users": {
                "prometheus": bcrypt.hashpw(b"test-only-password", bcrypt.gensalt(4)).decode()
            },
            "bearer_token_env": "EDUMON_HTTP_TOKEN",
        }
    )
    section.resolve_secrets({"EDUMON_HTTP_TOKEN": token})
    server = HttpServer(
        "127.0.0.1", 0, dict(ROUTES), ssl_context=section.ssl_context(), authorize=Access(section)
    )
    await server.start()
    client = ssl.create_default_context(cafile=cert_file)
    client.check_hostname = False
    basic = base64.b64encode(b"prometheus:test-only-password").decode()
    wrong = base64.b64encode(b"prometheus:guess").decode()
    try:
        assert (await ask(server.port, get("/healthz"), client))[0] == 200
        for refused in ((), (f"Authorization: Basic {wrong}",), ("Authorization: Bearer guess",)):
            assert (await ask(server.port, get("/metrics", *refused), client))[0] == 401
        for authorization in (f"Basic {basic}", f"Bearer {token}"):
            answer = await ask(
                server.port, get("/metrics", f"Authorization: {authorization}"), client
            )
            assert answer == (200, b"hello /metrics\n")
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(get("/healthz"))  # plain text to the TLS port: no HTTP answer
        assert not (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP")
        writer.close()
    finally:
        await server.stop()
    assert server.outcomes["401"] == 3 and server.outcomes["200"] == 3
