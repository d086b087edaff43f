"""MQTT JSON intake: a message on a mapped topic becomes one sample, or a dead letter.

The first mapping (in file order) whose topic pattern matches takes the message. With a
`device` template, the value must be the `match` of a `json_device` of that mapping in the
inventory, which gives the site, room and device tags; other tags from topics or payloads are
capped per mapping and tag (`max_values`). A payload's time must be within
`service.timestamps`. Every refusal is a `BadInput` whose kind is counted and whose message is
dead-lettered (gateway/intake_refusals.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from collectors.mqtt_json.mapping import CompiledMapping
from collectors.mqtt_json.paths import fill
from gateway.collector import BadInput
from gateway.deadletter import DeadLetterFile
from gateway.intake_refusals import Refusals, TimestampWindow
from gateway.sample import Sample

log = logging.getLogger(__name__)
SOURCE = "mqtt_json"


@dataclass(frozen=True)
class Placement:
    site: str
    room: str
    device: str


@dataclass
class JsonIntake:
    mappings: Sequence[CompiledMapping]
    # (mapping name, the device's `match`) -> where it is
    devices: Mapping[tuple[str, str], Placement]
    dead_letters: DeadLetterFile
    max_payload_bytes: int = 65536
    window: TimestampWindow = field(default_factory=TimestampWindow)
    seen_tags: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    refusals: Refusals = field(init=False, repr=False)
    counts: dict[str, int] = field(init=False)  # by kind: "ok" and the refusals' kinds

    def __post_init__(self) -> None:
        self.refusals = Refusals(SOURCE, self.dead_letters, self.window)
        self.counts = self.refusals.counts

    def handle(self, topic: str, payload: bytes, retained: bool = False) -> list[Sample]:
        try:
            sample = self._sample(topic, payload)
        except BadInput as error:
            return self.refusals.refuse(topic, payload, str(error), error.kind)
        self.refusals.count("ok")
        return [sample]

    def _sample(self, topic: str, payload: bytes) -> Sample:
        for mapping in self.mappings:
            segments = mapping.pattern.match(topic)
            if segments is not None:
                break
        else:
            raise BadInput(f"unknown topic: {topic:.120} matches no mapping")
        spec = mapping.spec
        tags = self._placement(mapping, segments)
        body = _json(payload, self.max_payload_bytes)
        extra = mapping.tags(segments, body)
        fields, at = mapping.fields(body), self.window.check_ns(mapping.time_ns(body))
        for name, value in extra.items():  # only a message that is stored makes a series
            self._admit(spec.name, name, value, spec.tags[name].max_values)
        return Sample(spec.measurement, {**tags, **extra}, fields, at)

    def _placement(self, mapping: CompiledMapping, segments: Mapping[str, str]) -> dict[str, str]:
        if mapping.spec.device is None:
            return {}
        match = fill(mapping.spec.device, segments)
        placement = self.devices.get((mapping.spec.name, match))
        if placement is None:
            raise BadInput(
                f"unknown device: {match!r:.60} of mapping {mapping.spec.name} is not a "
                "json_device in the inventory"
            )
        return {"site": placement.site, "room": placement.room, "device": placement.device}

    def _admit(self, mapping: str, tag: str, value: str, limit: int) -> None:
        seen = self.seen_tags.setdefault((mapping, tag), set())
        if value in seen:
            return
        if len(seen) >= limit:
            raise BadInput(
                f"too many tag values: {tag}={value!r:.40} would be value number {limit + 1} "
                f"of mapping {mapping}; at most {limit} become series"
            )
        seen.add(value)


def _json(payload: bytes, limit: int) -> Any:
    if len(payload) > limit:
        raise BadInput(f"too large: {len(payload)} bytes, at most {limit}")
    try:
        body = json.loads(payload, parse_constant=_no_constant)
    except RecursionError as error:
        raise BadInput("invalid JSON: nested too deep") from error
    except ValueError as error:  # bad UTF-8, bad syntax, NaN, integers beyond 4300 digits
        raise BadInput(f"invalid JSON: {error}") from error
    if not isinstance(body, dict):
        raise BadInput("wrong shape: the payload must be a JSON object")
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
