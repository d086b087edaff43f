"""The MQTT packets our subscriber sends and parses, byte for byte (MQTT 3.1.1 and 5 specs)."""

from __future__ import annotations

import pytest

from gateway.mqtt_packets import (
    MalformedPacket,
    Publish,
    connect_packet,
    decode_connack,
    decode_disconnect,
    decode_properties,
    decode_publish,
    decode_suback,
    puback_packets,
    split,
    subscribe_packet,
    varint,
)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"), (16_383, b"\xff\x7f"),
     (2_097_152, b"\x80\x80\x80\x01")],
)  # fmt: skip
def test_variable_length_integers(value: int, encoded: bytes) -> None:
    assert varint(value) == encoded


def test_connect_3_1_1_keeps_the_session_and_logs_in() -> None:
    packet = connect_packet("edumon", v5=False, keepalive_s=15, username="u", password="pw")
    body = b"\x00\x04MQTT\x04\xc0\x00\x0f" + b"\x00\x06edumon" + b"\x00\x01u" + b"\x00\x02pw"
    assert packet == b"\x10" + bytes([len(body)]) + body  # flags 0xc0: login, no clean session


def test_connect_5_asks_for_session_expiry_and_a_receive_maximum() -> None:
    packet = connect_packet(
        "e", v5=True, keepalive_s=60, session_expiry_s=604_800, receive_maximum=5000
    )
    properties = b"\x11\x00\x09\x3a\x80" + b"\x21\x13\x88"
    body = b"\x00\x04MQTT\x05\x00\x00\x3c" + b"\x08" + properties + b"\x00\x01e"
    assert packet == b"\x10" + bytes([len(body)]) + body


@pytest.mark.parametrize(
    ("v5", "body"),
    [(False, b"\x00\x07\x00\x03a/b\x01\x00\x0a$share/g/c\x01"),
     (True, b"\x00\x07\x00\x00\x03a/b\x01\x00\x0a$share/g/c\x01")],
)  # fmt: skip
def test_subscribe_at_qos_1(v5: bool, body: bytes) -> None:
    packet = subscribe_packet(7, ["a/b", "$share/g/c"], v5=v5)
    assert packet == b"\x82" + bytes([len(body)]) + body


def test_pubacks_in_one_write() -> None:
    assert puback_packets([1, 258]) == b"\x40\x02\x00\x01\x40\x02\x01\x02"
    assert puback_packets([]) == b""


def publish_bytes(topic: bytes, payload: bytes, packet_id: int | None, props: bytes = b"") -> bytes:
    body = len(topic).to_bytes(2, "big") + topic
    body += packet_id.to_bytes(2, "big") if packet_id is not None else b""
    body += props + payload
    first = 0x32 if packet_id is not None else 0x30
    return bytes([first]) + varint(len(body)) + body


@pytest.mark.parametrize(
    ("v5", "packet", "expected"),
    [
        (False, publish_bytes(b"a/b", b"{}", 9), Publish("a/b", b"{}", 1, 9, False)),
        (False, publish_bytes(b"a/b", b"x", None), Publish("a/b", b"x", 0, 0, False)),
        (False, b"\x33" + publish_bytes(b"t", b"on", 1)[1:], Publish("t", b"on", 1, 1, True)),
        # 5: properties (here a message expiry) between the packet id and the payload
        (True, publish_bytes(b"a", b"p", 2, b"\x05\x02\x00\x00\x00\x3c"), Publish("a", b"p", 1, 2, False)),
        (True, publish_bytes(b"a", b"p", 2, b"\x00"), Publish("a", b"p", 1, 2, False)),
        # a topic that is not UTF-8 still reaches the handler (which dead-letters it)
        (False, publish_bytes(b"\xff", b"", 3), Publish("\ufffd", b"", 1, 3, False)),
    ],
)  # fmt: skip
def test_publish_decoding(v5: bool, packet: bytes, expected: Publish) -> None:
    packets, used = split(bytearray(packet))
    assert used == len(packet) and len(packets) == 1
    first_byte, body = packets[0]
    assert decode_publish(first_byte, body, v5=v5) == expected


@pytest.mark.parametrize("body", [b"", b"\x00", b"\x00\x05ab", b"\x00\x01a\x00"])
def test_truncated_publishes_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedPacket):
        decode_publish(0x32, body, v5=False)


def test_split_keeps_incomplete_packets_for_the_next_read() -> None:
    big = publish_bytes(b"t", b"x" * 300, 1)  # two bytes of remaining length
    stream = big + b"\xd0\x00" + big
    buffer = bytearray()
    seen: list[tuple[int, bytes]] = []
    for cut in range(0, len(stream), 7):  # arrives in 7-byte pieces
        buffer += stream[cut : cut + 7]
        packets, used = split(buffer)
        del buffer[:used]
        seen += packets
    assert not buffer
    assert [first for first, _ in seen] == [0x32, 0xD0, 0x32]
    assert decode_publish(*seen[2], v5=False).payload == b"x" * 300


def test_a_remaining_length_of_five_bytes_is_malformed() -> None:
    with pytest.raises(MalformedPacket):
        split(bytearray(b"\x30\xff\xff\xff\xff\x01"))


@pytest.mark.parametrize(
    ("v5", "body", "refusal"),
    [
        (False, b"\x00\x00", None),
        (False, b"\x00\x05", "not authorized (authentication or ACL) (code 5)"),
        (False, b"\x00\x04", "bad username or password (authentication failed) (code 4)"),
        (True, b"\x01\x00\x00", None),
        (True, b"\x00\x86\x00", "bad username or password (authentication failed) (code 134)"),
        (True, b"\x00\x87\x05\x1f\x00\x02no", "not authorized (authentication or ACL) (code 135: no)"),
        (True, b"\x00\xfe\x00", "refused (code 254)"),
    ],
)  # fmt: skip
def test_connack_refusals_say_why(v5: bool, body: bytes, refusal: str | None) -> None:
    assert decode_connack(body, v5=v5).refusal == refusal


def test_connack_5_properties_and_session_present() -> None:
    connack = decode_connack(b"\x01\x00\x06\x13\x00\x1e\x21\x00\x0a", v5=True)
    assert connack.session_present
    assert connack.properties == {0x13: 30, 0x21: 10}


@pytest.mark.parametrize(
    ("v5", "body", "granted"),
    [(False, b"\x00\x01\x01\x80", [1, 0x80]), (True, b"\x00\x01\x00\x01\x87", [1, 0x87])],
)  # fmt: skip
def test_suback_codes(v5: bool, body: bytes, granted: list[int]) -> None:
    assert decode_suback(body, v5=v5) == (1, granted)


def test_properties_skip_user_properties_and_refuse_unknown_ones() -> None:
    user = b"\x26\x00\x01k\x00\x01v"
    assert decode_properties(b"\x0a" + user + b"\x1f\x00\x01r", 0) == {0x1F: "r"}
    with pytest.raises(MalformedPacket):
        decode_properties(b"\x02\x7f\x00", 0)
    with pytest.raises(MalformedPacket):
        decode_properties(b"\x05\x1f\x00\x09ab", 0)


def test_a_broker_disconnect_says_why() -> None:
    reason = decode_disconnect(b"\x8e\x08\x1f\x00\x05taken")
    assert reason == "the broker disconnected us (reason code 142: taken)"
