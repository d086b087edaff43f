"""LoRaWAN uplink encoders of edumon's devices; MicroPython and CPython alike.

The byte layouts are the collector's (collectors/lorawan/codecs.py); both sides are checked
against firmware/test_vectors/lorawan_payloads.json.

env-sensor, f_port 2, 9 bytes, big-endian: version u8, CO2 ppm u16 (0xFFFF = sensor error),
temperature s16 in 0.01 degC, humidity u8 in 0.5 % steps (0..200), battery u16 mV, flags u8
(bit0 low battery, bit1 warming up).
exhibit-node, f_port 3, 13 bytes, big-endian: version u8, interactions u32, errors u16,
temperature s16 in 0.1 degC, uptime u32 seconds.

Readings outside a field's range are clamped rather than raised: a device keeps reporting,
and MicroPython's struct would silently wrap an out-of-range value instead.
"""

import struct

PAYLOAD_VERSION = 0x01
ENV_F_PORT = 2
EXHIBIT_F_PORT = 3
CO2_SENSOR_ERROR = 0xFFFF

_ENV_FORMAT = ">BHhBHB"
_EXHIBIT_FORMAT = ">BIHhI"


def _clamp(value, low, high):
    if value < low:
        return low
    if value > high:
        return high
    return value


def _scaled(value, scale, low, high):
    # round() gives an int, half to even, on CPython and MicroPython alike: equal bytes
    return _clamp(round(value * scale), low, high)


def encode_env(co2_ppm, temp_c, humidity_pct, battery_v, low_battery, warming_up, sensor_error):
    """The 9-byte env-sensor payload; `co2_ppm` None or `sensor_error` sends 0xFFFF."""
    if sensor_error or co2_ppm is None:
        co2 = CO2_SENSOR_ERROR
    else:
        co2 = _scaled(co2_ppm, 1, 0, CO2_SENSOR_ERROR - 1)
    flags = (0x01 if low_battery else 0) | (0x02 if warming_up else 0)
    return struct.pack(
        _ENV_FORMAT,
        PAYLOAD_VERSION,
        co2,
        _scaled(temp_c, 100, -32768, 32767),
        _scaled(humidity_pct, 2, 0, 200),
        _scaled(battery_v, 1000, 0, 0xFFFF),
        flags,
    )


def encode_exhibit(interactions, errors, temp_c, uptime_s):
    """The 13-byte exhibit-node payload."""
    return struct.pack(
        _EXHIBIT_FORMAT,
        PAYLOAD_VERSION,
        _clamp(int(interactions), 0, 0xFFFFFFFF),
        _clamp(int(errors), 0, 0xFFFF),
        _scaled(temp_c, 10, -32768, 32767),
        _clamp(int(uptime_s), 0, 0xFFFFFFFF),
    )
