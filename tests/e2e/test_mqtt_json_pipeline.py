"""Devices that publish their own JSON (Tasmota, Zigbee2MQTT) -> real Mosquitto -> edumon's
declared mappings -> real InfluxDB: stored as declared; malformed ones dead-lettered."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.devstack.servers import InfluxDB1, Mosquitto
from gateway.mqtt_client import ClientOptions, MqttClient
from gateway.plugins import PLUGINS
from gateway.service import Service

pytestmark = pytest.mark.integration

TASMOTA_TOPIC = "tele/tasmota_0A1B2C/SENSOR"
TASMOTA = {
    "Time": "2026-11-30T09:15:00",  # local time, as Tasmota sends it
    "AM2301": {"Temperature": 21.4, "Humidity": 41.5, "DewPoint": 7.8},
    "ENERGY": {"Power": 12, "Voltage": 231},
    "TempUnit": "C",
}
Z2M_TOPIC = "zigbee2mqtt/0x00124b00fa1e0001"
Z2M = {
    "co2": 612,
    "temperature": 22.25,
    "humidity": 44,
    "battery": 97,
    "occupancy": True,
    "voltage": 2950,
    "linkquality": 120,
}
MALFORMED = [
    (Z2M_TOPIC, b'{"co2": 612,'),  # invalid JSON
    (Z2M_TOPIC, b'{"co2": NaN}'),  # not a JSON number
    (Z2M_TOPIC, b'{"co2": "lots"}'),  # wrong type
    (Z2M_TOPIC, b"[1, 2]"),  # not an object
    ("zigbee2mqtt/0x00124b00fa1e0999", json.dumps(Z2M).encode()),  # not in the inventory
    (TASMOTA_TOPIC, json.dumps({**TASMOTA, "Time": "yesterday"}).encode()),  # bad time
    (TASMOTA_TOPIC, json.dumps({"Time": TASMOTA["Time"], "Other": {}}).encode()),  # no fields
]


def city(tmp_path: Path, influxdb: InfluxDB1, mosquitto: Mosquitto) -> Path:
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"""
service: {{state_dir: {tmp_path / "state"}, http_listen: "127.0.0.1:0"}}
influxdb: {{url: {influxdb.url}, database: mqttjson, flush_interval_s: 0.2}}
mqtt: {{host: 127.0.0.1, port: {mosquitto.port}, client_id: edumon-json}}
mqtt_json:
  mappings:
    - name: tasmota
      topic: "tele/{{device}}/SENSOR"
      measurement: environment
      device: "{{device}}"
      time: {{path: Time, format: rfc3339, timezone: Europe/Riga}}
      tags: {{source: tasmota}}
      fields:
        temp_c: AM2301.Temperature
        humidity_pct: AM2301.Humidity
        power_w: {{path: ENERGY.Power, type: float}}
    - name: zigbee
      topic: "zigbee2mqtt/{{device}}"
      measurement: environment
      device: "{{device}}"
      fields:
        co2_ppm: {{path: co2, type: int, required: true}}
        temp_c: temperature
        humidity_pct: humidity
        battery_v: {{path: voltage, scale: 0.001}}
        occupancy: {{path: occupancy, type: bool}}
sites:
  - id: vsk-1
    name: School
    devices:
      - {{kind: json_device, id: plug-101, mapping: tasmota, match: tasmota_0A1B2C, room: "101"}}
      - {{kind: json_device, id: co2-201, mapping: zigbee, match: "0x00124b00fa1e0001", room: "201"}}
"""
    )
    return path


async def test_tasmota_and_zigbee2mqtt_stored_as_declared(
    influxdb: InfluxDB1, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    influxdb.create_database("mqttjson")
    service = Service(load_config(city(tmp_path, influxdb, mosquitto), PLUGINS), PLUGINS)
    stop = asyncio.Event()
    runner = asyncio.create_task(service.run(stop))
    await service.started.wait()
    await asyncio.sleep(1.0)  # the consumer subscribes
    async with MqttClient("127.0.0.1", mosquitto.port, ClientOptions("json-devices")) as client:
        await client.publish(TASMOTA_TOPIC, json.dumps(TASMOTA).encode(), qos=1)
        for topic, payload in MALFORMED:
            await client.publish(topic, payload, qos=1)
        await client.publish(Z2M_TOPIC, json.dumps(Z2M).encode(), qos=1)
    await asyncio.sleep(1.5)
    assert await service.writer.drain(10)
    stop.set()
    await runner

    result = influxdb.query('SELECT * FROM "environment" GROUP BY *', db="mqttjson")
    stored = {
        s["tags"]["device"]: (s["tags"], dict(zip(s["columns"], s["values"][0], strict=True)))
        for s in result["results"][0]["series"]
    }
    assert set(stored) == {"plug-101", "co2-201"}
    tags, plug = stored["plug-101"]
    assert tags == {"site": "vsk-1", "room": "101", "device": "plug-101", "source": "tasmota"}
    riga_0915 = datetime(2026, 11, 30, 7, 15, tzinfo=UTC)  # Riga is UTC+2 in November
    assert plug["time"] == int(riga_0915.timestamp()) * 10**9
    assert (plug["temp_c"], plug["humidity_pct"], plug["power_w"]) == (21.4, 41.5, 12.0)
    tags, co2 = stored["co2-201"]
    assert tags == {"site": "vsk-1", "room": "201", "device": "co2-201", "source": ""}
    assert co2["co2_ppm"] == 612 and co2["temp_c"] == 22.25 and co2["humidity_pct"] == 44.0
    assert co2["battery_v"] == pytest.approx(2.95) and co2["occupancy"] is True
    count = influxdb.query('SELECT count("temp_c") FROM "environment"', db="mqttjson")
    assert count["results"][0]["series"][0]["values"][0][1] == 2  # nothing malformed stored

    dead = [
        json.loads(line)
        for line in (tmp_path / "state" / "deadletter" / "mqtt_json.jsonl").read_text().splitlines()
    ]
    kinds = [record["reason"].split(":", 1)[0] for record in dead]
    assert kinds == [
        "invalid JSON",
        "invalid JSON",
        "wrong type",
        "wrong shape",
        "unknown device",
        "bad time",
        "no fields",
    ]
    assert all(record["raw"].startswith(("zigbee2mqtt/", "tele/")) for record in dead)
