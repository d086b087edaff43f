"""Bad messages on a full state disk, against edumon as a real process (real Mosquitto, a real
20 MiB tmpfs as its state directory): 100 bad messages are not acknowledged while their dead
letters cannot be written, /healthz says why; once space is back (and no message arrives)
/healthz recovers within 10 s and all 100 are dead-lettered, then acknowledged."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.devstack.servers import InfluxDB1, Mosquitto, free_port
from gateway.mqtt_client import ClientOptions, MqttClient
from tests.integration.test_hostile_disk_full import health, until
from tests.integration.test_hostile_service import config, edumon, topic  # noqa: F401
from tests.small_disk import fill, small_disk
from tests.unavailable import require

pytestmark = pytest.mark.integration
BAD = 100


def dead_lettered(disk: Path) -> set[str]:
    records = [
        json.loads(line)
        for path in (disk / "deadletter").glob("mqtt.jsonl*")
        for line in path.read_text().splitlines()
    ]
    return {record["raw"] for record in records}


async def test_bad_messages_wait_unacknowledged_for_space_then_are_all_dead_lettered(
    mosquitto: Mosquitto,
    tmp_path: Path,
    edumon: Callable[..., int],  # noqa: F811 - the fixture
) -> None:
    require(InfluxDB1)
    database = InfluxDB1(tmp_path / "influxdb", port=free_port())  # never started: not needed
    bad = {f"{topic('vsk-1-ap-101')}\nnot json {n}" for n in range(BAD)}
    with small_disk(tmp_path / "state", 20) as disk:
        port = free_port()
        edumon(config(tmp_path, database, mosquitto, "badfull"), port)

        def mqtt() -> dict[str, object]:
            component: dict[str, object] = health(port)["components"]["mqtt"]
            return component

        def acked() -> int:
            counts = mqtt()["counts"]
            assert isinstance(counts, dict)
            return int(counts.get("acked", 0))

        await until(lambda: bool(mqtt()["connected"]), 60, "edumon did not subscribe")
        filler = await asyncio.to_thread(fill, disk)
        async with MqttClient("127.0.0.1", mosquitto.port, ClientOptions("bad-sender")) as client:
            for raw in sorted(bad):
                message_topic, payload = raw.split("\n")
                await client.publish(message_topic, payload.encode(), qos=1)
        await until(lambda: "No space left" in str(mqtt()["detail"]), 30, "full disk not shown")
        assert mqtt()["status"] == "error"
        await asyncio.sleep(3)  # edumon keeps retrying; nothing may be acknowledged meanwhile
        assert acked() == 0 and not dead_lettered(disk) & bad
        filler.unlink()  # space is back; no new message from here on
        space_back = time.monotonic()
        await until(lambda: mqtt()["status"] == "ok", 30, "/healthz did not recover")
        recovered_s = time.monotonic() - space_back
        await until(lambda: dead_lettered(disk) >= bad and acked() >= BAD, 30, "not all")
    print(f"/healthz ok {recovered_s:.1f} s after space came back; {BAD} dead-lettered and acked")
    assert recovered_s < 10
