"""The firmware's LoRaWAN encoders against the shared vectors and the collector's decoder."""

from __future__ import annotations

from typing import Any

import lorawan_encoder
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.lorawan.codecs import decode_payload
from tests.firmware.vectors import encoder_args, expected_hex, load_vectors

VECTORS = load_vectors()


@pytest.mark.parametrize("vector", VECTORS, ids=[v["note"] for v in VECTORS])
def test_encoder_reproduces_every_vector(vector: dict[str, Any]) -> None:
    name, args = encoder_args(vector)
    payload = getattr(lorawan_encoder, name)(*args)
    assert payload.hex() == expected_hex(vector)
    assert decode_payload(vector["profile"], vector["f_port"], payload) == vector["fields"]


def test_only_the_reserved_bits_vector_differs_from_the_encoder_bytes() -> None:
    differing = [v["note"] for v in VECTORS if expected_hex(v) != v["hex"]]
    assert differing == ["reserved flag bits are ignored"]


def test_ports_match_the_vectors() -> None:
    ports = {v["profile"]: v["f_port"] for v in VECTORS}
    assert ports == {
        "env-sensor": lorawan_encoder.ENV_F_PORT,
        "exhibit-node": lorawan_encoder.EXHIBIT_F_PORT,
    }


@given(
    co2=st.one_of(st.none(), st.integers(0, 65534)),
    temp=st.integers(-32768, 32767),
    humidity=st.integers(0, 200),
    battery=st.integers(0, 65535),
    low=st.booleans(),
    warming=st.booleans(),
)
def test_env_round_trip(
    co2: int | None, temp: int, humidity: int, battery: int, low: bool, warming: bool
) -> None:
    payload = lorawan_encoder.encode_env(
        co2, temp / 100, humidity / 2, battery / 1000, low, warming, co2 is None
    )
    fields = decode_payload("env-sensor", 2, payload)
    assert fields.get("co2_ppm") == co2
    assert fields["temp_c"] == temp / 100
    assert fields["humidity_pct"] == humidity / 2
    assert fields["battery_v"] == battery / 1000
    assert (fields["low_battery"], fields["warming_up"], fields["sensor_error"]) == (
        low,
        warming,
        co2 is None,
    )


@given(
    interactions=st.integers(0, 2**32 - 1),
    errors=st.integers(0, 2**16 - 1),
    temp=st.integers(-32768, 32767),
    uptime=st.integers(0, 2**32 - 1),
)
def test_exhibit_round_trip(interactions: int, errors: int, temp: int, uptime: int) -> None:
    payload = lorawan_encoder.encode_exhibit(interactions, errors, temp / 10, uptime)
    assert decode_payload("exhibit-node", 3, payload) == {
        "interactions": interactions,
        "errors": errors,
        "temp_c": temp / 10,
        "uptime_s": uptime,
    }


@given(
    co2=st.floats(-1e9, 1e9),
    temp=st.floats(-1e9, 1e9),
    humidity=st.floats(-1e9, 1e9),
    battery=st.floats(-1e9, 1e9),
)
def test_out_of_range_readings_clamp_to_a_decodable_payload(
    co2: float, temp: float, humidity: float, battery: float
) -> None:
    payload = lorawan_encoder.encode_env(co2, temp, humidity, battery, False, False, False)
    fields = decode_payload("env-sensor", 2, payload)
    assert fields["sensor_error"] is False  # a huge CO2 reading never reads as an error
    assert 0 <= fields["humidity_pct"] <= 100
    assert -327.68 <= fields["temp_c"] <= 327.67


def test_out_of_range_exhibit_counters_clamp() -> None:
    payload = lorawan_encoder.encode_exhibit(2**40, -1, 1e6, -5)
    assert decode_payload("exhibit-node", 3, payload) == {
        "interactions": 2**32 - 1,
        "errors": 0,
        "temp_c": 3276.7,
        "uptime_s": 0,
    }
