"""Vendor-codec sensors through the real service: the network-server simulator's uplinks and
hostile codecs' frames -> real Mosquitto -> edumon (QuickJS codecs) -> real InfluxDB. Every good
uplink is stored with its codec's values mapped; the throwing, looping and hoarding codecs'
bad frames are dead-lettered while the good ones keep flowing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.devstack.servers import InfluxDB1, Mosquitto
from gateway.mqtt_client import ClientOptions, MqttClient
from gateway.plugins import PLUGINS
from gateway.service import Service
from simulators.lorawan.network_server import (
    NetworkServerSimulator,
    SimSensor,
    chirpstack_event,
    topic_of,
)

pytestmark = pytest.mark.integration
CODECS = Path(__file__).resolve().parents[1] / "fixtures" / "codecs" / "vendor"
DEMO_CODECS = Path(__file__).resolve().parents[2] / "examples" / "codecs"
SIMULATED = [
    SimSensor("70b3d57ed0080001", "co2-301", "co2-lite", "chirpstack"),
    SimSensor("70b3d57ed0080002", "co2-302", "co2-lite", "ttn"),
]
HOSTILE = [
    SimSensor("70b3d57ed0080003", "throws-1", "throws", "chirpstack"),
    SimSensor("70b3d57ed0080004", "loop-1", "endless-loop", "chirpstack"),
    SimSensor("70b3d57ed0080005", "hog-1", "memory-hog", "chirpstack"),
]
ROUNDS = 3


def city(tmp_path: Path, influxdb: InfluxDB1, mosquitto: Mosquitto) -> Path:
    devices = "\n".join(
        f'      - {{kind: lorawan_sensor, id: {s.name}, dev_eui: "{s.dev_eui}", room: "3", '
        f"profile: {s.profile}}}"
        for s in SIMULATED + HOSTILE
    )
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"""
service: {{state_dir: {tmp_path / "state"}, http_listen: "127.0.0.1:0"}}
influxdb: {{url: {influxdb.url}, database: vendor, flush_interval_s: 0.2}}
mqtt: {{host: 127.0.0.1, port: {mosquitto.port}, client_id: edumon-vendor}}
lorawan:
  codec_dir: {CODECS}
  codec_time_limit_s: 0.2
  codec_memory: 4MiB
  codec_budget_s: 4  # the loops' 0.2 s each, back to back: no quarantine in this test
  models:
    co2-lite: {{codec: {DEMO_CODECS}/edumon-sim/co2-lite-codec.yaml}}
    throws: {{codec: acme-fake/throws-codec.yaml}}
    endless-loop: {{codec: acme-fake/endless-loop-codec.yaml}}
    memory-hog: {{codec: acme-fake/memory-hog-codec.yaml}}
sites:
  - id: vsk-1
    name: School
    devices:
{devices}
"""
    )
    return path


async def test_vendor_codecs_stored_and_hostile_ones_dead_lettered(
    influxdb: InfluxDB1, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    influxdb.create_database("vendor")
    service = Service(load_config(city(tmp_path, influxdb, mosquitto), PLUGINS), PLUGINS)
    stop = asyncio.Event()
    runner = asyncio.create_task(service.run(stop))
    await service.started.wait()
    async with asyncio.timeout(30):  # subscribed (the codecs' checks may make a busy start slow)
        while service.collectors.healths["lorawan"].connected is not True:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    network = NetworkServerSimulator(
        "127.0.0.1", mosquitto.port, SIMULATED, duplicate_every=10**6, malformed_every=10**6
    )
    async with MqttClient("127.0.0.1", mosquitto.port, ClientOptions("hostile-ns")) as client:
        for f_cnt in range(1, ROUNDS + 1):
            for sensor in HOSTILE:  # a frame that makes the codec misbehave, then a good one
                for n, frame in enumerate((b"\x09", b"\x01\x01\xf4")):
                    event = chirpstack_event(sensor, 2 * f_cnt + n, frame, 1, 1)
                    await client.publish(topic_of(sensor), json.dumps(event).encode(), qos=1)
    await network.run(rounds=20, period_s=0.01)
    lorawan = service.collectors.healths["lorawan"]
    published = sum(network.stats.uplinks.values()) + 2 * ROUNDS * len(HOSTILE)

    def handled() -> int:
        totals = lorawan.totals().items()
        return sum(n for (outcome, _), n in totals if outcome in ("accepted", "rejected"))

    async with asyncio.timeout(30):  # every uplink accepted or refused
        while handled() < published:  # noqa: ASYNC110 - counters, no event to wait on
            await asyncio.sleep(0.1)
    assert await service.writer.drain(10)
    stop.set()
    await runner

    result = influxdb.query(
        'SELECT count("co2_ppm"), min("co2_ppm"), max("temp_c") FROM "environment" '
        'GROUP BY "device"',
        db="vendor",
    )
    stored = {s["tags"]["device"]: s["values"][0][1:] for s in result["results"][0]["series"]}
    for sensor in SIMULATED:
        count, low, warmest = stored[sensor.name]
        assert count == network.stats.uplinks[sensor.dev_eui] and low >= 420 and warmest <= 23
    for sensor in HOSTILE:
        assert stored[sensor.name] == [ROUNDS, 500, None]  # every good frame after a bad one
    dead = (tmp_path / "state" / "deadletter" / "lorawan.jsonl").read_text().splitlines()
    kinds = sorted(json.loads(line)["reason"].split(":")[0] for line in dead)
    assert kinds == sorted(["codec_error", "codec_timeout", "codec_memory"] * ROUNDS)
