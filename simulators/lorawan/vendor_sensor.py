"""Frames of the demo's vendor-codec CO2 sensor (`edumon-sim/co2-lite`, decoded by
examples/codecs/edumon-sim/co2-lite.js): f_port 5, 0x21, CO2 u16 ppm, temperature s16
0.01 degC, humidity u8 0.5 %, battery u16 mV."""

from __future__ import annotations

import struct

F_PORT = 5
_FRAME = struct.Struct(">BHhBH")


def co2_lite(co2_ppm: int, temp_c: float, humidity_pct: float, battery_mv: int) -> bytes:
    return _FRAME.pack(0x21, co2_ppm, round(temp_c * 100), round(humidity_pct * 2), battery_mv)
