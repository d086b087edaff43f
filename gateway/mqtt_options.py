"""What one MQTT connection is made of (client id, session, login, TLS, will, limits) and the
paho client built from it; shared by the durable consumer, the simulators and the tests."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Literal

import paho.mqtt.client as paho
from paho.mqtt.client import CleanStartOption
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

Message = paho.MQTTMessage
READ_CHUNK = 64 * 1024


class MqttError(Exception):
    """The broker cannot be reached, refused us, or the connection was lost; says why."""


@dataclass(frozen=True)
class ConnAck:
    session_present: bool
    maximum_qos: int  # MQTT 5 CONNACK property; 2 when the broker names none (and on 3.1.1)


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass
class ClientOptions:
    client_id: str = ""
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    clean: bool = True  # 3.1.1: clean session; 5: clean start and no session expiry
    session_expiry_s: int = 0  # 5 only, with clean=False
    username: str | None = None
    password: str | None = None
    tls: ssl.SSLContext | None = None
    keepalive_s: int = 15
    manual_ack: bool = False
    receive_maximum: int | None = None  # 5 only
    max_packet_size: int | None = None  # 5 only: announced; every version: enforced
    will: Will | None = None


class BufferedPaho(paho.Client):
    """paho reading the socket in chunks, with a limit on what it takes, and handing messages
    over without its per-topic dispatch.

    paho reads each packet with three receives (its type, its length, its body): a syscall
    each, per message. Here one receive of up to READ_CHUNK bytes serves them from memory
    (the loop drains what is buffered: `buffered`). And paho buffers whatever remaining length
    a packet announces (up to 256 MB): a packet over `max_packet_size` is refused before its
    body is read."""

    max_packet_size = 0  # 0: no limit
    oversized = 0  # the remaining length of the packet refused
    _chunk = b""
    _offset = 0

    @property
    def buffered(self) -> bool:
        """Bytes read but not parsed yet, here or decrypted in the TLS socket."""
        pending = getattr(self._sock, "pending", None)
        return self._offset < len(self._chunk) or (pending is not None and pending() > 0)

    def _handle_on_message(self, message: Message) -> None:
        """Straight to on_message: edumon registers no per-topic callbacks, so paho's topic
        matcher and its two locks per message (a fifth of its receive cost) are skipped."""
        if self.on_message is not None:
            self.on_message(self, self._userdata, message)

    def _sock_recv(self, bufsize: int) -> bytes:
        packet = self._in_packet
        limit = self.max_packet_size
        if limit and packet["have_remaining"] and packet["remaining_length"] > limit:
            self.oversized = packet["remaining_length"]
            raise ConnectionAbortedError(f"a packet of {self.oversized:,} bytes")
        if self._offset >= len(self._chunk):
            self._chunk, self._offset = super()._sock_recv(max(bufsize, READ_CHUNK)), 0
        start = self._offset
        self._offset = min(start + bufsize, len(self._chunk))
        return self._chunk[start : self._offset]


def paho_client(options: ClientOptions) -> BufferedPaho:
    """A paho client for one connection (it never reconnects by itself: the caller does)."""
    v5 = options.protocol == "5"
    client = BufferedPaho(
        CallbackAPIVersion.VERSION2,
        client_id=options.client_id,
        clean_session=None if v5 else options.clean,
        protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
        manual_ack=options.manual_ack,
        reconnect_on_failure=False,
    )
    client.max_packet_size = options.max_packet_size or 0
    client.suppress_exceptions = False  # a failing callback is our bug: let it surface
    client.max_inflight_messages_set(1000)  # our own QoS 1 publishes in flight
    client.max_queued_messages_set(0)
    if options.username is not None:
        client.username_pw_set(options.username, options.password)
    if options.tls is not None:
        client.tls_set_context(options.tls)
    if options.will is not None:
        will = options.will
        client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
    return client


def connect_properties(options: ClientOptions) -> tuple[Properties | None, CleanStartOption]:
    """The CONNECT's MQTT 5 properties (session expiry, Receive Maximum, Maximum Packet Size)
    and paho's clean_start argument."""
    if options.protocol != "5":
        return None, paho.MQTT_CLEAN_START_FIRST_ONLY
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    if not options.clean:
        properties.SessionExpiryInterval = options.session_expiry_s
    if options.receive_maximum:
        properties.ReceiveMaximum = min(65535, options.receive_maximum)
    if options.max_packet_size:
        properties.MaximumPacketSize = options.max_packet_size
    return properties, options.clean
