"""Probe packets (struct) checked against scapy as the reference; malformed input safe."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, IPerror, TCPerror
from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6EchoReply, IPv6
from scapy.utils import checksum

from collectors.probes.packets import (
    Reply,
    dns_query,
    echo_request,
    parse_dns_answer,
    parse_icmp,
    parse_tcp,
    tcp_syn,
)
from collectors.probes.stats import burst_fields


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_patched_echo_requests_equal_scapys(ident: int, seq: int) -> None:
    """The incremental checksum gives exactly what scapy computes from scratch."""
    patched = echo_request(4, ident, seq)
    built = ICMP(bytes(ICMP(type=8, id=ident, seq=seq) / ICMP(patched).payload)).chksum
    ours = ICMP(patched).chksum
    assert ours == built or {ours, built} == {0x0000, 0xFFFF}  # the two one's-complement zeros
    assert checksum(patched) == 0  # a receiver verifies it
    assert (ICMP(patched).id, ICMP(patched).seq) == (ident, seq)
    v6 = echo_request(6, ident, seq)
    assert v6[0] == 128 and v6[4:8] == struct.pack("!HH", ident, seq)


@pytest.mark.parametrize(
    ("src", "dst", "ip"),
    [("198.18.0.1", "198.18.0.2", IP), ("fd00:ed::1", "fd00:ed:1::5", IPv6)],
)
def test_tcp_syn_is_what_scapy_builds(src: str, dst: str, ip: type) -> None:
    ours = tcp_syn(4 if ip is IP else 6, src, dst, 61000, 443, 1000)
    reference = ip(src=src, dst=dst) / TCP(
        sport=61000, dport=443, flags="S", seq=1000, window=64240
    )
    assert ours == bytes(ip(bytes(reference))[TCP])


@given(st.from_regex(r"[a-z0-9-]{1,20}(\.[a-z0-9-]{1,20}){0,4}\.?", fullmatch=True))
def test_dns_query_is_what_scapy_builds(name: str) -> None:
    from scapy.layers.dns import DNS, DNSQR

    for qtype in ("A", "AAAA"):
        assert dns_query(7, name, qtype) == bytes(
            DNS(id=7, rd=1, qd=DNSQR(qname=name, qtype=qtype))
        )


V4_REPLY = bytes(IP(src="198.18.0.2", dst="198.18.0.1") / ICMP(type=0, id=5, seq=9) / (b"x" * 16))
V4_UNREACH = bytes(
    IP(src="198.18.0.254", dst="198.18.0.1")
    / ICMP(type=3, code=1)
    / IPerror(src="198.18.0.1", dst="198.18.1.5")
    / ICMP(type=8, id=5, seq=10)
)
V4_TCP_UNREACH = bytes(
    IP(src="198.18.0.254", dst="198.18.0.1")
    / ICMP(type=3, code=13)
    / IPerror(src="198.18.0.1", dst="198.18.1.5", proto=6)
    / TCPerror(sport=61001, dport=443)
)
V6_REPLY = bytes(ICMPv6EchoReply(id=5, seq=9, data=b"x" * 16))
V6_UNREACH = bytes(
    ICMPv6DestUnreach(code=0)
    / IPv6(src="fd00:ed::1", dst="fd00:ed:1::5", nh=58)
    / bytes(ICMPv6EchoReply(type=128, id=5, seq=11))
)


@pytest.mark.parametrize(
    ("packet", "family", "source", "expected"),
    [
        (V4_REPLY, 4, "198.18.0.2", Reply(("icmp", "198.18.0.2", 5, 9), "echo")),
        (
            V4_UNREACH,
            4,
            "198.18.0.254",
            Reply(("icmp", "198.18.1.5", 5, 10), "unreachable", "ICMP type 3 code 1"),
        ),
        (
            V4_TCP_UNREACH,
            4,
            "198.18.0.254",
            Reply(("tcp", "198.18.1.5", 443, 61001), "unreachable", "ICMP type 3 code 13"),
        ),
        (V6_REPLY, 6, "fd00:ed::2", Reply(("icmp", "fd00:ed::2", 5, 9), "echo")),
        (
            V6_UNREACH,
            6,
            "fd00:ed::1",
            Reply(("icmp", "fd00:ed:1::5", 5, 11), "unreachable", "ICMPv6 type 1 code 0"),
        ),
        (bytes(IP() / ICMP(type=8, id=5, seq=1)), 4, "127.0.0.1", None),  # our own request on lo
        (V4_REPLY[:22], 4, "198.18.0.2", None),  # truncated
        (V4_UNREACH[:30], 4, "198.18.0.254", None),  # truncated quote
        (b"", 6, "fd00:ed::2", None),
    ],
)
def test_parse_icmp(packet: bytes, family: int, source: str, expected: Reply | None) -> None:
    assert parse_icmp(packet, family, source) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("flags", "kind"), [("SA", "open"), ("R", "closed"), ("RA", "closed"), ("A", None), ("S", None)]
)
def test_parse_tcp(flags: str, kind: str | None) -> None:
    segment = bytes(
        IP(src="198.18.0.2", dst="198.18.0.1") / TCP(sport=443, dport=61000, flags=flags, ack=1001)
    )
    parsed = parse_tcp(segment, 4, "198.18.0.2")
    if kind is None:
        assert parsed is None
    else:
        assert parsed == (Reply(("tcp", "198.18.0.2", 443, 61000), kind), 1001)


@given(st.binary(max_size=120), st.sampled_from([4, 6]))
def test_parsers_never_crash_on_garbage(data: bytes, family: int) -> None:
    for parse in (parse_icmp, parse_tcp):
        parse(data, family, "198.18.0.2")  # type: ignore[arg-type]


def test_dns_answer_check() -> None:
    from scapy.layers.dns import DNS, DNSQR, DNSRR

    query = DNS(dns_query(7, "gw.school.edumon.test", "A"))
    assert query.id == 7 and query.qd[0].qname == b"gw.school.edumon.test."
    answer = DNS(
        id=7,
        qr=1,
        rcode=0,
        qd=DNSQR(qname="gw.school.edumon.test"),
        an=[
            DNSRR(rrname="gw.school.edumon.test", type="CNAME", rdata="gw2.school.edumon.test"),
            DNSRR(rrname="gw2.school.edumon.test", type="A", rdata="198.18.0.2"),
            DNSRR(rrname="gw2.school.edumon.test", type="AAAA", rdata="fd00:ed::2"),
        ],
    )
    assert parse_dns_answer(bytes(answer), "A") == (0, ["198.18.0.2"])
    assert parse_dns_answer(bytes(answer), "AAAA") == (0, ["fd00:ed::2"])
    assert parse_dns_answer(bytes(DNS(id=7, qr=1, rcode=3)), "A") == (3, [])


def test_dns_answer_with_compressed_names() -> None:
    """Real servers point back to the question's name (RFC 1035 4.1.4)."""
    question = dns_query(9, "gw.edumon.test", "A")
    record = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([198, 18, 0, 9])
    response = question[:2] + b"\x81\x80" + question[4:6] + b"\x00\x01" + question[8:] + record
    assert parse_dns_answer(response, "A") == (0, ["198.18.0.9"])
    with pytest.raises(ValueError, match="A record of 3 bytes"):
        parse_dns_answer(response[:-5] + b"\x03\x01\x02\x03", "A")


@given(st.binary(max_size=120))
def test_dns_parser_raises_only_value_error_on_garbage(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        parse_dns_answer(data, "A")


@pytest.mark.parametrize(
    ("rtts", "expected"),
    [
        (
            [1.0, 2.0, 4.0],
            {
                "sent": 3,
                "received": 3,
                "loss_pct": 0.0,
                "rtt_ms": 2.333,
                "rtt_min_ms": 1.0,
                "rtt_max_ms": 4.0,
                "jitter_ms": 1.5,
            },
        ),
        (
            [None, 2.0, None, None, 2.0],
            {
                "sent": 5,
                "received": 2,
                "loss_pct": 60.0,
                "rtt_ms": 2.0,
                "rtt_min_ms": 2.0,
                "rtt_max_ms": 2.0,
                "jitter_ms": 0.0,
            },
        ),
        (
            [3.0],
            {
                "sent": 1,
                "received": 1,
                "loss_pct": 0.0,
                "rtt_ms": 3.0,
                "rtt_min_ms": 3.0,
                "rtt_max_ms": 3.0,
                "jitter_ms": 0.0,
            },
        ),
        ([None] * 5, {"sent": 5, "received": 0, "loss_pct": 100.0}),
    ],
)
def test_burst_fields(rtts: list[float | None], expected: dict[str, float]) -> None:
    assert burst_fields(rtts) == expected
