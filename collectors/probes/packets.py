"""Probe packets, built and parsed with struct.

Requests (ICMP and ICMPv6 echo, TCP SYN, DNS query) are a few fixed header fields and an
Internet checksum (RFC 1071); the tests check them against scapy. Parsing replies is on the hot
path of the receive loop and only needs a few header fields; the keys it returns are what the
sender registered when it sent the probe:

    ("icmp", remote_ip, ident, seq)           echo reply, or an ICMP error about our echo
    ("tcp", remote_ip, remote_port, our_port)  SYN-ACK (open) or RST (closed)
    ("dns", remote_ip, query_id)               DNS response
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Literal

ECHO_PAYLOAD = b"edumon-probe-000"  # 16 bytes, like ping's default pattern length
TCP_SYN, TCP_RST, TCP_ACK = 0x02, 0x04, 0x10
ICMP_ECHO_REQUEST = {4: 8, 6: 128}
PROTOCOL_TCP = 6
DNS_TYPES = {"A": 1, "AAAA": 28}
DNS_CLASS_IN = 1
DNS_RECURSION_DESIRED = 0x0100

Family = Literal[4, 6]
Key = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Reply:
    key: Key
    kind: str  # "echo", "unreachable", "open", "closed", "dns"
    detail: str = ""


def family_of(address: str) -> Family:
    return 4 if ipaddress.ip_address(address).version == 4 else 6


def internet_checksum(data: bytes) -> int:
    """RFC 1071: the one's complement of the one's-complement sum of the 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(family: Family, ident: int, seq: int) -> bytes:
    """ICMP/ICMPv6 echo request without the IP header (raw ICMP sockets add it).

    For ICMPv6 the kernel fills the checksum (it covers a pseudo-header only it knows).
    """
    header = struct.pack("!BBHHH", ICMP_ECHO_REQUEST[family], 0, 0, ident, seq)
    if family == 6:
        return header + ECHO_PAYLOAD
    checksum = internet_checksum(header + ECHO_PAYLOAD)
    return header[:2] + struct.pack("!H", checksum) + header[4:] + ECHO_PAYLOAD


def tcp_syn(family: Family, src: str, dst: str, sport: int, dport: int, seq: int) -> bytes:
    """TCP SYN segment without the IP header; its checksum covers the pseudo-header of src/dst."""
    window, data_offset = 64240, 5 << 4  # 20 bytes of header, no options
    segment = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, data_offset, TCP_SYN, window, 0, 0)
    source, destination = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
    if family == 4:
        pseudo = source + destination + struct.pack("!BBH", 0, PROTOCOL_TCP, len(segment))
    else:
        pseudo = source + destination + struct.pack("!I3xB", len(segment), PROTOCOL_TCP)
    checksum = internet_checksum(pseudo + segment)
    return segment[:16] + struct.pack("!H", checksum) + segment[18:]


def dns_query(query_id: int, name: str, qtype: str) -> bytes:
    """A recursive query for one name; raises ValueError for a name DNS cannot carry."""
    header = struct.pack("!HHHHHH", query_id, DNS_RECURSION_DESIRED, 1, 0, 0, 0)
    question = _encode_name(name) + struct.pack("!HH", DNS_TYPES[qtype], DNS_CLASS_IN)
    return header + question


def _encode_name(name: str) -> bytes:
    encoded = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("idna")
        if not 0 < len(raw) < 64:
            raise ValueError(f"DNS name {name!r}: a label must have 1 to 63 bytes")
        encoded += bytes([len(raw)]) + raw
    if len(encoded) > 254:
        raise ValueError(f"DNS name {name!r}: longer than 255 bytes")
    return encoded + b"\0"


def parse_dns_answer(payload: bytes, qtype: str) -> tuple[int, list[str]]:
    """(rcode, addresses of the asked type) of a DNS response; raises ValueError if malformed."""
    try:
        _id, flags, questions, answers = struct.unpack_from("!HHHH", payload)
        offset = 12
        for _ in range(questions):
            offset = _skip_name(payload, offset) + 4  # type and class
        wanted = DNS_TYPES[qtype]
        addresses = []
        for _ in range(answers):
            offset = _skip_name(payload, offset)
            rtype, _class, _ttl, length = struct.unpack_from("!HHIH", payload, offset)
            offset += 10
            rdata = payload[offset : offset + length]
            if len(rdata) != length:
                raise ValueError("record data past the end")
            if rtype == wanted:
                if length != {1: 4, 28: 16}[wanted]:
                    raise ValueError(f"{qtype} record of {length} bytes")
                addresses.append(str(ipaddress.ip_address(rdata)))
            offset += length
    except (struct.error, ipaddress.AddressValueError, ValueError) as error:
        raise ValueError(f"malformed DNS response: {error}") from error
    return flags & 0x000F, addresses


def _skip_name(payload: bytes, offset: int) -> int:
    """The offset after a (possibly compressed) name that starts at `offset`."""
    while True:
        if offset >= len(payload):
            raise ValueError("name past the end")
        length = payload[offset]
        if length == 0:
            return offset + 1
        if length & 0xC0 == 0xC0:  # a pointer ends the name here
            return offset + 2
        if length & 0xC0:
            raise ValueError(f"label type {length >> 6} not supported")
        offset += 1 + length


def _ipv4_header_length(packet: bytes) -> int:
    """IHL in bytes; an empty or impossible header gives a length no packet can satisfy."""
    length = (packet[0] & 0x0F) * 4 if packet else 0
    return length if length >= 20 else 1 << 16


def parse_icmp(packet: bytes, family: Family, source: str) -> Reply | None:
    """An ICMP(v6) packet as received on a raw socket (IPv4 with, IPv6 without IP header)."""
    offset = _ipv4_header_length(packet) if family == 4 else 0
    if len(packet) < offset + 8:
        return None
    icmp_type = packet[offset]
    echo_reply, unreachable = (0, (3, 11)) if family == 4 else (129, (1, 3))
    if icmp_type == echo_reply:
        ident, seq = struct.unpack_from("!HH", packet, offset + 4)
        return Reply(("icmp", source, ident, seq), "echo")
    if icmp_type in unreachable:
        return _parse_embedded(packet[offset + 8 :], family, icmp_type, packet[offset + 1])
    return None


def _parse_embedded(inner: bytes, family: Family, icmp_type: int, code: int) -> Reply | None:
    """ICMP errors quote the start of our packet: find which probe they are about."""
    if family == 4:
        if len(inner) < 20:
            return None
        header = _ipv4_header_length(inner)
        protocol, destination = inner[9], str(ipaddress.IPv4Address(inner[16:20]))
    else:
        if len(inner) < 40:
            return None
        header, protocol = 40, inner[6]
        destination = str(ipaddress.IPv6Address(inner[24:40]))
    body = inner[header:]
    detail = f"ICMP{'v6' if family == 6 else ''} type {icmp_type} code {code}"
    if protocol in (1, 58) and len(body) >= 8:
        ident, seq = struct.unpack_from("!HH", body, 4)
        return Reply(("icmp", destination, ident, seq), "unreachable", detail)
    if protocol == 6 and len(body) >= 4:
        sport, dport = struct.unpack_from("!HH", body, 0)
        return Reply(("tcp", destination, dport, sport), "unreachable", detail)
    return None


def parse_tcp(packet: bytes, family: Family, source: str) -> tuple[Reply, int] | None:
    """A TCP segment from a raw socket: (reply, its ack number) for SYN-ACK or RST, else None."""
    offset = _ipv4_header_length(packet) if family == 4 else 0
    if len(packet) < offset + 14:
        return None
    sport, dport, _seq, ack = struct.unpack_from("!HHII", packet, offset)
    flags = packet[offset + 13]
    key: Key = ("tcp", source, sport, dport)
    if flags & TCP_RST:
        return Reply(key, "closed"), ack
    if flags & TCP_SYN and flags & TCP_ACK:
        return Reply(key, "open"), ack
    return None
