"""The spool at its cap with the database down, against edumon as a real process (real
Mosquitto, real InfluxDB started late): the MQTT consumer stops taking messages once the spool
is at 90 % of a 32 KiB cap, so they wait at the broker (edumon's acks stop) while edumon's own
samples, which cannot be held back, take the rest (and are dropped at the cap, counted); once
the database is back every message is acknowledged and stored."""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.devstack.servers import InfluxDB1, Mosquitto, free_port
from gateway.mqtt_client import ClientOptions, MqttClient
from tests.integration.test_hostile_disk_full import health, until
from tests.integration.test_hostile_service import config, edumon, topic  # noqa: F401
from tests.unavailable import require

pytestmark = pytest.mark.integration
MESSAGES = 3000
CAP = 32 * 1024


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        lines = answer.read().decode().splitlines()
    values = [float(line.split()[-1]) for line in lines if line.startswith(name)]
    return sum(values)


async def test_at_the_spool_cap_mqtt_waits_at_the_broker_and_nothing_acknowledged_is_lost(
    mosquitto: Mosquitto,
    tmp_path: Path,
    edumon: Callable[..., int],  # noqa: F811 - the fixture
) -> None:
    require(InfluxDB1)
    database = InfluxDB1(tmp_path / "influxdb", port=free_port())  # down until the end
    path = config(tmp_path, database, mosquitto, "spoolcap")
    path.write_text(path.read_text() + "spool: {max_bytes: 32KiB, segment_bytes: 4KiB}\n")
    port = free_port()
    edumon(path, port)

    def acked() -> int:
        return int(health(port)["components"]["mqtt"]["counts"].get("acked", 0))

    await until(lambda: bool(health(port)["components"]["mqtt"]["connected"]), 60, "no start")
    # values that gzip cannot squeeze: 3,000 messages of steady values, taken in large batches
    # (a slow, loaded edumon), fit in the spool's 32 KiB compressed, and nothing would wait
    values = random.Random(26)
    async with MqttClient("127.0.0.1", mosquitto.port, ClientOptions("cap-filler")) as client:
        for n in range(MESSAGES):
            radio = {"band": "5g", "clients": values.randrange(200), "retry_pct": values.random()}
            body = {"ts": time.time() - 60 + n / 1000, "radios": [radio]}
            await client.publish(topic("vsk-1-ap-102"), json.dumps(body).encode(), qos=1)
    await until(lambda: metric(port, "edumon_spool_bytes") >= 0.9 * CAP, 60, "spool not full")
    paused_at = acked()
    await asyncio.sleep(3)
    assert paused_at == acked() < MESSAGES  # the rest waits at the broker
    await asyncio.sleep(5)
    assert paused_at == acked()  # still: edumon's own samples take the rest up to the cap
    pipeline = health(port)["components"]["pipeline"]
    assert pipeline["status"] == "degraded" and "MQTT intake paused" in pipeline["detail"]
    evicted = metric(port, "edumon_spool_evicted_points_total")  # (tests/unit/test_spool.py)
    spool_bytes = metric(port, "edumon_spool_bytes")
    assert spool_bytes <= CAP + 16 * 1024  # held batches in flight at the pause, at most
    with database:
        database.create_database("spoolcap")

        def all_stored() -> bool:
            return database.count("wifi_ap", "clients", db="spoolcap") == MESSAGES

        await until(all_stored, 120, "acknowledged data lost")
        assert acked() == MESSAGES
    print(
        f"paused at {paused_at} acked of {MESSAGES}, spool {spool_bytes:.0f} B of {CAP}; "
        f"{evicted:.0f} of edumon's own points dropped at the cap; all {MESSAGES} stored"
    )
