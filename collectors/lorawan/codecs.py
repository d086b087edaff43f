"""Byte-level payload codecs of edumon's LoRaWAN devices, by device profile.

Shared vectors: firmware/test_vectors/lorawan_payloads.json (the firmware encoders use them too).

env-sensor, f_port 2, exactly 9 bytes, big-endian:
    0     u8   version, 0x01
    1-2   u16  CO2 ppm; 0xFFFF = sensor error (co2_ppm omitted, sensor_error=True)
    3-4   s16  temperature, 0.01 degC
    5     u8   relative humidity, 0.5 % steps, 0..200
    6-7   u16  battery mV
    8     u8   flags: bit0 low battery, bit1 warming up (other bits reserved, ignored)
exhibit-node, f_port 3, exactly 13 bytes, big-endian:
    0     u8   version, 0x01
    1-4   u32  interactions since boot
    5-6   u16  errors since boot
    7-8   s16  temperature, 0.1 degC
    9-12  u32  uptime seconds
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Fields = dict[str, float | int | bool]

ENV_SENSOR = "env-sensor"
EXHIBIT_NODE = "exhibit-node"
PAYLOAD_VERSION = 0x01
CO2_SENSOR_ERROR = 0xFFFF
HUMIDITY_MAX_RAW = 200

_ENV = struct.Struct(">BHhBHB")
_EXHIBIT = struct.Struct(">BIHhI")


class PayloadError(ValueError):
    """A payload this collector cannot turn into fields; `kind` is the counter name."""

    def __init__(self, message: str, kind: str = "bad_payload") -> None:
        super().__init__(message)
        self.kind = kind


def _decode_env(payload: bytes) -> Fields:
    version, co2, temp, humidity, battery_mv, flags = _ENV.unpack(payload)
    _check_version(version)
    if humidity > HUMIDITY_MAX_RAW:
        raise PayloadError(f"humidity {humidity} out of range (0..200)", "out_of_range")
    fields: Fields = {}
    if co2 != CO2_SENSOR_ERROR:
        fields["co2_ppm"] = co2
    fields.update(
        temp_c=temp / 100,
        humidity_pct=humidity / 2,
        battery_v=battery_mv / 1000,
        low_battery=bool(flags & 0x01),
        warming_up=bool(flags & 0x02),
        sensor_error=co2 == CO2_SENSOR_ERROR,
    )
    return fields


def _decode_exhibit(payload: bytes) -> Fields:
    version, interactions, errors, temp, uptime = _EXHIBIT.unpack(payload)
    _check_version(version)
    return {"interactions": interactions, "errors": errors, "temp_c": temp / 10, "uptime_s": uptime}


def _check_version(version: int) -> None:
    if version != PAYLOAD_VERSION:
        raise PayloadError(f"unsupported payload version {version}", "bad_version")


@dataclass(frozen=True)
class Codec:
    f_port: int
    size: int
    decode: Callable[[bytes], Fields]
    # canonical field name -> type accepted from a network-server-decoded object
    field_types: Mapping[str, type]


CODECS: Mapping[str, Codec] = {
    ENV_SENSOR: Codec(
        2,
        _ENV.size,
        _decode_env,
        {
            "co2_ppm": int,
            "temp_c": float,
            "humidity_pct": float,
            "battery_v": float,
            "low_battery": bool,
            "warming_up": bool,
            "sensor_error": bool,
        },
    ),
    EXHIBIT_NODE: Codec(
        3,
        _EXHIBIT.size,
        _decode_exhibit,
        {"interactions": int, "errors": int, "temp_c": float, "uptime_s": int},
    ),
}


def codec_for(profile: str, f_port: int) -> Codec:
    """The codec of `profile`, checking that `f_port` is the port it sends measurements on."""
    codec = CODECS.get(profile)
    if codec is None:
        raise PayloadError(f"unknown device profile {profile!r}", "unknown_profile")
    if f_port != codec.f_port:
        raise PayloadError(f"unknown f_port {f_port} for profile {profile}", "unknown_f_port")
    return codec


def decode_payload(profile: str, f_port: int, payload: bytes) -> Fields:
    """Fields from the raw FRMPayload bytes; PayloadError with the reason otherwise."""
    codec = codec_for(profile, f_port)
    if len(payload) != codec.size:
        kind = "short_payload" if len(payload) < codec.size else "oversized_payload"
        raise PayloadError(
            f"{profile} payload is {len(payload)} bytes, expected {codec.size}", kind
        )
    return codec.decode(payload)


def fields_from_decoded(profile: str, obj: Mapping[str, object]) -> Fields:
    """Fields from an object the network server already decoded (ChirpStack `object`,
    TTS `decoded_payload`): canonical names only, unknown keys ignored, null means absent."""
    codec = CODECS.get(profile)
    if codec is None:
        raise PayloadError(f"unknown device profile {profile!r}", "unknown_profile")
    fields: Fields = {}
    for name, wanted in codec.field_types.items():
        value = obj.get(name)
        if value is not None:
            fields[name] = _typed(name, value, wanted)
    if not fields:
        raise PayloadError(f"decoded object has none of the {profile} fields", "bad_decoded")
    humidity = fields.get("humidity_pct")
    if humidity is not None and not 0 <= humidity <= 100:
        raise PayloadError(f"humidity {humidity} out of range (0..100 %)", "out_of_range")
    return fields


def _typed(name: str, value: object, wanted: type) -> float | int | bool:
    if wanted is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise PayloadError(f"decoded {name} must be a boolean, got {value!r:.40}", "bad_decoded")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PayloadError(f"decoded {name} must be a number, got {value!r:.40}", "bad_decoded")
    if wanted is int:
        if not float(value).is_integer() or value < 0:
            raise PayloadError(
                f"decoded {name} must be a non-negative integer, got {value!r:.40}", "bad_decoded"
            )
        return int(value)
    return float(value)
