"""Simulated APs and exhibits -> real Mosquitto -> edumon -> real InfluxDB: every published
message is stored exactly once; a crashed exhibit's Last Will is stored as up=false."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.devstack.servers import InfluxDB1, Mosquitto
from gateway.plugins import PLUGINS
from gateway.service import Service
from simulators.mqtt.devices import DeviceFleet, SimDevice

pytestmark = pytest.mark.integration


def city(tmp_path: Path, influxdb: InfluxDB1, mosquitto: Mosquitto) -> Path:
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"""
service: {{state_dir: {tmp_path / "state"}, http_listen: "127.0.0.1:0"}}
influxdb: {{url: {influxdb.url}, database: telemetry, flush_interval_s: 0.2}}
mqtt: {{host: 127.0.0.1, port: {mosquitto.port}, client_id: edumon-e2e}}
sites:
  - id: vsk-1
    name: School
    devices:
      - {{kind: access_point, id: vsk-1-ap-101, room: "101"}}
      - {{kind: access_point, id: vsk-1-ap-102, room: "102"}}
  - id: vizium
    name: Science centre
    kind: science_centre
    devices:
      - {{kind: exhibit, id: vizium-lightning, zone: electricity}}
      - {{kind: exhibit, id: vizium-gyroscope, zone: mechanics}}
"""
    )
    return path


async def test_published_equals_stored_and_last_will_is_seen(
    influxdb: InfluxDB1, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    influxdb.create_database("telemetry")
    service = Service(load_config(city(tmp_path, influxdb, mosquitto), PLUGINS), PLUGINS)
    stop = asyncio.Event()
    runner = asyncio.create_task(service.run(stop))
    await service.started.wait()
    await asyncio.sleep(1.0)  # the consumer subscribes
    devices = [
        SimDevice("vsk-1", "vsk-1-ap-101", "ap", "101"),
        SimDevice("vsk-1", "vsk-1-ap-102", "ap", "102"),
        SimDevice("vizium", "vizium-lightning", "exhibit", "electricity"),
        SimDevice("vizium", "vizium-gyroscope", "exhibit", "mechanics"),
    ]
    fleet = DeviceFleet("127.0.0.1", mosquitto.port, devices, period_s=0.05)
    simulators = asyncio.create_task(fleet.run())
    await asyncio.sleep(3)
    fleet["vizium-lightning"].crash()
    await asyncio.sleep(1)
    for device in devices:
        device.crashed = True  # stop publishing
    await simulators
    await asyncio.sleep(1.5)
    assert await service.writer.drain(10)
    stop.set()
    await runner

    ap_messages = sum(d.published for d in devices if d.kind == "ap")
    health = sum(d.published for d in devices if d.kind == "exhibit")
    stored_ap = influxdb.query(
        'SELECT count("clients") FROM "wifi_ap" WHERE "band" = \'5g\'', db="telemetry"
    )
    assert stored_ap["results"][0]["series"][0]["values"][0][1] == ap_messages
    stored_health = influxdb.query('SELECT count("interactions") FROM "exhibit"', db="telemetry")
    assert stored_health["results"][0]["series"][0]["values"][0][1] == health
    last = influxdb.query('SELECT last("up") FROM "exhibit" GROUP BY "exhibit"', db="telemetry")
    ups = {s["tags"]["exhibit"]: s["values"][0][1] for s in last["results"][0]["series"]}
    assert ups["vizium-lightning"] is False  # the Last Will
    assert ap_messages > 50 and health > 50
