"""One connection of a QoS 1 subscriber to an MQTT broker (3.1.1 or 5), on asyncio's transport.

Our own client at the transport boundary, because a subscriber that acks only after fsync
needs little of a general client: connect (TLS, login, persistent session), subscribe, hand
every PUBLISH over as it is parsed, PUBACK on request, PINGREQ every keepalive. paho's receive
path (a thread lock and a message object per packet, its callbacks and logging) was over a
quarter of edumon's CPU per message (bench/mqtt.py).

Every failure (unreachable, TLS, refused login, a broker that stops answering pings or closes
the connection) is an `MqttError` that says why; the consumer reconnects.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gateway.mqtt_packets import (
    CONNACK,
    DISCONNECT,
    DISCONNECT_PACKET,
    PINGREQ_PACKET,
    PINGRESP,
    PUBLISH,
    SERVER_KEEPALIVE,
    SUBACK,
    MalformedPacket,
    Publish,
    connect_packet,
    decode_connack,
    decode_disconnect,
    decode_publish,
    decode_suback,
    puback_packets,
    split,
    subscribe_packet,
)

CONNECT_TIMEOUT_S = 10.0  # TCP, TLS and CONNACK; a frozen broker accepts TCP and says nothing
SUBSCRIBE_PACKET_ID = 1
SESSION_EXPIRY_S = 7 * 24 * 3600

OnPublishes = Callable[[list[Publish]], None]


class MqttError(Exception):
    """The broker cannot be reached, refused us, or the connection was lost; says why."""


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int = 1883
    client_id: str = "edumon"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: Path | None = None
    keepalive_s: int = 15
    max_unacked: int = 5000  # MQTT 5 Receive Maximum: messages received and not yet acked
    # 3.1.1 by default: Mosquitto offers $share to both versions, and 5 adds nothing we use
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    # the longest wait between attempts: a broker back after an outage is found within
    # seconds (one connection attempt every few seconds costs the broker nothing)
    reconnect_max_s: float = 5.0


async def connect(settings: MqttSettings, on_publishes: OnPublishes) -> MqttConnection:
    """A connection with its session accepted by the broker; messages the broker kept for the
    session may reach `on_publishes` from now on, before any subscription."""
    loop = asyncio.get_running_loop()
    tls = ssl.create_default_context(cafile=settings.ca_file) if settings.tls else None
    v5 = settings.protocol == "5"
    connection = MqttConnection(v5, settings.keepalive_s, on_publishes)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            await loop.create_connection(lambda: connection, settings.host, settings.port, ssl=tls)
            connack = decode_connack(await connection.request(CONNACK, _connect(settings)), v5=v5)
    except TimeoutError:
        connection.close(graceful=False)
        raise MqttError(f"no answer to CONNECT within {CONNECT_TIMEOUT_S:g} s") from None
    except (OSError, MalformedPacket) as error:  # ssl.SSLError is an OSError
        connection.close(graceful=False)
        raise MqttError(f"cannot connect: {error}") from error
    if connack.refusal is not None:
        connection.close(graceful=False)
        raise MqttError(f"the broker refused the connection: {connack.refusal}")
    server_keepalive = connack.properties.get(SERVER_KEEPALIVE)
    if isinstance(server_keepalive, int) and server_keepalive > 0:  # 5: the broker decides
        connection.keepalive_s = server_keepalive
    return connection


def _connect(settings: MqttSettings) -> bytes:
    return connect_packet(
        settings.client_id,
        v5=settings.protocol == "5",
        keepalive_s=settings.keepalive_s,
        username=settings.username,
        password=settings.password,
        session_expiry_s=SESSION_EXPIRY_S,
        receive_maximum=min(65535, settings.max_unacked),
    )


class MqttConnection(asyncio.Protocol):
    def __init__(self, v5: bool, keepalive_s: int, on_publishes: OnPublishes) -> None:
        self.v5 = v5
        self.keepalive_s = keepalive_s
        self._on_publishes = on_publishes
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._replies: dict[int, asyncio.Future[bytes]] = {}  # packet type -> its waiter
        self._ping_unanswered = False
        self._closed = asyncio.Event()
        self._error = "connection closed"

    # ------------------------------------------------------------------ requests
    async def request(self, reply_type: int, packet: bytes) -> bytes:
        """Send `packet` and wait for the body of the broker's reply of `reply_type`."""
        reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._replies[reply_type] = reply
        self._write(packet)
        return await reply

    async def subscribe(self, topics: list[str]) -> None:
        """Subscribe to every topic filter at QoS 1 ($share/ filters too)."""
        packet = subscribe_packet(SUBSCRIBE_PACKET_ID, topics, v5=self.v5)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                body = await self.request(SUBACK, packet)
        except TimeoutError:
            raise MqttError(f"no SUBACK within {CONNECT_TIMEOUT_S:g} s") from None
        _, granted = decode_suback(body, v5=self.v5)
        refused = [topic for topic, code in zip(topics, granted, strict=False) if code >= 0x80]
        if refused or len(granted) != len(topics):
            raise MqttError(f"the broker refused the subscription to {', '.join(refused)}")

    def ack(self, packet_ids: list[int]) -> None:
        """PUBACK these messages; on a lost connection the broker redelivers them instead."""
        if packet_ids:
            self._write(puback_packets(packet_ids))

    async def keep_alive(self) -> None:
        """PINGREQ every keepalive; raises MqttError when a ping goes unanswered that long."""
        while True:
            await asyncio.sleep(self.keepalive_s)
            if self._ping_unanswered:
                self._fail(f"no PINGRESP within {self.keepalive_s} s")
                raise MqttError(self._error)
            self._ping_unanswered = True
            self._write(PINGREQ_PACKET)

    async def wait_closed(self) -> None:
        """Returns never: raises MqttError (with the reason) once the connection is gone."""
        await self._closed.wait()
        raise MqttError(self._error)

    def close(self, *, graceful: bool = True) -> None:
        """DISCONNECT (the session stays with the broker) and close; abort when not graceful."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if graceful and not self._closed.is_set():
            transport.write(DISCONNECT_PACKET)
            transport.close()
        else:
            transport.abort()

    # ------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        try:
            packets, used = split(buffer)
            del buffer[:used]
            publishes = []
            for first_byte, body in packets:
                kind = first_byte >> 4
                if kind == PUBLISH:
                    publishes.append(decode_publish(first_byte, body, v5=self.v5))
                elif kind == PINGRESP:
                    self._ping_unanswered = False
                elif kind == DISCONNECT:
                    self._fail(decode_disconnect(body))
                elif kind in self._replies:
                    reply = self._replies.pop(kind)
                    if not reply.done():
                        reply.set_result(body)
                else:
                    raise MalformedPacket(f"unexpected packet type {kind}")
        except MalformedPacket as error:
            self._fail(f"malformed packet from the broker: {error}")
            return
        if publishes and not self._closed.is_set():  # after a DISCONNECT: redelivered later
            self._on_publishes(publishes)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc}" if exc else "the broker closed the connection")

    # ------------------------------------------------------------------- helpers
    def _write(self, packet: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(packet)

    def _fail(self, reason: str) -> None:
        """The connection is unusable: remember the first reason, wake every waiter, close."""
        if self._closed.is_set():
            return
        self._error = reason
        self._closed.set()
        for reply in self._replies.values():
            if not reply.done():
                reply.set_exception(MqttError(reason))
        self._replies.clear()
        if self._transport is not None:
            self._transport.abort()
