"""Status handling of database answers, Retry-After parsing, and quote-aware line splitting."""

from __future__ import annotations

import json

import pytest

from gateway.storage.write_status import (
    Outcome,
    TagLimit,
    classify,
    lines_named_in_error,
    retry_after_seconds,
    series_key,
    series_of,
    split_lines,
)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.STORED),
        (204, Outcome.STORED),
        (400, Outcome.REJECTED),
        (422, Outcome.REJECTED),
        (401, Outcome.AUTH),
        (403, Outcome.AUTH),
        (404, Outcome.NOT_FOUND),
        (413, Outcome.TOO_LARGE),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (502, Outcome.RETRY),
        (503, Outcome.RETRY),
        (504, Outcome.RETRY),
        (405, Outcome.RETRY),  # unknown 4xx: kept, never dropped
    ],
)
def test_classify(status: int, outcome: Outcome) -> None:
    assert classify(status) is outcome


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        (" 30 ", 30.0),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 40.0),  # 100 s after epoch, now = 60
        ("Thu, 01 Jan 1970 00:00:10 GMT", 0.0),  # in the past
        ("soon", None),
    ],
)
def test_retry_after(header: str | None, expected: float | None) -> None:
    assert retry_after_seconds(header, now=60.0) == expected


@pytest.mark.parametrize(
    ("payload", "lines"),
    [
        (b"", []),
        (b"a v=1 1\nb v=2 2\n", [b"a v=1 1", b"b v=2 2"]),
        (b"a v=1 1\nb v=2 2", [b"a v=1 1", b"b v=2 2"]),
        (b'a s="x\ny" 1\nb v=2 2\n', [b'a s="x\ny" 1', b"b v=2 2"]),
        (b'a s="q\\"\ny" 1\n', [b'a s="q\\"\ny" 1']),
        (b'a s="back\\\\" 1\nb v=1 2\n', [b'a s="back\\\\" 1', b"b v=1 2"]),
        (b'a,t=x" v=1 1\nb v=2 2\n', [b'a,t=x" v=1 1', b"b v=2 2"]),  # quote in a tag is literal
        (b'a,t=x\\ " v=1 1\nb v=2 2\n', [b'a,t=x\\ " v=1 1', b"b v=2 2"]),
    ],
)
def test_split_lines(payload: bytes, lines: list[bytes]) -> None:
    assert split_lines(payload) == lines


def test_lines_named_in_influx_error() -> None:
    lines = [b"m f=1 10", b"m f=bad 11", b"m f=4 12"]
    body = """{"error":"partial write: unable to parse 'm f=bad 11': invalid boolean dropped=0"}"""
    assert lines_named_in_error(body, lines) == [b"m f=bad 11"]
    conflict = '{"error":"partial write: field type conflict: input field \\"f\\" dropped=1"}'
    assert lines_named_in_error(conflict, lines) == []


def limit_error(measurement: str, tag: str, value: str, dropped: int) -> str:
    """influxd 1.x's answer, its Go %q quoting inside a JSON string."""
    quoted = [m.replace("\\", "\\\\").replace('"', '\\"') for m in (measurement, tag, value)]
    message = (
        "partial write: max-values-per-tag limit exceeded (20/20): "
        f'measurement="{quoted[0]}" tag="{quoted[1]}" value="{quoted[2]}" dropped={dropped}'
    )
    return json.dumps({"error": message})


def test_a_tag_limit_answer_is_read_with_its_escapes_and_dropped_count() -> None:
    limit = TagLimit.of(limit_error("wifi ap", "band,x", 'new "a"=1', 7))
    assert limit == TagLimit("wifi\\ ap", "band\\,x", 'new\\ "a"\\=1', 7)
    assert TagLimit.of('{"error":"partial write: field type conflict dropped=1"}') is None
    assert TagLimit.of("not json at all") is None
    old = "partial write: max-values-per-tag limit exceeded (5/5): "
    assert TagLimit.of(old + 'measurement="m" tag="t" value="v"') == TagLimit("m", "t", "v", None)


LINES = [
    b"interface,device=sw-1,ifname=new-1 in=1 1",
    b"interface,device=sw-1,ifname=new-2 in=1 2",
    b"interface,device=sw-1,ifname=eth0 in=1 3",
    b"interface,device=sw-2,ifname=new-1 in=1 4",
    b"interface,device=sw-2,ifname=eth0 in=1 5",
    b"device,device=sw-1 up=1 6",
    b"interface,device=sw-1 in=1 7",  # no ifname tag: never refused for it
    b"wifi_ap,device=sw-1,ifname=new-1 in=1 8",  # another measurement
]


def test_the_named_value_and_the_sender_that_invented_it() -> None:
    limit = TagLimit("interface", "ifname", "new-1", 5)
    named = limit.named(LINES)
    assert named == [LINES[0], LINES[3]]
    assert limit.same_senders(LINES, [LINES[0]]) == LINES[:3]
    assert limit.same_senders(LINES, named) == LINES[:5]


def test_series_keys_keep_escapes_and_split_only_where_unescaped() -> None:
    line = b'm\\ x,a=1\\,2,b\\=c=d\\ e f="s p,a=c" 1'
    assert series_key(line) == ("m\\ x", {"a": "1\\,2", "b\\=c": "d\\ e"})
    assert series_of(line) == "m\\ x,a=1\\,2,b\\=c=d\\ e"
    assert series_key(b"m v=1 1") == ("m", {})
