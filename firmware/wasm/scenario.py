"""The firmware's deterministic logic as one JSON-able result, run under CPython by the tests
and under real MicroPython by run_firmware.mjs; both results must be equal.

    run(vectors) -> {"vectors": [hex, ...], "buffer": ..., "backoff": ..., "monitor": ...}
"""

import json

from exhibit_monitor import Monitor
from fakes import FakeBroker, FakeClock, FakeSensors, FakeWDT, FakeWLAN
from lorawan_encoder import encode_env, encode_exhibit
from offline_buffer import OfflineBuffer
from reconnect_backoff import Backoff

ENV_ARGS = ("co2_ppm", "temp_c", "humidity_pct", "battery_v")
ENV_FLAGS = ("low_battery", "warming_up", "sensor_error")
EXHIBIT_ARGS = ("interactions", "errors", "temp_c", "uptime_s")


def encode_vector(vector):
    fields = vector["fields"]
    if vector["profile"] == "env-sensor":
        args = [fields.get(name) for name in ENV_ARGS] + [fields[name] for name in ENV_FLAGS]
        payload = encode_env(*args)
    else:
        payload = encode_exhibit(*[fields[name] for name in EXHIBIT_ARGS])
    return "".join(f"{byte:02x}" for byte in payload)


def buffer_result():
    buffer = OfflineBuffer(5)
    dropped_flags = [buffer.push(i) for i in range(1, 8)]
    first = buffer.pop()
    return {
        "dropped_flags": dropped_flags,
        "dropped": buffer.dropped,
        "first": first,
        "items": buffer.items(),
        "len": len(buffer),
    }


def backoff_result():
    backoff = Backoff(1, 30)
    delays = [backoff.failed(0) for _ in range(8)]
    ready = [backoff.ready(t) for t in (0, 29.9, 30)]
    backoff.succeeded()
    after_reset = [backoff.ready(0), backoff.failed(100), backoff.failed(101)]
    return {"delays": delays, "ready": ready, "after_reset": after_reset}


def monitor_result():
    """120 one-second steps: Wi-Fi joins, the broker is down for t=20..49, Wi-Fi is lost
    for t=70..79, and health every 10 s must all arrive, in order, with capture times."""
    broker = FakeBroker()
    clock = FakeClock()
    wlan = FakeWLAN()
    wdt = FakeWDT()
    log = []
    monitor = Monitor(
        "sc1",
        "ex1",
        wlan,
        broker.client,
        wdt,
        clock,
        FakeSensors(),
        ssid="ssid",
        wifi_password="pw",
        health_interval_s=10,
        keepalive_s=6,
        buffer=OfflineBuffer(50),
        mqtt_backoff=Backoff(1, 8),
        log=log.append,
    )
    states = []
    for second in range(120):
        if second == 20:
            broker.crash()
        if second == 50:
            broker.up = True
        if second == 70:
            wlan.up = False
            wlan.reachable = False
        if second == 80:
            wlan.reachable = True
        states.append(monitor.step())
        clock.advance(1)
    health = [json.loads(payload) for payload in broker.health()]
    status = [m[1].decode() for m in broker.messages if m[0].endswith(b"/status")]
    return {
        "states": states,
        "health_ts": [h["ts"] - clock.unix_start for h in health],
        "health_interactions": [h["interactions"] for h in health],
        "health_first": health[0],
        "status": status,
        "retained_status": broker.retained[b"edumon/sc1/exhibit/ex1/status"].decode(),
        "stats": monitor.stats,
        "dropped": monitor.buffer.dropped,
        "buffered_now": len(monitor.buffer),
        "wdt_feeds": wdt.feeds,
        "wifi_connect_calls": wlan.connect_calls,
        "broker_connects": broker.connects,
        "pings": broker.pings,
    }


def run(vectors):
    return {
        "vectors": [encode_vector(vector) for vector in vectors],
        "buffer": buffer_result(),
        "backoff": backoff_result(),
        "monitor": monitor_result(),
    }
