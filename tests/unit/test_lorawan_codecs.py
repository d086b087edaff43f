"""LoRaWAN payload codecs: the shared vectors, round trips and garbage."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.lorawan.codecs import PayloadError, decode_payload, fields_from_decoded

VECTORS_FILE = Path(__file__).parents[2] / "firmware" / "test_vectors" / "lorawan_payloads.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))


def test_vectors_cover_both_profiles_and_boundaries() -> None:
    assert len(VECTORS) >= 8
    assert {v["profile"] for v in VECTORS} == {"env-sensor", "exhibit-node"}
    temps = [v["fields"]["temp_c"] for v in VECTORS]
    assert min(temps) < 0
    assert any(v["fields"].get("sensor_error") for v in VECTORS)
    assert any(v["fields"].get("low_battery") and v["fields"].get("warming_up") for v in VECTORS)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["note"] for v in VECTORS])
def test_vector_decodes_to_its_fields(vector: dict[str, Any]) -> None:
    fields = decode_payload(vector["profile"], vector["f_port"], bytes.fromhex(vector["hex"]))
    assert fields == vector["fields"]
    assert {k: type(v) for k, v in fields.items()} == {
        k: type(v) for k, v in vector["fields"].items()
    }


@pytest.mark.parametrize(
    ("profile", "f_port", "hex_payload", "kind", "reason"),
    [
        (
            "env-sensor",
            2,
            "01019f08695b0b",
            "short_payload",
            "env-sensor payload is 7 bytes, expected 9",
        ),
        ("env-sensor", 2, "01019f08695b0bc40000", "oversized_payload", "is 10 bytes, expected 9"),
        (
            "env-sensor",
            9,
            "01019f08695b0bc400",
            "unknown_f_port",
            "unknown f_port 9 for profile env-sensor",
        ),
        ("env-sensor", 2, "02019f08695b0bc400", "bad_version", "unsupported payload version 2"),
        ("env-sensor", 2, "01019f0869fa0bc400", "out_of_range", "humidity 250 out of range"),
        ("exhibit-node", 3, "01", "short_payload", "exhibit-node payload is 1 bytes, expected 13"),
        (
            "exhibit-node",
            2,
            "00" * 13,
            "unknown_f_port",
            "unknown f_port 2 for profile exhibit-node",
        ),
        ("exhibit-node", 3, "00" * 13, "bad_version", "unsupported payload version 0"),
        ("door-sensor", 2, "01", "unknown_profile", "unknown device profile 'door-sensor'"),
        ("env-sensor", 2, "", "short_payload", "payload is 0 bytes"),
    ],
)
def test_bad_payloads_say_why(
    profile: str, f_port: int, hex_payload: str, kind: str, reason: str
) -> None:
    with pytest.raises(PayloadError, match=reason) as caught:
        decode_payload(profile, f_port, bytes.fromhex(hex_payload))
    assert caught.value.kind == kind


@given(
    co2=st.integers(0, 0xFFFF),
    temp=st.integers(-32768, 32767),
    humidity=st.integers(0, 200),
    battery_mv=st.integers(0, 0xFFFF),
    flags=st.integers(0, 0xFF),
)
def test_env_sensor_round_trip(
    co2: int, temp: int, humidity: int, battery_mv: int, flags: int
) -> None:
    payload = struct.pack(">BHhBHB", 1, co2, temp, humidity, battery_mv, flags)
    fields = decode_payload("env-sensor", 2, payload)
    if co2 == 0xFFFF:
        assert "co2_ppm" not in fields
        assert fields["sensor_error"] is True
    else:
        assert fields["co2_ppm"] == co2
        assert fields["sensor_error"] is False
    assert round(fields["temp_c"] * 100) == temp
    assert fields["humidity_pct"] * 2 == humidity
    assert round(fields["battery_v"] * 1000) == battery_mv
    assert fields["low_battery"] is bool(flags & 1)
    assert fields["warming_up"] is bool(flags & 2)


@given(
    interactions=st.integers(0, 0xFFFF_FFFF),
    errors=st.integers(0, 0xFFFF),
    temp=st.integers(-32768, 32767),
    uptime=st.integers(0, 0xFFFF_FFFF),
)
def test_exhibit_node_round_trip(interactions: int, errors: int, temp: int, uptime: int) -> None:
    payload = struct.pack(">BIHhI", 1, interactions, errors, temp, uptime)
    fields = decode_payload("exhibit-node", 3, payload)
    assert fields["interactions"] == interactions
    assert fields["errors"] == errors
    assert round(fields["temp_c"] * 10) == temp
    assert fields["uptime_s"] == uptime


@given(
    profile=st.sampled_from(["env-sensor", "exhibit-node", "", "unknown"]),
    f_port=st.integers(-1, 256),
    payload=st.binary(max_size=40),
)
def test_garbage_bytes_raise_only_payload_error(profile: str, f_port: int, payload: bytes) -> None:
    try:
        fields = decode_payload(profile, f_port, payload)
    except PayloadError as error:
        assert str(error)
    else:
        assert fields


def test_decoded_object_uses_canonical_names_and_ignores_others() -> None:
    obj = {"co2_ppm": 612, "temp_c": 22, "humidity_pct": 40.5, "battery_v": 3.1, "rssi": 5}
    assert fields_from_decoded("env-sensor", obj) == {
        "co2_ppm": 612,
        "temp_c": 22.0,
        "humidity_pct": 40.5,
        "battery_v": 3.1,
    }
    assert fields_from_decoded("exhibit-node", {"interactions": 10.0, "uptime_s": 5}) == {
        "interactions": 10,
        "uptime_s": 5,
    }
    assert fields_from_decoded("env-sensor", {"co2_ppm": None, "sensor_error": True}) == {
        "sensor_error": True
    }


@pytest.mark.parametrize(
    "obj",
    [
        {"co2_ppm": "412"},
        {"temp_c": True},
        {"temp_c": float("nan")},
        {"co2_ppm": 1.5},
        {"co2_ppm": -3},
        {"low_battery": "yes"},
        {"humidity_pct": 140},
        {"co2": 400, "temperature": 21},
        {},
    ],
)
def test_decoded_object_rejects_bad_values(obj: dict[str, Any]) -> None:
    with pytest.raises(PayloadError):
        fields_from_decoded("env-sensor", obj)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@given(
    profile=st.sampled_from(["env-sensor", "exhibit-node", "nope"]),
    obj=st.dictionaries(
        st.sampled_from(
            [
                "co2_ppm",
                "temp_c",
                "humidity_pct",
                "battery_v",
                "low_battery",
                "interactions",
                "errors",
                "uptime_s",
                "other",
            ]
        ),
        json_values,
    ),
)
def test_decoded_garbage_raises_only_payload_error(profile: str, obj: dict[str, Any]) -> None:
    try:
        fields = fields_from_decoded(profile, obj)
    except PayloadError:
        return
    assert fields
    assert all(isinstance(v, int | float | bool) for v in fields.values())
