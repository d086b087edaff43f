"""Line protocol encoding: escaping table, value types, and clear rejections."""

from __future__ import annotations

import pytest

from gateway.sample import Sample
from gateway.storage.lineprotocol import EncodeError, LineEncoder


def line(measurement: str, tags: dict[str, str], fields: dict[str, object], t: int = 1) -> str:
    return LineEncoder().encode(Sample(measurement, tags, fields, t))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("measurement", "tags", "fields", "expected"),
    [
        ("cpu", {}, {"v": 1.5}, "cpu v=1.5 1"),
        ("my cpu", {}, {"v": 1.0}, r"my\ cpu v=1.0 1"),
        ("a,b", {}, {"v": 1.0}, r"a\,b v=1.0 1"),
        ("a=b", {}, {"v": 1.0}, "a=b v=1.0 1"),  # '=' needs no escape in a measurement
        ("m", {"site": "Ventspils 1"}, {"v": 1.0}, r"m,site=Ventspils\ 1 v=1.0 1"),
        ("m", {"k,=": "v,= x"}, {"v": 1.0}, r"m,k\,\==v\,\=\ x v=1.0 1"),
        ("m", {"b": "2", "a": "1"}, {"v": 1.0}, "m,a=1,b=2 v=1.0 1"),  # tags sorted
        ("m", {"empty": "", "a": "1"}, {"v": 1.0}, "m,a=1 v=1.0 1"),  # empty tag omitted
        ("m", {"q": 'say "hi"'}, {"v": 1.0}, 'm,q=say\\ "hi" v=1.0 1'),  # quotes literal in tags
        ("m", {"p": r"C:\dir"}, {"v": 1.0}, r"m,p=C:\dir v=1.0 1"),  # inner backslash literal
        ("m", {"p": "a\\,b"}, {"v": 1.0}, "m,p=a\\\\,b v=1.0 1"),
        (
            "m",
            {"t": "Kuldīgas iela 1, Ventspils"},
            {"v": 1},
            r"m,t=Kuldīgas\ iela\ 1\,\ Ventspils v=1i 1",
        ),
        ("m", {}, {"my field": 1}, r"m my\ field=1i 1"),
        ("m", {}, {"f,=": 1}, r"m f\,\==1i 1"),
        ("m", {}, {"s": 'a "quoted" \\ back'}, r'm s="a \"quoted\" \\ back" 1'),
        ("m", {}, {"s": "two\nlines"}, 'm s="two\nlines" 1'),
        ("m", {}, {"s": ""}, 'm s="" 1'),
        ("m", {}, {"s": "Ventspils ☀"}, 'm s="Ventspils ☀" 1'),
        ("m", {}, {"up": True, "down": False}, "m up=true,down=false 1"),
        ("m", {}, {"i": -(2**63)}, f"m i={-(2**63)}i 1"),
        ("m", {}, {"i": 2**63 - 1}, f"m i={2**63 - 1}i 1"),
        ("m", {}, {"f": 1e21}, "m f=1e+21 1"),
        ("m", {}, {"f": -0.0001}, "m f=-0.0001 1"),
    ],
)
def test_encoding(
    measurement: str, tags: dict[str, str], fields: dict[str, object], expected: str
) -> None:
    assert line(measurement, tags, fields) == expected


@pytest.mark.parametrize(
    ("measurement", "tags", "fields", "time_ns", "message"),
    [
        ("", {}, {"v": 1}, 1, "measurement is empty"),
        ("m", {}, {}, 1, "has no fields"),
        ("a\nb", {}, {"v": 1}, 1, "contains a newline"),
        ("m", {"t": "a\nb"}, {"v": 1}, 1, "tag value 'a\\nb' contains a newline"),
        ("m", {"t\r": "a"}, {"v": 1}, 1, "contains a newline"),
        ("m", {}, {"f\n": 1}, 1, "field key"),
        ("m\\", {}, {"v": 1}, 1, "ends with a backslash"),
        ("m", {"t": "x\\"}, {"v": 1}, 1, "ends with a backslash"),
        ("#m", {}, {"v": 1}, 1, "comment"),
        ("m", {}, {"v": float("nan")}, 1, "not a finite number"),
        ("m", {}, {"v": float("inf")}, 1, "not a finite number"),
        ("m", {}, {"v": 2**63}, 1, "does not fit in 64 bits"),
        ("m", {}, {"v": None}, 1, "unsupported type NoneType"),
        ("m", {}, {"v": b"raw"}, 1, "unsupported type bytes"),
        ("m", {"t": 5}, {"v": 1}, 1, "value must be a string"),
        ("m", {}, {"time": 1}, 1, "reserved"),
        ("m", {"time": "x"}, {"v": 1}, 1, "reserved"),
        ("m", {}, {"v": 1}, 1.5, "not an integer"),
        ("m", {}, {"v": 1}, 2**63, "does not fit"),
    ],
)
def test_rejections(
    measurement: str,
    tags: dict[str, object],
    fields: dict[str, object],
    time_ns: object,
    message: str,
) -> None:
    with pytest.raises(EncodeError, match=message.replace("\\", "\\\\").replace("(", r"\(")):
        LineEncoder().encode(Sample(measurement, tags, fields, time_ns))  # type: ignore[arg-type]


def test_batch_keeps_good_samples_and_reports_bad_ones() -> None:
    encoder = LineEncoder()
    good = Sample("m", {"a": "1"}, {"v": 1.0}, 10)
    bad = Sample("m", {}, {"v": float("nan")}, 11)
    payload, count, rejected = encoder.encode_batch([good, bad, good])
    assert payload == b"m,a=1 v=1.0 10\nm,a=1 v=1.0 10\n"
    assert count == 2
    assert [s for s, _ in rejected] == [bad]
    payload, count, rejected = encoder.encode_batch([bad])
    assert (payload, count, len(rejected)) == (b"", 0, 1)


def test_series_cache_does_not_change_output() -> None:
    encoder = LineEncoder()
    first = encoder.encode(Sample("m", {"a": "x y"}, {"v": 1}, 1))
    second = encoder.encode(Sample("m", {"a": "x y"}, {"v": 2}, 2))
    assert (first, second) == (r"m,a=x\ y v=1i 1", r"m,a=x\ y v=2i 2")


def test_series_cache_is_bounded_and_keyed_by_names_and_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("gateway.storage.lineprotocol._SERIES_CACHE_LIMIT", 10)
    encoder = LineEncoder()
    lines = [encoder.encode(Sample("m", {"b": f"{n}", "a": "x"}, {"v": 1}, 1)) for n in range(50)]
    assert lines[7] == "m,a=x,b=7 v=1i 1"  # tags sorted by key whatever order the sample has
    # the same values under other tag names are another series
    assert encoder.encode(Sample("m", {"c": "7", "a": "x"}, {"v": 1}, 1)) == "m,a=x,c=7 v=1i 1"
    assert encoder.encode(Sample("m", {"a": "x", "b": "7"}, {"v": 1}, 1)) == lines[7]
    assert sum(map(len, encoder._series.values())) == 10
