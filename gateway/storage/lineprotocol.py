"""InfluxDB line protocol encoding of Samples, with complete escaping and clear rejections.

Escaping (verified against a real influxd in tests/integration/test_lineprotocol_roundtrip.py):
- measurement: comma and space are backslash-escaped;
- tag keys, tag values, field keys: comma, equals sign and space are backslash-escaped;
- string field values: double quote and backslash are backslash-escaped; newlines are allowed.
A backslash is otherwise literal, so a name *ending* in a backslash cannot be encoded (it would
escape the following separator) and is rejected, as are newlines outside string fields.
Tags with an empty value are omitted (InfluxDB has no empty tag values); tags are sorted by key,
which is the order InfluxDB indexes fastest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from gateway.sample import FieldValue, Sample

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
RESERVED_KEYS = frozenset({"time", "_measurement", "_field", "_value", "_start", "_stop"})

_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_STRING_ESCAPES = str.maketrans({'"': r"\"", "\\": r"\\"})
_SERIES_CACHE_LIMIT = 250_000


def storable_number(value: object) -> bool:
    """An int or float (not a bool) a field can hold: finite, an integer within 64 bits."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    # the range first: isfinite cannot convert an integer beyond a float's range
    return INT64_MIN <= value <= INT64_MAX if isinstance(value, int) else math.isfinite(value)


class EncodeError(ValueError):
    """A Sample that line protocol cannot represent; the message names the offending part."""


def _check_name(kind: str, name: str) -> None:
    if not name:
        raise EncodeError(f"{kind} is empty")
    if "\n" in name or "\r" in name:
        raise EncodeError(f"{kind} {name!r} contains a newline")
    if name.endswith("\\"):
        raise EncodeError(f"{kind} {name!r} ends with a backslash")


def _escape_measurement(name: str) -> str:
    _check_name("measurement", name)
    if name.startswith("#"):
        raise EncodeError(f"measurement {name!r} starts with '#' (a comment line)")
    return name.translate(_MEASUREMENT_ESCAPES)


def _escape_key(kind: str, name: str) -> str:
    _check_name(kind, name)
    if name in RESERVED_KEYS:
        raise EncodeError(f"{kind} {name!r} is reserved by InfluxDB")
    return name.translate(_KEY_ESCAPES)


def _encode_value(key: str, value: FieldValue) -> str:
    # bool before int: bool is a subclass of int.
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise EncodeError(f"field {key!r}: integer {value} does not fit in 64 bits")
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EncodeError(f"field {key!r}: {value} is not a finite number")
        return repr(value)
    if isinstance(value, str):
        return '"' + value.translate(_STRING_ESCAPES) + '"'
    raise EncodeError(f"field {key!r}: unsupported type {type(value).__name__}")


def _series_key(measurement: str, tags: Mapping[str, str]) -> str:
    """`measurement,tag=value,...` escaped, tags sorted by key, empty values left out."""
    parts = [_escape_measurement(measurement)]
    for key, value in sorted(tags.items()):
        if not isinstance(value, str):
            raise EncodeError(f"tag {key!r}: value must be a string, got {type(value).__name__}")
        if value == "":
            continue
        parts.append(f"{_escape_key('tag key', key)}={_escape_key('tag value', value)}")
    return ",".join(parts)


class LineEncoder:
    """Encodes Samples to line protocol, caching the escaped series key and field keys.

    Monitoring data repeats the same series every interval, so the escaped
    `measurement,tag=value` prefix is computed once per series. The cache is keyed by the
    series' shape (measurement and tag names, as the sample lists them: a few dozen in all) and
    then by the tag values alone, which costs about half the memory of a key of (name, value)
    pairs; a city of 2,000 switches has about 110,000 series, and the cache holds
    `_SERIES_CACHE_LIMIT`, dropping a shape's oldest entry when full.
    """

    def __init__(self) -> None:
        self._series: dict[tuple[str, tuple[str, ...]], dict[tuple[str, ...], str]] = {}
        self._series_cached = 0
        self._field_keys: dict[str, str] = {}

    def series_key(self, measurement: str, tags: Mapping[str, str]) -> str:
        values = tuple(tags.values())
        shape = (measurement, tuple(tags))
        of_shape = self._series.get(shape)
        if of_shape is None:
            of_shape = self._series[shape] = {}
        cached = of_shape.get(values)
        if cached is not None:
            return cached
        encoded = _series_key(measurement, tags)
        if self._series_cached >= _SERIES_CACHE_LIMIT:
            if not of_shape:
                return encoded  # full of other shapes: this one is not kept
            del of_shape[next(iter(of_shape))]
            self._series_cached -= 1
        of_shape[values] = encoded
        self._series_cached += 1
        return encoded

    def _field_key(self, key: str) -> str:
        cached = self._field_keys.get(key)
        if cached is None:
            cached = _escape_key("field key", key)
            if len(self._field_keys) < _SERIES_CACHE_LIMIT:
                self._field_keys[key] = cached
        return cached

    def encode(self, sample: Sample) -> str:
        """One line, without the trailing newline. Raises EncodeError naming the bad part."""
        if not sample.fields:
            raise EncodeError(f"measurement {sample.measurement!r} has no fields")
        if not isinstance(sample.time_ns, int) or isinstance(sample.time_ns, bool):
            raise EncodeError(f"timestamp {sample.time_ns!r} is not an integer of nanoseconds")
        if not INT64_MIN <= sample.time_ns <= INT64_MAX:
            raise EncodeError(f"timestamp {sample.time_ns} does not fit in 64 bits")
        field_keys = self._field_keys
        parts = []
        for key, value in sample.fields.items():
            escaped = field_keys.get(key) or self._field_key(key)
            kind = type(value)
            # Exact-type fast paths for the common cases; everything else takes the checked path.
            # x - x is 0.0 only for a finite float (inf - inf and nan - nan are nan).
            if kind is float and value - value == 0.0:  # type: ignore[operator]
                parts.append(f"{escaped}={value!r}")
            elif kind is int and INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
                parts.append(f"{escaped}={value}i")
            else:
                parts.append(f"{escaped}={_encode_value(key, value)}")
        fields = ",".join(parts)
        return f"{self.series_key(sample.measurement, sample.tags)} {fields} {sample.time_ns}"

    def encode_batch(
        self, samples: Iterable[Sample]
    ) -> tuple[bytes, int, list[tuple[Sample, EncodeError]]]:
        """Encode many samples: (payload, number of lines, rejected samples with reasons)."""
        lines: list[str] = []
        rejected: list[tuple[Sample, EncodeError]] = []
        for sample in samples:
            try:
                lines.append(self.encode(sample))
            except EncodeError as error:
                rejected.append((sample, error))
        if not lines:
            return b"", 0, rejected
        lines.append("")
        return "\n".join(lines).encode(), len(lines) - 1, rejected
