"""Hostile input at every MQTT intake (AP/exhibit telemetry, LoRaWAN uplinks): each message
ends as samples that line protocol can encode, with tag values from the contract, or as one
dead letter with its reason; never neither, never an exception."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.lorawan.intake import LorawanIntake
from collectors.mqtt.telemetry import BANDS, Placement, TelemetryIntake
from gateway.deadletter import DeadLetterFile
from gateway.sample import Sample
from gateway.storage.lineprotocol import LineEncoder
from tests.unit.test_lorawan_uplinks import CHIRPSTACK_UP, CS_TOPIC, INVENTORY, TTS_TOPIC, TTS_UP

AP_TOPIC = "edumon/vsk-1/ap/vsk-1-ap-101/state"
HEALTH_TOPIC = "edumon/vizium/exhibit/vizium-lightning/health"
DEEP = b"[" * 100_000 + b"]" * 100_000
HOSTILE_VALUES: dict[str, bytes] = {
    "400 digits": b"9" * 400,  # json parses it; float() of it overflows
    "5000 digits": b"9" * 5000,  # beyond int's 4300-digit limit: json raises ValueError
    "NaN": b"NaN",
    "Infinity": b"-Infinity",
    "lone surrogate": b'"\\ud800"',
    "deep": DEEP,
}


def telemetry_intake(directory: Path) -> TelemetryIntake:
    return TelemetryIntake(
        aps={("vsk-1", "vsk-1-ap-101"): Placement("vsk-1", "101")},
        exhibits={("vizium", "vizium-lightning"): Placement("vizium", "electricity")},
        dead_letters=DeadLetterFile(directory / "mqtt.jsonl"),
    )


@pytest.fixture
def telemetry(tmp_path: Path) -> TelemetryIntake:
    return telemetry_intake(tmp_path)


def encodable(samples: list[Sample]) -> bool:
    encoder = LineEncoder()
    for sample in samples:
        encoder.encode(sample).encode()  # raises on anything the writer could not send
    return True


def radio_with(name: str, value: bytes) -> bytes:
    return b'{"radios": [{"band": "5g", "' + name.encode() + b'": ' + value + b"}]}"


@pytest.mark.parametrize("kind", sorted(HOSTILE_VALUES))
@pytest.mark.parametrize("where", ["clients", "noise_dbm", "ts"])
def test_the_reported_inputs_are_dead_lettered_with_a_reason(
    telemetry: TelemetryIntake, kind: str, where: str
) -> None:
    value = HOSTILE_VALUES[kind]
    payload = DEEP if kind == "deep" else radio_with(where, value)
    if where == "ts" and kind != "deep":
        payload = b'{"ts": ' + value + b', "radios": [{"band": "5g"}]}'
    assert telemetry.handle(AP_TOPIC, payload, False) == []
    [letter] = telemetry.dead_letters.read()
    assert letter["reason"].split(":")[0] in ("invalid JSON", "wrong shape", "implausible_time")
    assert letter["raw_size"] == len(AP_TOPIC) + 1 + len(payload)


def test_deep_json_and_a_huge_fw_string_at_the_exhibit_topic(telemetry: TelemetryIntake) -> None:
    assert telemetry.handle(HEALTH_TOPIC, b'{"a":' * 50_000 + b"1" + b"}" * 50_000, False) == []
    assert telemetry.handle(HEALTH_TOPIC, b'{"fw": "\\ud800"}', False) == []
    assert telemetry.handle(HEALTH_TOPIC, json.dumps({"fw": "x" * 100}).encode(), False) == []
    reasons = [letter["reason"] for letter in telemetry.dead_letters.read()]
    assert reasons[0] == "invalid JSON: nested too deep"
    assert all(reason.startswith("wrong shape") for reason in reasons[1:])


def test_band_must_be_one_of_the_contract(telemetry: TelemetryIntake) -> None:
    for n in range(50):
        body = {"radios": [{"band": f"band-{n}", "clients": 1}]}
        assert telemetry.handle(AP_TOPIC, json.dumps(body).encode(), False) == []
    twice = {"radios": [{"band": "5g"}, {"band": "5g"}]}
    assert telemetry.handle(AP_TOPIC, json.dumps(twice).encode(), False) == []
    assert telemetry.counts == {"unknown band": 50, "wrong shape": 1}
    good = {"radios": [{"band": band, "clients": 2} for band in sorted(BANDS)]}
    samples = telemetry.handle(AP_TOPIC, json.dumps(good).encode(), False)
    assert {s.tags["band"] for s in samples} == BANDS


async def test_lorawan_gateway_ids_beyond_the_cap_are_dead_lettered(tmp_path: Path) -> None:
    intake = LorawanIntake(INVENTORY, DeadLetterFile(tmp_path / "l.jsonl"), max_gateways=3)
    for n in range(10):
        event = json.loads(json.dumps(CHIRPSTACK_UP))
        event["deduplicationId"] = f"dedup-{n}"
        event["fCnt"] = 100 + n
        event["rxInfo"] = [{"gatewayId": f"gw{n}", "rssi": -60, "snr": 5}]
        await intake.handle(CS_TOPIC, json.dumps(event).encode())
    assert intake.gateways == {"gw0", "gw1", "gw2"}
    assert intake.counts == {"too_many_gateways": 7}
    assert intake.accepted == 3


# ------------------------------------------------------------------ properties
def json_values() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(10**30), max_value=10**30)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=20)
        | st.sampled_from(sorted(BANDS))
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["band", "radios", "clients", "ts", "fw", "temp_c", "x"])
                | st.text(),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    )


segments = st.sampled_from(["edumon", "vsk-1", "vizium", "ap", "exhibit", "vsk-1-ap-101"])
leaf = st.sampled_from(["state", "health", "status", "", "+", "#", "\u00e9\u0000"])
topics = st.builds(
    "/".join, st.lists(segments | leaf | st.text(max_size=8), min_size=1, max_size=6)
) | st.sampled_from([AP_TOPIC, HEALTH_TOPIC, "edumon/vsk-1/ap/vsk-1-ap-101/status"])


def payloads() -> st.SearchStrategy[bytes]:
    as_json = json_values().map(lambda value: json.dumps(value).encode())
    raw_numbers = st.sampled_from(list(HOSTILE_VALUES.values())).map(
        lambda value: radio_with("clients", value)
    )
    return st.binary(max_size=300) | as_json | raw_numbers | st.sampled_from([b"online", DEEP])


@pytest.fixture
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


@settings(
    max_examples=400,
    suppress_health_check=[*settings().suppress_health_check, HealthCheck.function_scoped_fixture],
)
@given(topic=topics, payload=payloads(), retained=st.booleans())
def test_telemetry_stores_or_dead_letters_every_message(
    scratch: Path, topic: str, payload: bytes, retained: bool
) -> None:
    intake = telemetry_intake(scratch)
    before = intake.dead_letters.count
    samples = intake.handle(topic, payload, retained)
    dead = intake.dead_letters.count - before
    assert (bool(samples), dead) in ((True, 0), (False, 1))
    assert encodable(samples)
    assert all(s.tags.get("band", "all") in BANDS | {"all"} for s in samples)


events = st.sampled_from([(CS_TOPIC, CHIRPSTACK_UP), (TTS_TOPIC, TTS_UP)])


@st.composite
def hostile_uplinks(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real uplink with one top-level value replaced by arbitrary JSON or a raw hostile
    token (deep nesting, numbers beyond any range)."""
    topic, event = draw(events)
    key = draw(st.sampled_from(sorted(event)))
    if draw(st.booleans()):
        replaced = json.dumps({**event, key: draw(json_values())}).encode()
    else:
        token = draw(st.sampled_from(list(HOSTILE_VALUES.values())))
        replaced = json.dumps({**event, key: "TOKEN"}).encode().replace(b'"TOKEN"', token)
    return topic, replaced


@settings(
    max_examples=300,
    suppress_health_check=[*settings().suppress_health_check, HealthCheck.function_scoped_fixture],
)
@given(message=hostile_uplinks() | st.tuples(topics, payloads()))
def test_lorawan_stores_or_dead_letters_every_message(
    scratch: Path, message: tuple[str, bytes]
) -> None:
    topic, payload = message
    intake = LorawanIntake(INVENTORY, DeadLetterFile(scratch / "lorawan.jsonl"))
    samples = asyncio.run(intake.handle(topic, payload))
    assert (bool(samples), intake.dead_letters.count) in ((True, 0), (False, 1))
    assert "internal_error" not in intake.counts  # every reject has a typed reason
    assert encodable(samples)
