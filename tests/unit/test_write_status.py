"""Status handling of database answers, Retry-After parsing, and quote-aware line splitting."""

from __future__ import annotations

import pytest

from gateway.storage.write_status import (
    Outcome,
    classify,
    lines_named_in_error,
    retry_after_seconds,
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
