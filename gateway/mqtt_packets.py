"""MQTT 3.1.1 and 5 control packets: the few a QoS 1 subscriber sends and receives.

Encoding: CONNECT (persistent session; 5: session expiry and Receive Maximum), SUBSCRIBE at
QoS 1, PUBACK, PINGREQ, DISCONNECT. Decoding: the fixed header of every packet (`split`), and
the bodies of CONNACK, PUBLISH, SUBACK and a broker's DISCONNECT (5). Only what the broker
sends a subscriber is decoded; anything malformed raises `MalformedPacket`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NamedTuple

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14
PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"

# MQTT 5 properties the broker may send us, by the type of their value
_BYTE, _TWO, _FOUR, _VARINT, _STRING, _BINARY, _PAIR = range(7)
_PROPERTY_TYPES = {
    0x01: _BYTE, 0x02: _FOUR, 0x03: _STRING, 0x08: _STRING, 0x09: _BINARY, 0x0B: _VARINT,
    0x11: _FOUR, 0x12: _STRING, 0x13: _TWO, 0x15: _STRING, 0x16: _BINARY, 0x17: _BYTE,
    0x18: _FOUR, 0x19: _BYTE, 0x1A: _STRING, 0x1C: _STRING, 0x1F: _STRING, 0x21: _TWO,
    0x22: _TWO, 0x23: _TWO, 0x24: _BYTE, 0x25: _BYTE, 0x26: _PAIR, 0x27: _FOUR, 0x28: _BYTE,
    0x29: _BYTE, 0x2A: _BYTE,
}  # fmt: skip
SESSION_EXPIRY, SERVER_KEEPALIVE, REASON_STRING, RECEIVE_MAXIMUM = 0x11, 0x13, 0x1F, 0x21

# CONNACK return codes (3.1.1) and reason codes (5) that refuse a connection
_REFUSALS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad username or password (authentication failed)",
    5: "not authorized (authentication or ACL)",
    0x80: "unspecified error",
    0x81: "malformed packet",
    0x82: "protocol error",
    0x83: "implementation specific error",
    0x84: "unsupported protocol version",
    0x85: "client identifier not valid",
    0x86: "bad username or password (authentication failed)",
    0x87: "not authorized (authentication or ACL)",
    0x88: "server unavailable",
    0x89: "server busy",
    0x8A: "banned",
    0x8C: "bad authentication method",
    0x95: "packet too large",
    0x97: "quota exceeded",
    0x9C: "use another server",
    0x9D: "server moved",
    0x9F: "connection rate exceeded",
}


class MalformedPacket(ValueError):
    """The broker sent bytes that are not a valid packet of the protocol we speak."""


class Publish(NamedTuple):  # a tuple: made for every message, cheaper than a dataclass
    topic: str
    payload: bytes
    qos: int
    packet_id: int  # 0 for QoS 0
    retain: bool


@dataclass(frozen=True, slots=True)
class ConnAck:
    code: int  # 0: accepted
    session_present: bool
    properties: dict[int, object]  # 5 only

    @property
    def refusal(self) -> str | None:
        """Why the broker refused the connection, or None when it accepted."""
        if self.code == 0:
            return None
        reason = _REFUSALS.get(self.code, "refused")
        detail = self.properties.get(REASON_STRING)
        return f"{reason} (code {self.code}{f': {detail}' if detail else ''})"


# ------------------------------------------------------------------------ encoding
def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes((first_byte,)) + varint(len(body)) + body


def _string(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return struct.pack("!H", len(data)) + data


def connect_packet(
    client_id: str,
    *,
    v5: bool,
    keepalive_s: int,
    username: str | None = None,
    password: str | None = None,
    session_expiry_s: int = 0,
    receive_maximum: int = 65535,
) -> bytes:
    """CONNECT for a persistent session (clean session / clean start off)."""
    flags = (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    header = _string("MQTT") + bytes((5 if v5 else 4, flags)) + struct.pack("!H", keepalive_s)
    if v5:
        properties = struct.pack("!BIBH", SESSION_EXPIRY, session_expiry_s, RECEIVE_MAXIMUM,
                                 receive_maximum)  # fmt: skip
        header += varint(len(properties)) + properties
    payload = _string(client_id)
    if username is not None:
        payload += _string(username)
    if password is not None:
        payload += _string(password)
    return _packet(CONNECT << 4, header + payload)


def subscribe_packet(packet_id: int, topics: list[str], *, v5: bool) -> bytes:
    """SUBSCRIBE to every topic filter at QoS 1."""
    body = struct.pack("!H", packet_id) + (b"\x00" if v5 else b"")  # 5: no properties
    for topic in topics:
        body += _string(topic) + b"\x01"
    return _packet(SUBSCRIBE << 4 | 0x02, body)


def puback_packets(packet_ids: list[int]) -> bytes:
    """PUBACKs of many messages in one write (reason code omitted: success, in both versions)."""
    return b"".join(struct.pack("!BBH", PUBACK << 4, 2, packet_id) for packet_id in packet_ids)


# ------------------------------------------------------------------------ decoding
def split(buffer: bytearray) -> tuple[list[tuple[int, bytes]], int]:
    """The complete packets at the start of `buffer` as (first byte, body), and how many bytes
    they took; an incomplete packet at the end is left for the next call."""
    packets: list[tuple[int, bytes]] = []
    pos, end = 0, len(buffer)
    while end - pos >= 2:
        length, multiplier, cursor = 0, 1, pos + 1
        while True:
            if cursor >= end:
                return packets, pos  # the length itself is not complete yet
            digit = buffer[cursor]
            cursor += 1
            length += (digit & 0x7F) * multiplier
            if not digit & 0x80:
                break
            multiplier *= 128
            if multiplier > 128**3:
                raise MalformedPacket("remaining length longer than four bytes")
        if cursor + length > end:
            break
        packets.append((buffer[pos], bytes(buffer[cursor : cursor + length])))
        pos = cursor + length
    return packets, pos


def decode_publish(first_byte: int, body: bytes, *, v5: bool) -> Publish:
    qos = (first_byte >> 1) & 0x03
    if len(body) < 2 or qos == 3:
        raise MalformedPacket("malformed PUBLISH")
    topic_end = 2 + (body[0] << 8 | body[1])
    pos = topic_end
    packet_id = 0
    if qos:
        if len(body) < pos + 2:
            raise MalformedPacket(f"PUBLISH too short ({len(body)} bytes)")
        packet_id = body[pos] << 8 | body[pos + 1]
        pos += 2
    if v5:
        properties_length, pos = _read_varint(body, pos)
        pos += properties_length
    if pos > len(body):
        raise MalformedPacket(f"PUBLISH too short ({len(body)} bytes)")
    # the broker checks topics are UTF-8; a bad one still reaches the handler's dead letters
    topic = body[2:topic_end].decode("utf-8", "replace")
    return Publish(topic, body[pos:], qos, packet_id, bool(first_byte & 0x01))


def decode_connack(body: bytes, *, v5: bool) -> ConnAck:
    if len(body) < 2:
        raise MalformedPacket(f"CONNACK of {len(body)} bytes")
    properties = decode_properties(body, 2) if v5 else {}
    return ConnAck(body[1], bool(body[0] & 0x01), properties)


def decode_suback(body: bytes, *, v5: bool) -> tuple[int, list[int]]:
    """(packet id, one granted QoS or failure code per topic filter)."""
    if len(body) < 3:
        raise MalformedPacket(f"SUBACK of {len(body)} bytes")
    (packet_id,) = struct.unpack_from("!H", body)
    pos = 2
    if v5:
        properties_length, pos = _read_varint(body, pos)
        pos += properties_length
    return packet_id, list(body[pos:])


def decode_disconnect(body: bytes) -> str:
    """A broker's DISCONNECT (5 only): its reason code and reason string."""
    code = body[0] if body else 0
    detail = decode_properties(body, 1).get(REASON_STRING) if len(body) > 1 else None
    return f"the broker disconnected us (reason code {code}{f': {detail}' if detail else ''})"


def decode_properties(body: bytes, pos: int) -> dict[int, object]:
    """MQTT 5 properties starting at `pos` (user properties are skipped)."""
    length, pos = _read_varint(body, pos)
    end = pos + length
    if end > len(body):
        raise MalformedPacket("properties longer than the packet")
    properties: dict[int, object] = {}
    try:
        while pos < end:
            identifier = body[pos]
            kind = _PROPERTY_TYPES.get(identifier)
            pos += 1
            value: object
            if kind == _BYTE:
                value, pos = body[pos], pos + 1
            elif kind == _TWO:
                (value,), pos = struct.unpack_from("!H", body, pos), pos + 2
            elif kind == _FOUR:
                (value,), pos = struct.unpack_from("!I", body, pos), pos + 4
            elif kind == _VARINT:
                value, pos = _read_varint(body, pos)
            elif kind in (_STRING, _BINARY):
                value, pos = _read_string(body, pos, text=kind == _STRING)
            elif kind == _PAIR:
                _, pos = _read_string(body, pos, text=True)
                _, pos = _read_string(body, pos, text=True)
                continue
            else:
                raise MalformedPacket(f"unknown property 0x{identifier:02x}")
            properties[identifier] = value
    except (IndexError, struct.error) as error:
        raise MalformedPacket("truncated properties") from error
    return properties


def _read_varint(body: bytes, pos: int) -> tuple[int, int]:
    value, multiplier = 0, 1
    for _ in range(4):
        if pos >= len(body):
            break
        digit = body[pos]
        pos += 1
        value += (digit & 0x7F) * multiplier
        if not digit & 0x80:
            return value, pos
        multiplier *= 128
    raise MalformedPacket("bad variable-length integer")


def _read_string(body: bytes, pos: int, *, text: bool) -> tuple[str | bytes, int]:
    (length,) = struct.unpack_from("!H", body, pos)
    data = body[pos + 2 : pos + 2 + length]
    if len(data) != length:
        raise MalformedPacket("truncated string")
    return (data.decode("utf-8", "replace") if text else data), pos + 2 + length
