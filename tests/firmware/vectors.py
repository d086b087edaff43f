"""The shared LoRaWAN test vectors, and the encoder call each one stands for."""

from __future__ import annotations

import json
from typing import Any

from tests.firmware.conftest import VECTORS_FILE

RESERVED_FLAG_BITS = 0xFC
ENV_FLAGS_BYTE = 8


def load_vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())
    return vectors


def encoder_args(vector: dict[str, Any]) -> tuple[str, list[Any]]:
    """(encoder name, positional arguments) that should reproduce `vector`."""
    f = vector["fields"]
    if vector["profile"] == "env-sensor":
        names = ("co2_ppm", "temp_c", "humidity_pct", "battery_v")
        flags = ("low_battery", "warming_up", "sensor_error")
        return "encode_env", [f.get(n) for n in names] + [f[n] for n in flags]
    names = ("interactions", "errors", "temp_c", "uptime_s")
    return "encode_exhibit", [f[n] for n in names]


def expected_hex(vector: dict[str, Any]) -> str:
    """The vector's bytes as an encoder sends them: reserved flag bits are zero. (One vector
    sets them to prove the decoder ignores them; no encoder input can produce that.)"""
    data = bytearray.fromhex(vector["hex"])
    if vector["profile"] == "env-sensor":
        data[ENV_FLAGS_BYTE] &= ~RESERVED_FLAG_BITS & 0xFF
    return data.hex()
