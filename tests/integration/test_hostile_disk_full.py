"""edumon's state directory on a real 20 MiB tmpfs, the database down: bad 5 MB messages are
dead-lettered within their cap, good ones spooled; then the disk is full (a filler takes what
is left): /healthz reports the error, the broker keeps what edumon could not persist, and once
space is back edumon recovers by itself; with the database back every acknowledged message
is stored."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.devstack.servers import InfluxDB1, Mosquitto, free_port
from gateway.mqtt_client import ClientOptions, MqttClient
from tests.integration.test_hostile_service import config, edumon, topic  # noqa: F401
from tests.small_disk import fill, small_disk
from tests.unavailable import require

pytestmark = pytest.mark.integration
GOOD_BEFORE, GOOD_WHILE_FULL = 2000, 1000


def health(port: int) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            body = answer.read()
    except urllib.error.HTTPError as error:  # 503 while a component is in error
        body = error.read()
    result: dict[str, Any] = json.loads(body)
    return result


async def until(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    started = time.monotonic()
    async with asyncio.timeout(timeout_s):
        while True:
            try:
                if await asyncio.to_thread(condition):
                    return time.monotonic() - started
            except (OSError, ValueError):
                pass  # not up yet
            await asyncio.sleep(0.2)
    raise AssertionError(what)


async def publish_good(client: MqttClient, first: int, count: int) -> None:
    for start in range(first, first + count, 250):
        await asyncio.gather(
            *(
                client.publish(topic("vsk-1-ap-102"), good(n), qos=1)
                for n in range(start, min(first + count, start + 250))
            )
        )


def good(n: int) -> bytes:
    radio = {"band": "5g", "clients": n % 50}
    return json.dumps({"ts": 1_700_000_000 + n / 1000, "radios": [radio]}).encode()


async def test_a_full_state_disk_is_reported_and_recovered_without_loss(
    mosquitto: Mosquitto,
    tmp_path: Path,
    edumon: Callable[..., int],  # noqa: F811 - the fixture
) -> None:
    require(InfluxDB1)
    database = InfluxDB1(tmp_path / "influxdb", port=free_port())  # down until the end
    with small_disk(tmp_path / "state", 20) as disk:
        port = free_port()
        edumon(config(tmp_path, database, mosquitto, "diskfull"), port)
        await until(lambda: "components" in health(port), 60, "edumon did not start")
        async with MqttClient("127.0.0.1", mosquitto.port, ClientOptions("disk-filler")) as client:
            await asyncio.sleep(2)  # the consumer subscribes
            for _ in range(20):  # 18 MB of bad input (under the broker's 1 MB message limit)
                await client.publish(topic("vsk-1-ap-101"), b"{" * 900_000, qos=1)
            await publish_good(client, 0, GOOD_BEFORE)
            await asyncio.sleep(3)  # spooled
            filler = await asyncio.to_thread(fill, disk)
            await publish_good(client, GOOD_BEFORE, GOOD_WHILE_FULL)

            def pipeline_failing() -> bool:
                return bool(health(port)["components"]["pipeline"]["status"] == "error")

            await until(pipeline_failing, 30, "the full disk was not reported")
            components = health(port)["components"]
            detail = components["pipeline"]["detail"]
            assert "No space left" in detail and "No space left" in components["writer"]["detail"]
            assert components["writer"]["status"] == "error"

            def paging() -> bool:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2) as r:
                    alerts = json.loads(r.read())["alerts"]
                return any(alert["alertname"] == "StateDiskFull" for alert in alerts)

            await until(paging, 30, "no StateDiskFull alert while the disk was full")
            filler.unlink()  # space is back
            recovered = await until(lambda: not pipeline_failing(), 30, "no recovery")
        deadletter = disk / "deadletter"
        letters = [json.loads(line) for p in deadletter.glob("mqtt.jsonl*") for line in p.open()]
        with database:
            database.create_database("diskfull")

            def all_stored() -> bool:
                stored = database.count("wifi_ap", "clients", db="diskfull")
                return stored == GOOD_BEFORE + GOOD_WHILE_FULL

            await until(all_stored, 90, "acknowledged data lost")

            seen: dict[str, Any] = {}

            def healthy() -> bool:  # the writer says so once the answer of its last POST is in
                components = health(port)["components"]
                seen.update(pipeline=components["pipeline"], writer=components["writer"])
                return bool(
                    components["pipeline"]["status"] == components["writer"]["status"] == "ok"
                )

            try:
                await until(healthy, 30, "")
            except TimeoutError:
                raise AssertionError(f"not ok once everything was stored: {seen}") from None
    log = (tmp_path / "edumon.log").read_text()
    print(
        f"disk full reported ({detail}); recovered {recovered:.1f} s after space came back; "
        f"{len(letters)} dead letters of {letters[0]['raw_size']} B kept as "
        f"{len(json.dumps(letters[0]))} B; 'cannot persist' logged "
        f"{log.count('cannot persist')} times"
    )
    assert len(letters) == 20 and all(letter["truncated"] for letter in letters)
    assert log.count("cannot persist") <= 2  # once a minute, not once per retry
