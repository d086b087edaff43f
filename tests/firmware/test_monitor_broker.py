"""The exhibit monitor as a device: firmware code + CPython shims for machine/network/umqtt,
speaking real MQTT 3.1.1 to a real Mosquitto. The clock is fake (time steps are instant);
every byte on the wire is real."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import machine
import network
import pytest
from exhibit_monitor import Monitor, build_monitor
from fakes import FakeClock, FakeSensors
from umqtt.simple import MQTTClient

from gateway.devstack.servers import Mosquitto
from gateway.mqtt_client import ClientOptions, Message, MqttClient

pytestmark = pytest.mark.integration
SITE = "fw-test"


class Device:
    """The monitor wired as main() wires it, with shims for the MicroPython modules."""

    def __init__(self, broker: Mosquitto, exhibit: str) -> None:
        config = SimpleNamespace(
            SITE=SITE,
            EXHIBIT=exhibit,
            WIFI_SSID="lab",
            WIFI_PASSWORD="not-a-secret",
            MQTT_HOST="127.0.0.1",
            MQTT_PORT=broker.port,
            HEALTH_INTERVAL_S=10,
            OFFLINE_BUFFER=20,
        )
        self.clock = FakeClock()
        self.wdt = machine.WDT(timeout=30000)
        self.wlan = network.WLAN(network.STA_IF)
        self.wlan.active(True)
        self.log: list[str] = []
        self.monitor: Monitor = build_monitor(
            config, self.wlan, MQTTClient, self.wdt, self.clock, FakeSensors()
        )
        self.monitor.log = self.log.append
        self.prefix = f"edumon/{SITE}/exhibit/{exhibit}"

    def step(self, count: int = 1) -> str:
        state = ""
        for _ in range(count):
            state = self.monitor.step()
            self.clock.advance(10)  # one health message per step
        return state

    def step_until_online(self, limit: int = 20) -> None:
        for _ in range(limit):
            if self.step() == "online":
                return
        raise AssertionError(f"never came online: {self.log[-5:]}")


async def receive(client: MqttClient, count: int, timeout_s: float = 10) -> list[Message]:
    messages: list[Message] = []
    async with asyncio.timeout(timeout_s):
        async for message in client.messages:
            messages.append(message)
            if len(messages) >= count:
                break
    return messages


def payloads(messages: list[Message], leaf: str) -> list[bytes]:
    return [bytes(m.payload) for m in messages if m.topic.endswith(leaf)]


async def retained_status(broker: Mosquitto, prefix: str) -> tuple[bytes, bool]:
    async with MqttClient("127.0.0.1", broker.port, ClientOptions("fw-retained")) as client:
        await client.subscribe(f"{prefix}/status", qos=1)
        (message,) = await receive(client, 1)
        return bytes(message.payload), message.retain


async def test_health_arrives_and_an_abrupt_death_delivers_the_offline_will(
    mosquitto: Mosquitto,
) -> None:
    device = Device(mosquitto, "ex-will")
    async with MqttClient("127.0.0.1", mosquitto.port, ClientOptions("fw-sub-1")) as sub:
        await sub.subscribe(f"{device.prefix}/#", qos=1)
        assert device.step() == "wifi_down"  # connect() starts the join
        device.step(3)
        messages = await receive(sub, 1 + 4)
    assert payloads(messages, "/status") == [b"online"]
    health = [json.loads(p) for p in payloads(messages, "/health")]
    assert [h["interactions"] for h in health] == [1, 2, 3, 4]  # the first one was buffered
    assert [h["ts"] - device.clock.unix_start for h in health] == [0, 10, 20, 30]
    assert set(health[0]) == {"ts", "interactions", "errors", "temp_c", "cpu_pct", "fw"}
    assert all(m.qos == 1 for m in messages)
    assert device.wdt.feeds >= 4
    assert await retained_status(mosquitto, device.prefix) == (b"online", True)

    client = device.monitor.client
    assert client is not None and client.sock is not None
    client.sock.close()  # the device dies: no DISCONNECT, so the broker sends the will
    await asyncio.sleep(0.2)
    assert await retained_status(mosquitto, device.prefix) == (b"offline", True)

    device.step_until_online()  # notices the dead socket, buffers, reconnects and replays
    assert await retained_status(mosquitto, device.prefix) == (b"online", True)


async def test_broker_restart_buffers_and_replays_in_order(mosquitto: Mosquitto) -> None:
    device = Device(mosquitto, "ex-restart")
    device.step(3)  # join, connect, two health messages sent
    assert device.monitor.state() == "online"
    mosquitto.stop()
    try:
        device.step(4)
        assert device.monitor.state() == "mqtt_down"
        assert len(device.monitor.buffer) >= 4
        assert device.monitor.stats["mqtt_failures"] >= 1
    finally:
        mosquitto.start()
    async with MqttClient("127.0.0.1", mosquitto.port, ClientOptions("fw-sub-2")) as sub:
        await sub.subscribe(f"{device.prefix}/health", qos=1)
        device.step_until_online()
        replayed = device.monitor.stats["replayed"]
        device.step(2)
        messages = await receive(sub, replayed + 2)
    interactions = [json.loads(p)["interactions"] for p in payloads(messages, "/health")]
    sent_before = 3  # t=0 (buffered then replayed), 10, 20
    assert interactions == list(range(sent_before + 1, sent_before + 1 + len(interactions)))
    assert len(device.monitor.buffer) == 0 and device.monitor.buffer.dropped == 0
