"""A LoRaWAN network-server simulator: classroom sensors' uplinks as ChirpStack v4 and The Things
Stack v3 MQTT integration events, with the trouble real networks have.

- several gateways hear each frame; every `duplicate_every`-th uplink is published twice
  (ChirpStack: same deduplicationId; TTS: same f_cnt), as a second integration would;
- every `gap_every`-th frame is lost on air (its f_cnt is skipped);
- every `malformed_every`-th message is broken (invalid JSON, bad base64, a short payload,
  ChirpStack v3 field names), in rotation.
`stats` counts what a correct consumer must store, drop as duplicate, count as lost, and
dead-letter.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import struct
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway.mqtt_client import ClientOptions, MqttClient, MqttError
from simulators.lorawan.vendor_sensor import F_PORT, co2_lite
from simulators.mqtt.devices import day_factor

GATEWAYS = ("0016c001f1530001", "0016c001f1530002", "0016c001f1530003")
CO2_RISE_PPM_PER_MIN = 300.0
MALFORMED = ("invalid_json", "bad_base64", "short_payload", "chirpstack_v3")


@dataclass(frozen=True)
class SimSensor:
    dev_eui: str  # 16 lower-case hex digits
    name: str
    profile: str  # env-sensor | exhibit-node | any other: the demo's vendor-codec sensor
    server: str  # chirpstack | ttn
    application: str = "classrooms"


@dataclass
class NetworkStats:
    uplinks: dict[str, int] = field(default_factory=dict)  # unique valid uplinks per dev_eui
    # frames a consumer can read the f_cnt of, in order: (f_cnt, payload valid)
    arrived: dict[str, list[tuple[int, bool]]] = field(default_factory=dict)
    duplicates: int = 0
    malformed: int = 0
    reconnects: int = 0

    def frames_lost(self, dev_eui: str) -> int:
        """The sum a correct consumer reports on the valid uplinks: each one's f_cnt gap since
        the previous frame that arrived (a frame with a broken payload did arrive)."""
        lost, previous = 0, None
        for f_cnt, valid in self.arrived.get(dev_eui, []):
            if previous is not None and valid:
                lost += f_cnt - previous - 1
            previous = f_cnt
        return lost


def _unit(*parts: object) -> float:
    return (
        int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=4).digest(), "big") / 2**32
    )


def payload(
    sensor: SimSensor, f_cnt: int, now: float, co2_extra_ppm: float = 0.0
) -> tuple[int, bytes]:
    """(f_port, bytes) in the formats of firmware/test_vectors/lorawan_payloads.json, or of
    the demo's vendor codec (simulators/lorawan/vendor_sensor.py) for any other profile."""
    factor = day_factor(now)
    co2 = min(65535, round(420 + 1000 * factor * _unit(sensor.dev_eui, f_cnt) + co2_extra_ppm))
    if sensor.profile not in ("env-sensor", "exhibit-node"):
        return F_PORT, co2_lite(co2, 20.5 + 2 * factor, 40 + 10 * factor, 3100 - f_cnt % 300)
    if sensor.profile == "env-sensor":
        temp = round((20.5 + 2 * factor) * 100)
        humidity = round((40 + 10 * factor) * 2)
        return 2, struct.pack(">BHhBHB", 1, co2, temp, humidity, 3000 - f_cnt % 300, 0)
    uptime = 3600 + 60 * f_cnt
    return 3, struct.pack(
        ">BIHhI", 1, 25 * f_cnt, f_cnt // 50, round((38 + 8 * factor) * 10), uptime
    )


def _rx(count: int, f_cnt: int) -> list[tuple[str, int, float]]:
    return [(gw, -70 - 10 * i - f_cnt % 7, 9.5 - 2 * i) for i, gw in enumerate(GATEWAYS[:count])]


def chirpstack_event(
    sensor: SimSensor, f_cnt: int, data: bytes, f_port: int, gateways: int
) -> dict[str, object]:
    return {
        "deduplicationId": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{sensor.dev_eui}:{f_cnt}")),
        "time": datetime.now(UTC).isoformat(),
        "deviceInfo": {
            "tenantName": "city",
            "applicationId": sensor.application,
            "deviceProfileName": sensor.profile,
            "deviceName": sensor.name,
            "devEui": sensor.dev_eui,
        },
        "devAddr": "00189440",
        "adr": True,
        "dr": 5,
        "fCnt": f_cnt,
        "fPort": f_port,
        "confirmed": False,
        "data": base64.b64encode(data).decode(),
        "rxInfo": [
            {"gatewayId": gw, "uplinkId": f_cnt, "rssi": rssi, "snr": snr, "crcStatus": "CRC_OK"}
            for gw, rssi, snr in _rx(gateways, f_cnt)
        ],
        "txInfo": {
            "frequency": 868100000,
            "modulation": {
                "lora": {"bandwidth": 125000, "spreadingFactor": 7, "codeRate": "CR_4_5"}
            },
        },
    }


def tts_event(
    sensor: SimSensor, f_cnt: int, data: bytes, f_port: int, gateways: int
) -> dict[str, object]:
    return {
        "end_device_ids": {
            "device_id": sensor.name,
            "application_ids": {"application_id": sensor.application},
            "dev_eui": sensor.dev_eui.upper(),
        },
        "received_at": datetime.now(UTC).isoformat(),
        "uplink_message": {
            "f_port": f_port,
            "f_cnt": f_cnt,
            "frm_payload": base64.b64encode(data).decode(),
            "rx_metadata": [
                {"gateway_ids": {"gateway_id": gw}, "rssi": rssi, "channel_rssi": rssi, "snr": snr}
                for gw, rssi, snr in _rx(gateways, f_cnt)
            ],
            "settings": {"data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 9}}},
        },
    }


def topic_of(sensor: SimSensor) -> str:
    if sensor.server == "chirpstack":
        return f"application/{sensor.application}/device/{sensor.dev_eui}/event/up"
    return f"v3/{sensor.application}@city/devices/{sensor.name}/up"


def broken(sensor: SimSensor, kind: str, event: dict[str, object]) -> bytes:
    """One malformed message of `kind`, made from a good event."""
    if kind == "invalid_json":
        return json.dumps(event).encode()[:-7]
    if kind == "chirpstack_v3":
        return json.dumps(
            {"applicationID": "1", "devEUI": sensor.dev_eui, "fCnt": 1, "data": "AQ=="}
        ).encode()
    value = "%%not-base64%%" if kind == "bad_base64" else base64.b64encode(b"\x01\x02").decode()
    if sensor.server == "chirpstack":
        return json.dumps({**event, "data": value}).encode()
    uplink = dict(event["uplink_message"])  # type: ignore[call-overload]
    return json.dumps({**event, "uplink_message": {**uplink, "frm_payload": value}}).encode()


@dataclass
class NetworkServerSimulator:
    host: str
    port: int
    sensors: list[SimSensor]
    duplicate_every: int = 5
    gap_every: int = 7
    malformed_every: int = 11
    stats: NetworkStats = field(default_factory=NetworkStats)
    _message: int = field(default=0, init=False)
    _f_cnts: dict[str, int] = field(default_factory=dict, init=False)
    _rounds_left: int = field(default=0, init=False)
    co2_rising_since: dict[str, float] = field(default_factory=dict)  # sensor name -> since

    def co2_extra_ppm(self, name: str, now: float) -> float:
        """A closed, crowded room: CO2 climbs CO2_RISE_PPM_PER_MIN over the normal level."""
        since = self.co2_rising_since.get(name)
        return 0.0 if since is None else CO2_RISE_PPM_PER_MIN * (now - since) / 60

    async def run(self, rounds: int, period_s: float) -> None:
        """`rounds` uplinks of every sensor, `period_s` apart; like a real network server's
        integration, it reconnects when the broker goes away (what the sensors send meanwhile
        is lost on the way, as frame-counter gaps show)."""
        self._message = 0
        self._f_cnts = dict.fromkeys((s.dev_eui for s in self.sensors), 0)
        self._rounds_left = rounds
        delay = 1.0
        while self._rounds_left > 0:
            try:
                options = ClientOptions("sim-lorawan-ns")
                async with MqttClient(self.host, self.port, options) as client:
                    delay = 1.0
                    await self._rounds(client, period_s)
            except MqttError:
                self.stats.reconnects += 1
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 5.0)

    async def _rounds(self, client: MqttClient, period_s: float) -> None:
        while self._rounds_left > 0:
            for sensor in self.sensors:
                self._message += 1
                self._f_cnts[sensor.dev_eui] += 1
                if self._f_cnts[sensor.dev_eui] % self.gap_every == 0:  # lost on air
                    self._f_cnts[sensor.dev_eui] += 1
                await self._uplink(client, sensor, self._f_cnts[sensor.dev_eui], self._message)
            self._rounds_left -= 1
            await asyncio.sleep(period_s)

    async def _uplink(
        self, client: MqttClient, sensor: SimSensor, f_cnt: int, message: int
    ) -> None:
        now = time.time()
        f_port, data = payload(sensor, f_cnt, now, self.co2_extra_ppm(sensor.name, now))
        build = chirpstack_event if sensor.server == "chirpstack" else tts_event
        event = build(sensor, f_cnt, data, f_port, 1 + message % 3)
        if message % self.malformed_every == 0:
            kind = MALFORMED[(message // self.malformed_every) % len(MALFORMED)]
            await client.publish(topic_of(sensor), broken(sensor, kind, event), qos=1)
            self.stats.malformed += 1
            if kind == "short_payload":  # the frame itself is readable
                self.stats.arrived.setdefault(sensor.dev_eui, []).append((f_cnt, False))
            return
        body = json.dumps(event).encode()
        await client.publish(topic_of(sensor), body, qos=1)
        eui, stats = sensor.dev_eui, self.stats
        stats.uplinks[eui] = stats.uplinks.get(eui, 0) + 1
        stats.arrived.setdefault(eui, []).append((f_cnt, True))
        if message % self.duplicate_every == 0:
            await client.publish(topic_of(sensor), body, qos=1)
            self.stats.duplicates += 1
