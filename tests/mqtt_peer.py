"""A scripted MQTT 3.1.1 peer on a local socket, for the consumer's fast tests: our transport
boundary, bytes in and out. It answers CONNECT, SUBSCRIBE, UNSUBSCRIBE and PINGREQ as told,
sends PUBLISHes on request and records every packet the client sent (the real broker is
Mosquitto in tests/integration)."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field

CONNECT, PUBLISH, PUBACK, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT = 1, 3, 4, 8, 10, 12, 14


def packet(kind: int, body: bytes, flags: int = 0) -> bytes:
    length, encoded = len(body), b""
    while True:
        length, digit = divmod(length, 128)
        encoded += bytes([digit | (0x80 if length else 0)])
        if not length:
            return bytes([kind << 4 | flags]) + encoded + body


async def read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        digit = (await reader.readexactly(1))[0]
        length += (digit & 0x7F) << shift
        shift += 7
        if not digit & 0x80:
            return first >> 4, await reader.readexactly(length)


def string(data: bytes, at: int) -> tuple[str, int]:
    size = struct.unpack_from("!H", data, at)[0]
    return data[at + 2 : at + 2 + size].decode(), at + 2 + size


@dataclass
class Connect:
    client_id: str
    clean: bool
    keepalive: int
    username: str | None
    password: str | None


def decode_connect(body: bytes) -> Connect:
    _, at = string(body, 0)
    flags, keepalive = body[at + 1], struct.unpack_from("!H", body, at + 2)[0]
    client_id, at = string(body, at + 4)
    username = password = None
    if flags & 0x80:
        username, at = string(body, at)
    if flags & 0x40:
        password, at = string(body, at)
    return Connect(client_id, bool(flags & 0x02), keepalive, username, password)


def topics_of(body: bytes, with_qos: bool) -> list[str]:
    topics, at = [], 2
    while at < len(body):
        topic, at = string(body, at)
        topics.append(topic)
        at += 1 if with_qos else 0
    return topics


@dataclass
class Session:
    """One connection as the peer saw it."""

    connect: Connect | None = None
    subscribed: list[str] = field(default_factory=list)
    unsubscribed: list[str] = field(default_factory=list)
    acked: list[int] = field(default_factory=list)
    writer: asyncio.StreamWriter | None = None

    def publish(self, topic: str, payload: bytes, packet_id: int) -> None:
        assert self.writer is not None
        body = struct.pack("!H", len(topic)) + topic.encode() + struct.pack("!H", packet_id)
        self.writer.write(packet(PUBLISH, body + payload, flags=0x02))  # QoS 1


@dataclass
class MqttPeer:
    session_present: bool = False
    granted: int = 1  # the QoS granted to each topic (0x80: refused)
    close_after_suback: bool = False
    sessions: list[Session] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> MqttPeer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for session in self.sessions:
            if session.writer is not None:
                session.writer.close()

    async def until(self, condition: object, timeout_s: float = 10) -> None:
        async with asyncio.timeout(timeout_s):
            while not (callable(condition) and condition()):  # noqa: ASYNC110 - the client's state
                await asyncio.sleep(0.01)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(writer=writer)
        self.sessions.append(session)
        try:
            while True:
                kind, body = await read_packet(reader)
                self._answer(session, kind, body, writer)
                if kind == DISCONNECT or (kind == SUBSCRIBE and self.close_after_suback):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _answer(
        self, session: Session, kind: int, body: bytes, writer: asyncio.StreamWriter
    ) -> None:
        if kind == CONNECT:
            session.connect = decode_connect(body)
            writer.write(packet(2, bytes([int(self.session_present), 0])))
        elif kind == SUBSCRIBE:
            session.subscribed += topics_of(body, with_qos=True)
            codes = bytes([self.granted] * len(topics_of(body, with_qos=True)))
            writer.write(packet(9, body[:2] + codes))
        elif kind == UNSUBSCRIBE:
            session.unsubscribed += topics_of(body, with_qos=False)
            writer.write(packet(11, body[:2]))
        elif kind == PUBACK:
            session.acked.append(struct.unpack("!H", body[:2])[0])
        elif kind == PINGREQ:
            writer.write(packet(13, b""))
