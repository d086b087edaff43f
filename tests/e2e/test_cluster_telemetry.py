"""Telemetry of 1,000 simulated access points split across three edumon processes by an MQTT v5
shared subscription on a real Mosquitto: every published message is stored exactly once in a
real InfluxDB across a kill -9 of one instance (Mosquitto keeps the dead member's share of the
group in its persistent session, and delivers it when the instance is back, as systemd brings
it back)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.devstack.etcd import EtcdServer
from gateway.devstack.servers import InfluxDB1, Mosquitto
from gateway.mqtt_client import ClientOptions, MqttClient
from simulators.snmp.agent import SnmpFleet
from tests.cluster_city import COMMUNITY, ClusterCity
from tests.cluster_lab import etcd

__all__ = ["etcd"]
pytestmark = pytest.mark.integration
DEVICES = 1000
ROUNDS = 3
VICTIM = "edumon-b"
T0 = 1_790_000_000.0  # message timestamps: one point per (access point, round)


@pytest.fixture
async def no_switches() -> AsyncIterator[SnmpFleet]:
    fleet = SnmpFleet([], COMMUNITY.encode())
    await fleet.start()
    yield fleet
    fleet.close()


@pytest.fixture
def city(
    tmp_path: Path,
    influxdb: InfluxDB1,
    etcd: EtcdServer,
    mosquitto: Mosquitto,
    no_switches: SnmpFleet,
) -> Iterator[ClusterCity]:
    # one client id for all: each member's consumers add the member's name to it
    mqtt = (
        f"mqtt: {{host: 127.0.0.1, port: {mosquitto.port}, client_id: edumon, "
        'protocol: "5", shared_group: edumon}'
    )

    city = ClusterCity(tmp_path, influxdb, etcd, no_switches, extra=mqtt, access_points=DEVICES)
    city.start()
    yield city
    city.stop()


async def publish_round(client: MqttClient, city: ClusterCity, round_: int) -> None:
    body = {"ts": T0 + round_, "radios": [{"band": "5g", "clients": round_, "channel_util_pct": 1}]}
    payload = json.dumps(body)
    for ap in city.access_points:
        await client.publish(f"edumon/city/ap/{ap}/state", payload, qos=1)


async def stored(city: ClusterCity) -> int:
    result = await asyncio.to_thread(
        city.influxdb.query, 'SELECT count("clients") FROM "wifi_ap"', city.database
    )
    series = result["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def connected(city: ClusterCity) -> bool:
    return all(
        instance.health().get("components", {}).get("mqtt", {}).get("connected")
        for instance in city.instances
    )


async def consuming(city: ClusterCity, timeout_s: float = 30) -> None:
    async with asyncio.timeout(timeout_s):
        while not await asyncio.to_thread(connected, city):  # noqa: ASYNC110
            await asyncio.sleep(0.3)


async def test_every_message_is_stored_once_across_a_kill(
    city: ClusterCity, mosquitto: Mosquitto
) -> None:
    await consuming(city)
    async with MqttClient("127.0.0.1", mosquitto.port, ClientOptions("cluster-pub")) as client:
        await publish_round(client, city, 0)
        city.instance(VICTIM).kill()
        for round_ in range(1, ROUNDS):
            await publish_round(client, city, round_)
    city.instance(VICTIM).start()
    count = 0
    async with asyncio.timeout(60):
        while count < DEVICES * ROUNDS:
            await asyncio.sleep(1)
            count = await stored(city)
    await asyncio.sleep(2)  # nothing more arrives: no message is stored twice
    assert await stored(city) == DEVICES * ROUNDS
    shares = [
        (await asyncio.to_thread(i.health))["components"]["mqtt"]["counts"].get("accepted", 0)
        for i in city.instances
        if i.member != VICTIM
    ]
    print(f"{DEVICES * ROUNDS} messages; the survivors accepted {shares} since their start")
    assert all(share > 0 for share in shares)  # the group split the stream
