"""Network-server simulator (ChirpStack v4 + TTS v3) -> real Mosquitto -> edumon -> real
InfluxDB: unique uplinks stored exactly once, duplicates dropped, frame loss exact, every
malformed message dead-lettered."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.devstack.servers import InfluxDB1, Mosquitto
from gateway.plugins import PLUGINS
from gateway.service import Service
from simulators.lorawan.network_server import NetworkServerSimulator, SimSensor

pytestmark = pytest.mark.integration
SENSORS = [
    SimSensor("70b3d57ed0050001", "env-101", "env-sensor", "chirpstack"),
    SimSensor("70b3d57ed0050002", "env-201", "env-sensor", "ttn"),
    SimSensor("70b3d57ed0050003", "crane-node", "exhibit-node", "chirpstack"),
]


def city(tmp_path: Path, influxdb: InfluxDB1, mosquitto: Mosquitto) -> Path:
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"""
service: {{state_dir: {tmp_path / "state"}, http_listen: "127.0.0.1:0"}}
influxdb: {{url: {influxdb.url}, database: lorawan, flush_interval_s: 0.2}}
mqtt: {{host: 127.0.0.1, port: {mosquitto.port}, client_id: edumon-lora}}
sites:
  - id: vsk-1
    name: School
    devices:
      - {{kind: lorawan_sensor, id: env-101, dev_eui: "{SENSORS[0].dev_eui}", room: "101"}}
      - {{kind: lorawan_sensor, id: env-201, dev_eui: "{SENSORS[1].dev_eui}", room: "201"}}
  - id: vizium
    name: Science centre
    kind: science_centre
    devices:
      - {{kind: lorawan_sensor, id: crane-node, dev_eui: "{SENSORS[2].dev_eui}", room: hall, profile: exhibit-node}}
"""
    )
    return path


async def test_uplinks_duplicates_losses_and_bad_frames(
    influxdb: InfluxDB1, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    influxdb.create_database("lorawan")
    service = Service(load_config(city(tmp_path, influxdb, mosquitto), PLUGINS), PLUGINS)
    stop = asyncio.Event()
    runner = asyncio.create_task(service.run(stop))
    await service.started.wait()
    await asyncio.sleep(1.0)
    network = NetworkServerSimulator("127.0.0.1", mosquitto.port, SENSORS)
    await network.run(rounds=60, period_s=0.01)
    await asyncio.sleep(2.0)
    assert await service.writer.drain(10)
    stop.set()
    await runner

    stats = network.stats
    assert stats.duplicates > 0 and stats.malformed > 0
    lorawan = influxdb.query(
        'SELECT count("f_cnt"), sum("frames_lost") FROM "lorawan" GROUP BY "dev_eui"', db="lorawan"
    )
    stored = {s["tags"]["dev_eui"]: s["values"][0][1:] for s in lorawan["results"][0]["series"]}
    for sensor in SENSORS:
        assert stored[sensor.dev_eui] == [
            stats.uplinks[sensor.dev_eui],
            stats.frames_lost(sensor.dev_eui),
        ]
    env = influxdb.query('SELECT count("co2_ppm") FROM "environment"', db="lorawan")
    assert (
        env["results"][0]["series"][0]["values"][0][1]
        == stats.uplinks[SENSORS[0].dev_eui] + stats.uplinks[SENSORS[1].dev_eui]
    )
    dead = (tmp_path / "state" / "deadletter" / "lorawan.jsonl").read_text().splitlines()
    assert len(dead) == stats.malformed
    assert all(json.loads(line)["raw"] for line in dead)
