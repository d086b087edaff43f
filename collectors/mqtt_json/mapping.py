"""One declared mapping applied to one message: tags, fields and time, or `BadInput`.

Values are checked as the built-in intakes check them: numbers finite and within 64 bits,
strings short and encodable as UTF-8 (no lone surrogates), tag values printable and short.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from collectors.mqtt_json.config import FieldSpec, MappingSpec, TimeSpec
from collectors.mqtt_json.paths import TopicPattern, fill, lookup, parse_path
from gateway.collector import BadInput
from gateway.sample import FieldValue, utf8_encodable
from gateway.storage.lineprotocol import INT64_MAX, INT64_MIN, storable_number

MAX_STRING = 256
MAX_TAG = 64
_UNIX_SCALE = {"unix": 10**9, "unix_ms": 10**6, "unix_us": 10**3, "unix_ns": 1}
# plausible message times: 2001-09-09 .. 2286-11-20, as the built-in contract's `ts`
_EARLIEST_NS, _LATEST_NS = 10**18, 10**19


@dataclass(frozen=True)
class CompiledMapping:
    spec: MappingSpec
    pattern: TopicPattern

    @classmethod
    def of(cls, spec: MappingSpec) -> CompiledMapping:
        return cls(spec, TopicPattern.parse(spec.topic))

    def tags(self, segments: Mapping[str, str], body: Any) -> dict[str, str]:
        tags: dict[str, str] = {}
        for name, spec in self.spec.tags.items():
            if spec.path is not None:
                value = lookup(body, parse_path(spec.path))
                if value is None:
                    raise BadInput(f"missing tag: {name} ({spec.path}) is not in the payload")
                if isinstance(value, bool) or not isinstance(value, str | int):
                    raise BadInput(f"bad tag: {name} must be a string or an integer")
                tags[name] = tag_value(name, str(value))
            else:
                tags[name] = tag_value(name, fill(spec.value or "", segments))
        return tags

    def fields(self, body: Any) -> dict[str, FieldValue]:
        fields: dict[str, FieldValue] = {}
        for name, spec in self.spec.fields.items():
            raw = lookup(body, parse_path(spec.path))
            if raw is None:
                if spec.required:
                    raise BadInput(f"missing field: {name} ({spec.path}) is not in the payload")
                continue
            fields[name] = _typed(name, spec, raw)
        if not fields:
            raise BadInput(f"no fields: none of the fields of mapping {self.spec.name} is present")
        return fields

    def time_ns(self, body: Any) -> int:
        if self.spec.time is None:
            return time.time_ns()
        raw = lookup(body, parse_path(self.spec.time.path))
        if raw is None:
            raise BadInput(f"missing time: {self.spec.time.path} is not in the payload")
        at = _time_ns(self.spec.time, raw)
        if not _EARLIEST_NS < at < _LATEST_NS:
            raise BadInput(f"bad time: {raw!r:.40} is not a plausible {self.spec.time.format} time")
        return at


def tag_value(name: str, value: str) -> str:
    if not value or len(value) > MAX_TAG or not value.isprintable() or not utf8_encodable(value):
        raise BadInput(f"bad tag: {name} must be 1-{MAX_TAG} printable characters")
    return value


def _typed(name: str, spec: FieldSpec, raw: Any) -> FieldValue:
    if spec.type == "string":
        if not isinstance(raw, str) or len(raw) > MAX_STRING or not utf8_encodable(raw):
            raise BadInput(f"wrong type: {name} must be a string of at most {MAX_STRING}")
        return raw
    if spec.type == "bool":
        if isinstance(raw, bool):
            return raw
        # Tasmota and Zigbee2MQTT say ON/OFF
        if raw in (0, 1) or (isinstance(raw, str) and raw.upper() in ("ON", "OFF")):
            return raw == 1 or (isinstance(raw, str) and raw.upper() == "ON")
        raise BadInput(f"wrong type: {name} must be a boolean, got {raw!r:.40}")
    if not storable_number(raw):
        raise BadInput(f"wrong type: {name} must be a number, got {raw!r:.40}")
    unscaled = spec.scale == 1.0 and spec.offset == 0.0  # keeps integers exact
    value = raw if unscaled else raw * spec.scale + spec.offset
    if spec.type == "int":
        if not float(value).is_integer() or not INT64_MIN <= value <= INT64_MAX:
            raise BadInput(f"wrong type: {name} must be an integer, got {raw!r:.40}")
        return int(value)
    return float(value)


def _time_ns(spec: TimeSpec, raw: Any) -> int:
    if spec.format == "rfc3339":
        if not isinstance(raw, str) or len(raw) > 40:
            raise BadInput(f"bad time: {raw!r:.40} is not an RFC 3339 time")
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError as error:
            raise BadInput(f"bad time: {raw!r:.40} is not an RFC 3339 time") from error
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=ZoneInfo(spec.timezone))
        return int(parsed.timestamp()) * 10**9 + parsed.microsecond * 1000
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise BadInput(f"bad time: {raw!r:.40} is not a number of {spec.format}")
    return int(raw * _UNIX_SCALE[spec.format])
