"""Simulated classroom Wi-Fi access points and science-centre exhibits speaking MQTT.

Each device has its own MQTT connection with a Last Will (`.../status` = "offline", retained),
announces "online", and publishes its state every `period_s` following the school day:
clients and channel utilisation rise in lessons. Exhibits count interactions and errors and
can be made to crash (the connection drops without DISCONNECT, so the broker fires the Will;
the fleet can start it again),
to report a stuck sensor, or to overheat. Every publish is counted, so tests can compare what
was sent with what was stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass, field

from gateway.mqtt_client import ClientOptions, MqttClient, MqttError, Will
from simulators.snmp.traffic import LOCAL_OFFSET_S, school_day_factor

log = logging.getLogger(__name__)


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) for these parts."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") / 2**32


def day_factor(now: float) -> float:
    local_minute = int((now + LOCAL_OFFSET_S - 3 * 86400) // 60) % (7 * 24 * 60)
    return school_day_factor(local_minute)


@dataclass
class SimDevice:
    site: str
    name: str
    kind: str  # "ap" | "exhibit"
    place: str  # room or zone
    seed: int = 1
    published: int = 0  # state/health messages acknowledged by the broker
    reconnects: int = 0
    crashed: bool = False
    stuck_sensor: bool = False
    overheating: bool = False
    interactions: int = 0
    errors: int = 0
    _client: MqttClient | None = field(default=None, repr=False)

    @property
    def status_topic(self) -> str:
        return f"edumon/{self.site}/{self.kind}/{self.name}/status"

    @property
    def data_topic(self) -> str:
        leaf = "state" if self.kind == "ap" else "health"
        return f"edumon/{self.site}/{self.kind}/{self.name}/{leaf}"

    def payload(self, now: float, tick: int) -> dict[str, object]:
        factor = day_factor(now)
        if self.kind == "ap":
            radios = []
            for band, share in (("2g", 0.25), ("5g", 0.75)):
                noise = _unit(self.seed, self.name, band, tick)
                radios.append(
                    {
                        "band": band,
                        "clients": round(30 * share * factor * (0.8 + 0.4 * noise)),
                        # busy in lessons, yet below the "high" alert (85 %) on a normal
                        # day at any sampling rate: at most 8 + 62 * 0.9 * 1.3 = 80.5 %
                        "channel_util_pct": round(8 + 62 * factor * (0.7 + 0.6 * noise), 1),
                        "retry_pct": round(2 + 10 * factor * noise, 1),
                        "noise_dbm": -95 + round(5 * noise),
                    }
                )
            return {"ts": now, "radios": radios}
        self.interactions += round(20 * factor * _unit(self.seed, self.name, tick))
        self.errors += int(_unit(self.seed, self.name, "error", tick) < 0.02)
        temp = 40.0 if self.stuck_sensor else 38 + 8 * factor + (25 if self.overheating else 0)
        return {
            "ts": now,
            "interactions": self.interactions,
            "errors": self.errors,
            "temp_c": round(temp, 1),
            "cpu_pct": round(10 + 40 * factor, 1),
            "fw": "1.4.2",
        }

    def crash(self) -> None:
        """Drop the TCP connection without DISCONNECT: the broker publishes the Last Will."""
        self.crashed = True
        if self._client is not None:
            self._client.close("crashed")  # FIN without MQTT DISCONNECT

    async def run(self, host: str, port: int, period_s: float) -> None:
        """Publish until crashed; like a real device, reconnect with backoff when the broker
        goes away or stops answering (the broker sends the Last Will meanwhile)."""
        tick, delay = 0, 1.0
        while not self.crashed:
            try:
                tick = await self._session(host, port, period_s, tick)
            except MqttError:
                self.reconnects += 1
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 5.0)

    async def _session(self, host: str, port: int, period_s: float, tick: int) -> int:
        options = ClientOptions(
            client_id=f"sim-{self.site}-{self.name}",
            will=Will(self.status_topic, b"offline", qos=1, retain=True),
            keepalive_s=max(5, int(period_s * 3)),
        )
        client = MqttClient(host, port, options)
        self._client = client
        async with client:
            await client.publish(self.status_topic, b"online", qos=1, retain=True)
            while not self.crashed:
                body = json.dumps(self.payload(time.time(), tick)).encode()
                await client.publish(self.data_topic, body, qos=1)
                self.published += 1
                tick += 1
                await asyncio.sleep(period_s)
        return tick


@dataclass
class DeviceFleet:
    host: str
    port: int
    devices: list[SimDevice]
    period_s: float = 10.0

    _group: asyncio.TaskGroup | None = field(default=None, init=False, repr=False)

    def __getitem__(self, name: str) -> SimDevice:
        return next(d for d in self.devices if d.name == name)

    def recover(self, name: str) -> None:
        """A crashed device starts again (connects, says "online", publishes) while running."""
        device = self[name]
        if device.crashed and self._group is not None:
            device.crashed = False
            self._group.create_task(device.run(self.host, self.port, self.period_s))

    @property
    def published(self) -> int:
        return sum(d.published for d in self.devices)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            self._group = group
            for device in self.devices:
                group.create_task(device.run(self.host, self.port, self.period_s))
