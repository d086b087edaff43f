"""What paho does not do and the consumer does around it, against a real Mosquitto: a lost
session said and alerted on, QoS 0 grants refused, oversize packets refused with memory
bounded, stale subscriptions removed, a frozen broker noticed by the keepalive, and a backoff
that keeps growing while sessions keep failing."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.alerts.engine import AlertEngine
from gateway.alerts.rules import load_rules
from gateway.deadletter import DeadLetterFile
from gateway.devstack.servers import Mosquitto
from gateway.mqtt_client import ClientOptions, MqttClient
from gateway.mqtt_consumer import MqttConsumer, MqttSettings
from gateway.mqtt_subscriptions import SESSION_LOST
from tests.integration.test_mqtt_consumer import Collected, handler

pytestmark = pytest.mark.integration


@pytest.fixture
def own_broker(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Mosquitto]:
    """A broker of its own (these tests restart, stop or reconfigure it): keyword arguments
    of Mosquitto from the test's `broker` mark."""
    mark = request.node.get_closest_marker("broker")
    with Mosquitto(tmp_path / "mosquitto", **(mark.kwargs if mark else {})) as server:
        yield server


def consumer(
    broker: Mosquitto, tmp_path: Path, topics: list[str], **settings: object
) -> MqttConsumer:
    options = {"client_id": "edumon-guards", "reconnect_max_s": 1.0, **settings}
    mqtt = MqttSettings("127.0.0.1", broker.port, state_dir=tmp_path / "state", **options)  # type: ignore[arg-type]
    return MqttConsumer("guards", mqtt, topics, handler, DeadLetterFile(tmp_path / "dl.jsonl"))


class Running:
    def __init__(self, consumer: MqttConsumer, collected: Collected) -> None:
        self.consumer = consumer
        self.collected = collected
        self.task = asyncio.create_task(consumer.run(collected))

    async def until(self, condition: object, timeout_s: float = 20) -> None:
        async with asyncio.timeout(timeout_s):
            while not callable(condition) or not condition():  # noqa: ASYNC110 - polls state
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@pytest.fixture
async def running() -> AsyncIterator[list[Running]]:
    started: list[Running] = []
    yield started
    for each in started:
        await each.stop()


def start(started: list[Running], consumer: MqttConsumer) -> Running:
    started.append(Running(consumer, Collected()))
    return started[-1]


async def publish(broker: Mosquitto, topics: list[str]) -> None:
    async with MqttClient("127.0.0.1", broker.port, ClientOptions("guards-publisher")) as client:
        for n, topic in enumerate(topics):
            await client.publish(topic, str(n).encode(), qos=1)


@pytest.mark.broker(persistence=False)
async def test_a_broker_restarted_without_persistence_raises_the_lost_session_alert(
    own_broker: Mosquitto, tmp_path: Path, running: list[Running]
) -> None:
    consuming = start(running, consumer(own_broker, tmp_path, ["school/+/data"]))
    await consuming.until(lambda: consuming.consumer.stats.connects == 1)
    assert not consuming.consumer.session_lost()  # the first session ever: nothing expected
    await asyncio.to_thread(own_broker.restart)
    await consuming.until(lambda: consuming.consumer.stats.connects == 2)

    health = consuming.consumer.health
    assert consuming.consumer.stats.sessions_lost == 1
    assert health.status() == ("error", SESSION_LOST)
    assert health.totals()["session_lost", ""] == 1
    engine = AlertEngine(load_rules())
    engine.observe([health.sample()])
    assert [i.rule for i in engine.firing()] == ["MqttSessionLost"]


async def test_a_persistent_broker_restart_is_no_lost_session(
    own_broker: Mosquitto, tmp_path: Path, running: list[Running]
) -> None:
    consuming = start(running, consumer(own_broker, tmp_path, ["school/+/data"]))
    await consuming.until(lambda: consuming.consumer.stats.connects == 1)
    await asyncio.to_thread(own_broker.restart)
    await consuming.until(lambda: consuming.consumer.stats.connects == 2)
    assert consuming.consumer.stats.sessions_lost == 0
    assert consuming.consumer.health.status()[0] == "ok"


@pytest.mark.broker(extra="max_qos 0\n")
@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_a_broker_that_grants_qos_0_only_is_refused(
    own_broker: Mosquitto, tmp_path: Path, running: list[Running], protocol: str
) -> None:
    """3.1.1: the SUBACK grants QoS 0; 5: the CONNACK's Maximum QoS is 0 already."""
    consuming = start(running, consumer(own_broker, tmp_path, ["school/+/data"], protocol=protocol))
    await consuming.until(lambda: consuming.consumer.stats.disconnects >= 1)
    assert consuming.consumer.stats.connects == 0
    detail = consuming.consumer.health.status()[1]
    expected = "Maximum QoS" if protocol == "5" else "school/+/data: granted QoS 0 only"
    assert expected in detail


def memory(field: str) -> int:
    """VmRSS (now) or VmHWM (the peak since `reset_peak`) of this process, in bytes."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux 4.0+)


@pytest.mark.broker(message_size_limit=0)  # the broker passes anything on: edumon must refuse
@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_a_5_mb_message_is_refused_with_a_1_mib_limit_and_memory_stays_bounded(
    own_broker: Mosquitto, tmp_path: Path, running: list[Running], protocol: str
) -> None:
    """5: the limit is announced and the broker does not send it; 3.1.1: edumon refuses the
    packet before reading its body, counts it and drops the connection."""
    consuming = start(running, consumer(own_broker, tmp_path, ["school/+/data"], protocol=protocol))
    await consuming.until(lambda: consuming.consumer.stats.connects == 1)
    big = tmp_path / "big"
    big.write_bytes(os.urandom(5 * 2**20))
    reset_peak()
    before = memory("VmRSS")
    publisher = subprocess.Popen(
        ["mosquitto_pub", "-p", str(own_broker.port), "-q", "1", "-t", "school/1/data", "-f", big]
    )
    if protocol == "5":
        assert await asyncio.to_thread(publisher.wait, 20) == 0
        await publish(own_broker, ["school/2/data"])  # what follows it still flows
        await consuming.collected.wait_for(1)
        assert consuming.collected.topics == ["school/2/data#0"]
    else:
        await consuming.until(lambda: consuming.consumer.stats.oversize >= 1)
        detail = consuming.consumer.health.detail
        assert "a packet of 5,242,897 bytes, over the limit of 1,048,576" in detail
        assert consuming.consumer.health.totals()["refused", "oversize"] >= 1
        publisher.wait(20)
    assert memory("VmHWM") - before < 2**20, "the 5 MB message was read into memory"
    assert consuming.consumer.stats.messages == (1 if protocol == "5" else 0)


async def test_topics_the_config_no_longer_names_are_unsubscribed(
    own_broker: Mosquitto, tmp_path: Path, running: list[Running]
) -> None:
    """The config moves from plain topics to a shared group: the plain subscription would
    stay in the persistent session and deliver every message a second time."""
    first = start(running, consumer(own_broker, tmp_path, ["school/+/data", "lab/#"]))
    await first.until(lambda: first.consumer.stats.connects == 1)
    await first.stop()
    second = start(running, consumer(own_broker, tmp_path, ["$share/g1/school/+/data"]))
    await second.until(lambda: second.consumer.stats.connects == 1)
    assert second.consumer.stats.stale_unsubscribed == 2
    await publish(own_broker, [f"school/{n}/data" for n in range(10)] + ["lab/x"])
    await second.collected.wait_for(10)
    await asyncio.sleep(0.5)  # time for duplicates to arrive, if any were coming
    assert sorted(second.collected.topics) == sorted(f"school/{n}/data#{n}" for n in range(10))


async def test_a_frozen_broker_is_dropped_by_the_keepalive(
    own_broker: Mosquitto, tmp_path: Path, running: list[Running]
) -> None:
    consuming = start(running, consumer(own_broker, tmp_path, ["school/+/data"], keepalive_s=2))
    await consuming.until(lambda: consuming.consumer.stats.connects == 1)
    pid = own_broker.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # TCP stays open, nothing answers
    try:
        await consuming.until(lambda: consuming.consumer.stats.disconnects >= 1, timeout_s=15)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert "keepalive timeout" in consuming.consumer.health.detail
    await consuming.until(lambda: consuming.consumer.stats.connects == 2)


async def test_sessions_failing_one_after_another_keep_the_backoff_growing(
    own_broker: Mosquitto,
    tmp_path: Path,
    running: list[Running],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each session is subscribed and then taken over (another client with edumon's id):
    the wait before each reconnect doubles, and health is not "ok" while it goes on."""
    caplog.set_level(logging.DEBUG, logger="gateway.mqtt_consumer")
    consuming = start(
        running, consumer(own_broker, tmp_path, ["school/+/data"], reconnect_max_s=30.0)
    )
    for session in range(1, 5):
        await consuming.until(lambda n=session: consuming.consumer.stats.connects == n)
        if session > 2:
            assert consuming.consumer.health.status()[0] == "error"
            assert "sessions in a row failed" in consuming.consumer.health.status()[1]
        thief = MqttClient(
            "127.0.0.1", own_broker.port, ClientOptions("edumon-guards", clean=False)
        )
        await thief.connect()
        await thief.disconnect()
    await consuming.until(lambda: consuming.consumer.stats.disconnects == 4)
    delays = [float(d) for d in re.findall(r"next attempt in ([\d.]+) s", caplog.text)]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0]


async def test_a_batch_that_cannot_be_made_durable_stops_the_reading(
    own_broker: Mosquitto, tmp_path: Path, running: list[Running]
) -> None:
    """The pipeline hangs (a spool at its cap): QoS 0 messages, which no in-flight window
    bounds, are not read past two batches of `max_batch`; the rest waits in TCP and at the
    broker."""
    consuming = consumer(own_broker, tmp_path, ["school/+/data"], max_batch=100)
    stuck = Running(consuming, Collected(hang=True))
    running.append(stuck)
    await stuck.until(lambda: consuming.stats.connects == 1)
    async with MqttClient("127.0.0.1", own_broker.port, ClientOptions("flood")) as flood:
        for n in range(3_000):
            await flood.publish(f"school/{n % 5}/data", b"x" * 200, qos=0)
        await flood.publish("school/0/data", b"last", qos=1)  # all the QoS 0 ones are out
    await stuck.until(lambda: consuming.stats.messages >= 100)
    await asyncio.sleep(1)  # time to read more, if it did
    assert 100 <= consuming.stats.messages <= 2 * 100
    assert consuming.stats.acked == 0
