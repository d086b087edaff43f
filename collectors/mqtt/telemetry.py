"""The MQTT topic and payload contract of classroom access points and exhibits.

    edumon/{site}/ap/{ap}/state          JSON, QoS 1, every 10 s:
        {"ts": 1763366700.5, "radios": [{"band": "5g", "clients": 23, "channel_util_pct": 41.5,
          "retry_pct": 7.2, "noise_dbm": -92}, ...]}
    edumon/{site}/exhibit/{exhibit}/health   JSON, QoS 1:
        {"ts": ..., "interactions": 1234, "errors": 2, "temp_c": 41.5, "cpu_pct": 12.0,
         "fw": "1.4.2"}
    edumon/{site}/{ap|exhibit}/{id}/status   "online" | "offline", retained; "offline" is the
        device's MQTT Last Will, so the broker publishes it when the device dies.

`ts` (Unix seconds) is optional; without it the receive time is used; outside
`service.timestamps` (by default 5 years back, 10 minutes ahead) the message is refused. Counters
(`interactions`, `errors`) count since the device booted. `band` is one of BANDS, each at most
once per message: a device must not be able to create series (tags come from the contract and
the inventory only). Anything else (including JSON nested too deep for the parser and
numbers beyond 64 bits) is dead-lettered with the reason and the raw message, and counted per
reason (gateway/intake_refusals.py).

This runs for every message (bench/mqtt.py): JSON is parsed by orjson (a sixth of the cost of
the standard library's; what it refuses is read again by the standard library, which decides
as before), each radio's tags are built once per access point and band and shared by its
samples, and well-formed numbers take a short path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.collector import BadInput
from gateway.deadletter import DeadLetterFile
from gateway.intake_refusals import Refusals, TimestampWindow
from gateway.sample import FieldValue, Sample, utf8_encodable
from gateway.storage.lineprotocol import INT64_MAX, storable_number

SUBSCRIPTIONS = (
    "edumon/+/ap/+/state",
    "edumon/+/ap/+/status",
    "edumon/+/exhibit/+/health",
    "edumon/+/exhibit/+/status",
)
BANDS = frozenset({"2g", "5g", "6g"})
RADIO_FIELDS = {"clients": int, "channel_util_pct": float, "retry_pct": float, "noise_dbm": float}
_BAND_LIST = ", ".join(sorted(BANDS))
HEALTH_FIELDS = {"interactions": int, "errors": int, "temp_c": float, "cpu_pct": float}


class BadMessage(BadInput):
    """A message that does not follow the contract; the text is the dead-letter reason."""


@dataclass(frozen=True)
class Placement:
    """Where a device is: from the inventory (room for an AP, zone for an exhibit)."""

    site: str
    place: str


@dataclass
class TelemetryIntake:
    aps: Mapping[tuple[str, str], Placement]  # (site, ap) -> room
    exhibits: Mapping[tuple[str, str], Placement]  # (site, exhibit) -> zone
    dead_letters: DeadLetterFile
    window: TimestampWindow = field(default_factory=TimestampWindow)
    refusals: Refusals = field(init=False, repr=False)
    counts: dict[str, int] = field(init=False)  # by kind: "ok" and the refusals' kinds
    # (site, ap, band) -> the radio's tags; bounded by the inventory and BANDS
    _radio_tags: dict[tuple[str, str, str], dict[str, str]] = field(
        default_factory=dict, repr=False
    )

    def __post_init__(self) -> None:
        self.refusals = Refusals("mqtt", self.dead_letters, self.window)
        self.counts = self.refusals.counts

    def handle(self, topic: str, payload: bytes, retained: bool) -> list[Sample]:
        """Samples for one message; bad input is counted and dead-lettered, never raised."""
        try:
            samples = self._samples(topic, payload)
        except BadInput as error:
            return self.refusals.refuse(topic, payload, str(error), error.kind)
        self.counts["ok"] = self.counts.get("ok", 0) + 1
        return samples

    def _samples(self, topic: str, payload: bytes) -> list[Sample]:
        parts = topic.split("/")
        if len(parts) != 5 or parts[0] != "edumon" or parts[2] not in ("ap", "exhibit"):
            raise BadMessage(f"unknown topic: {topic}")
        _, site, kind, device, leaf = parts
        directory = self.aps if kind == "ap" else self.exhibits
        placement = directory.get((site, device))
        if placement is None:
            raise BadMessage(
                f"unknown device: {kind} {device} at site {site} is not in the inventory"
            )
        if leaf == "status":
            return [self._status(kind, device, placement, payload)]
        if (kind, leaf) == ("ap", "state"):
            return self._ap_state(device, placement, _json(payload))
        if (kind, leaf) == ("exhibit", "health"):
            return [self._exhibit_health(device, placement, _json(payload))]
        raise BadMessage(f"unknown topic: {topic}")

    def _status(self, kind: str, device: str, placement: Placement, payload: bytes) -> Sample:
        text = payload.decode("utf-8", errors="replace").strip().lower()
        if text not in ("online", "offline"):
            raise BadMessage(f"bad status: {text[:40]!r} is neither online nor offline")
        up = text == "online"
        if kind == "ap":
            tags = {"site": placement.site, "ap": device, "room": placement.place, "band": "all"}
            return Sample("wifi_ap", tags, {"up": up}, time.time_ns())
        tags = {"site": placement.site, "exhibit": device, "zone": placement.place}
        return Sample("exhibit", tags, {"up": up}, time.time_ns())

    def _ap_state(self, ap: str, placement: Placement, body: dict[str, Any]) -> list[Sample]:
        radios = body.get("radios")
        if not isinstance(radios, list) or not radios:
            raise BadMessage("wrong shape: 'radios' must be a non-empty list")
        now = self._timestamp(body)
        samples = []
        bands: set[str] = set()
        for radio in radios:
            band = radio.get("band") if isinstance(radio, dict) else None
            if not isinstance(band, str):
                raise BadMessage("wrong shape: every radio needs a 'band'")
            if band not in BANDS:
                raise BadMessage(f"unknown band: {band!r:.40} is not one of {_BAND_LIST}")
            if band in bands:
                raise BadMessage(f"wrong shape: band {band} appears twice")
            bands.add(band)
            fields = _numbers(radio, RADIO_FIELDS, {"up": True})
            samples.append(Sample("wifi_ap", self._tags_of(ap, placement, band), fields, now))
        return samples

    def _tags_of(self, ap: str, placement: Placement, band: str) -> dict[str, str]:
        """One radio's tags, built once and shared by all its samples (nobody changes them)."""
        key = (placement.site, ap, band)
        tags = self._radio_tags.get(key)
        if tags is None:
            tags = {"site": placement.site, "ap": ap, "room": placement.place, "band": band}
            self._radio_tags[key] = tags
        return tags

    def _exhibit_health(self, exhibit: str, placement: Placement, body: dict[str, Any]) -> Sample:
        fields = _numbers(body, HEALTH_FIELDS, {"up": True})
        if "fw" in body:
            if (
                not isinstance(body["fw"], str)
                or len(body["fw"]) > 40
                or not utf8_encodable(body["fw"])
            ):
                raise BadMessage("wrong shape: 'fw' must be a short string")
            fields["fw"] = body["fw"]
        tags = {"site": placement.site, "exhibit": exhibit, "zone": placement.place}
        return Sample("exhibit", tags, fields, self._timestamp(body))

    def _timestamp(self, body: Mapping[str, Any]) -> int:
        ts = body.get("ts")
        if ts is None:
            return time.time_ns()
        if isinstance(ts, bool) or not isinstance(ts, int | float) or ts - ts != 0:  # NaN, inf
            raise BadMessage(f"wrong shape: 'ts' must be Unix seconds, got {ts!r:.40}")
        return self.window.seconds_ns(ts)


def _json(payload: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        # rare, so the standard library may take its time: it parses what orjson refuses but
        # the contract checks itself (NaN, lone surrogates), and names the errors as before
        body = _json_as_the_standard_library_reads_it(payload)
    if not isinstance(body, dict):
        raise BadMessage("wrong shape: the payload must be a JSON object")
    return body


def _json_as_the_standard_library_reads_it(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except RecursionError as error:  # nesting deeper than the parser's recursion limit
        raise BadMessage("invalid JSON: nested too deep") from error
    except ValueError as error:  # bad UTF-8, bad syntax, integers of more than 4300 digits
        raise BadMessage(f"invalid JSON: {error}") from error


def _numbers(
    body: Mapping[str, Any], wanted: Mapping[str, type], fields: dict[str, FieldValue]
) -> dict[str, FieldValue]:
    """`fields` with the wanted numbers of `body` added."""
    for name, kind in wanted.items():
        value = body.get(name)
        if value is None:
            continue
        # the usual case first: a finite float (x - x is 0.0 only then) or a small natural
        # number, of the kind wanted
        value_type = type(value)
        if value_type is kind and (
            value - value == 0.0 if kind is float else 0 <= value <= INT64_MAX
        ):
            fields[name] = value
        else:
            fields[name] = _checked_number(name, kind, value)
    return fields


def _checked_number(name: str, kind: type, value: Any) -> FieldValue:
    if not storable_number(value):
        raise BadMessage(f"wrong shape: {name!r} must be a number, got {value!r:.40}")
    if kind is int and (not float(value).is_integer() or not 0 <= value <= INT64_MAX):
        raise BadMessage(f"wrong shape: {name!r} must be a non-negative integer")
    return int(value) if kind is int else float(value)
