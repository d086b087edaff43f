"""The broker keeps what it acknowledged: edumon is down, 10,000 QoS 1 messages are queued in
its persistent session, Mosquitto is killed with SIGKILL and restarted, edumon comes back and
stores all 10,000 (real Mosquitto with the devstack config, real InfluxDB, the real service).

Mosquitto has no per-message fsync: `autosave_interval 1` writes its database once a second,
so the test waits for the first save after the last PUBACK before the kill (without the
setting the first save is 30 minutes away and all 10,000 were lost)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.devstack.servers import InfluxDB1, Mosquitto
from gateway.mqtt_client import ClientOptions, MqttClient
from gateway.plugins import PLUGINS
from gateway.service import Service
from tests.unavailable import require

pytestmark = pytest.mark.integration
COUNT = 10_000
TOPIC = "edumon/vsk-1/ap/vsk-1-ap-101/state"
FIRST_TS = 1_700_000_000.0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker of its own: this test kills it."""
    require(Mosquitto)
    with Mosquitto(tmp_path / "mosquitto") as server:
        yield server


def config(tmp_path: Path, influxdb: InfluxDB1, broker: Mosquitto) -> Path:
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"""
service: {{state_dir: {tmp_path / "state"}, http_listen: "127.0.0.1:0"}}
influxdb: {{url: {influxdb.url}, database: brokercrash, flush_interval_s: 0.2}}
mqtt: {{host: 127.0.0.1, port: {broker.port}, client_id: edumon-crash}}
sites:
  - id: vsk-1
    name: School
    devices:
      - {{kind: access_point, id: vsk-1-ap-101, room: "101"}}
"""
    )
    return path


async def run_service(path: Path, until: asyncio.Event) -> None:
    service = Service(load_config(path, PLUGINS), PLUGINS)
    runner = asyncio.create_task(service.run(until))
    await service.started.wait()
    await runner


async def subscribed_session(path: Path, broker: Mosquitto, influxdb: InfluxDB1) -> None:
    """Run edumon until a first message went through it (so its persistent session holds the
    subscription), then stop it."""
    stop = asyncio.Event()
    runner = asyncio.create_task(run_service(path, stop))
    async with asyncio.timeout(30):
        while stored(influxdb) == 0:
            async with MqttClient("127.0.0.1", broker.port) as client:
                await client.publish(TOPIC, _state(-1), qos=1)
            await asyncio.sleep(0.5)
    stop.set()
    await runner


async def publish_all(broker: Mosquitto) -> float:
    """COUNT QoS 1 messages, each with its own timestamp; the time of the last PUBACK."""
    async with MqttClient("127.0.0.1", broker.port, ClientOptions("crash-publisher")) as client:
        for start in range(0, COUNT, 500):
            await asyncio.gather(
                *(
                    client.publish(TOPIC, _state(n), qos=1)
                    for n in range(start, min(COUNT, start + 500))
                )
            )
    return time.time()


def _state(n: int) -> bytes:
    radio = {"band": "5g", "clients": n % 50}
    return json.dumps({"ts": FIRST_TS + n / 1000, "radios": [radio]}).encode()


async def saved_after(broker: Mosquitto, moment: float) -> None:
    database = broker.data_dir / "mosquitto.db"
    async with asyncio.timeout(10):
        while not database.exists() or database.stat().st_mtime <= moment:  # noqa: ASYNC110
            await asyncio.sleep(0.1)


def stored(influxdb: InfluxDB1) -> int:
    return influxdb.count("wifi_ap", "clients", db="brokercrash")


async def test_queued_messages_survive_a_broker_kill(
    influxdb: InfluxDB1, broker: Mosquitto, tmp_path: Path
) -> None:
    influxdb.create_database("brokercrash")
    path = config(tmp_path, influxdb, broker)
    await subscribed_session(path, broker, influxdb)  # edumon is down from here on

    before = stored(influxdb)  # the first messages, all with the timestamp of n = -1
    last_ack = await publish_all(broker)
    await saved_after(broker, last_ack)
    broker.kill()
    await asyncio.to_thread(broker.start)  # same port, same data dir

    stop = asyncio.Event()
    runner = asyncio.create_task(run_service(path, stop))
    try:
        async with asyncio.timeout(90):
            while stored(influxdb) < before + COUNT:  # noqa: ASYNC110 - polls InfluxDB
                await asyncio.sleep(0.5)
        assert stored(influxdb) == before + COUNT
    finally:
        stop.set()
        await runner
