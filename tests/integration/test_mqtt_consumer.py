"""The MQTT consumer against a real Mosquitto: persistent session, ack after persist,
broker restart without loss, reconnect and resubscribe."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gateway.deadletter import DeadLetterFile
from gateway.devstack.servers import Mosquitto
from gateway.mqtt_client import ClientOptions, MqttClient
from gateway.mqtt_consumer import Handler, MqttConsumer, MqttSettings
from gateway.sample import Sample

pytestmark = pytest.mark.integration


@dataclass
class Collected:
    """The pipeline at our boundary: records durable emits; can be told to hang."""

    topics: list[str] = field(default_factory=list)
    hang: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(
        self, samples: Sequence[Sample], *, collector: str, durable: bool = False
    ) -> None:
        assert durable, "MQTT data must be made durable before the ack"
        if self.hang:
            await asyncio.Event().wait()
        self.topics.extend(str(s.tags["topic"]) for s in samples)
        self.changed.set()

    async def wait_for(self, count: int, timeout_s: float = 20) -> None:
        async with asyncio.timeout(timeout_s):
            while len(self.topics) < count:
                self.changed.clear()
                await self.changed.wait()


def handler(topic: str, payload: bytes, retained: bool) -> list[Sample]:
    return [Sample("test", {"topic": f"{topic}#{payload.decode()}"}, {"v": 1}, 1)]


@dataclass
class Running:
    consumer: MqttConsumer
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


PROTOCOL = "3.1.1"


async def start(
    broker: Mosquitto,
    collected: Collected,
    client_id: str,
    topic: str = "school/+/data",
    handle: Handler = handler,
) -> Running:
    settings = MqttSettings(
        "127.0.0.1", broker.port, client_id=client_id, reconnect_max_s=1, protocol=PROTOCOL
    )
    dead_letters = DeadLetterFile(Path(tempfile.mkdtemp()) / "mqtt.jsonl")
    consumer = MqttConsumer("test", settings, [topic], handle, dead_letters)
    task = asyncio.create_task(consumer.run(collected))
    async with asyncio.timeout(10):
        await consumer.connected.wait()
    return Running(consumer, task)


async def publish(broker: Mosquitto, first: int, count: int) -> None:
    async with MqttClient("127.0.0.1", broker.port, ClientOptions("test-publisher")) as client:
        for n in range(first, first + count):
            await client.publish(f"school/{n % 5}/data", str(n).encode(), qos=1)


@pytest.fixture(params=["3.1.1", "5"])
async def broker(mosquitto: Mosquitto, request: pytest.FixtureRequest) -> AsyncIterator[Mosquitto]:
    """Every test runs with both protocol versions (distinct client ids per version)."""
    global PROTOCOL
    PROTOCOL = request.param
    yield mosquitto
    PROTOCOL = "3.1.1"


async def test_messages_published_while_edumon_was_down_arrive(broker: Mosquitto) -> None:
    collected = Collected()
    running = await start(broker, collected, f"edumon-persist-{PROTOCOL}")
    await publish(broker, 0, 10)
    await collected.wait_for(10)
    await running.stop()
    await publish(broker, 10, 200)  # edumon is down: the broker keeps them for the session
    running = await start(broker, collected, f"edumon-persist-{PROTOCOL}")
    await collected.wait_for(210)
    await running.stop()
    assert sorted(int(t.split("#")[1]) for t in collected.topics) == list(range(210))


async def test_no_ack_before_persist_means_redelivery(broker: Mosquitto) -> None:
    stuck = Collected(hang=True)
    running = await start(broker, stuck, f"edumon-ack-{PROTOCOL}")
    await publish(broker, 0, 3)
    await asyncio.sleep(0.5)
    assert running.consumer.stats.messages == 3 and running.consumer.stats.acked == 0
    await running.stop()  # "crash" before the data was on disk
    collected = Collected()
    running = await start(broker, collected, f"edumon-ack-{PROTOCOL}")
    await collected.wait_for(3)
    await running.stop()
    assert sorted(collected.topics) == sorted(f"school/{n % 5}/data#{n}" for n in range(3))


async def test_broker_restart_mid_stream_loses_nothing(broker: Mosquitto) -> None:
    collected = Collected()
    running = await start(broker, collected, f"edumon-restart-{PROTOCOL}")
    await publish(broker, 0, 300)
    await asyncio.to_thread(broker.restart)  # SIGTERM: mosquitto saves its persistence file
    await publish(broker, 300, 300)
    await collected.wait_for(600, timeout_s=30)
    await running.stop()
    received = sorted({int(t.split("#")[1]) for t in collected.topics})
    assert received == list(range(600))
    assert running.consumer.stats.connects >= 2  # it reconnected and resubscribed


async def test_shared_subscription_splits_the_stream(broker: Mosquitto) -> None:
    first, second = Collected(), Collected()
    # a group of its own: the other version's persistent sessions would still be members
    shared = f"$share/edumon{PROTOCOL.replace('.', '')}/school/+/data"
    one = await start(broker, first, f"edumon-a-{PROTOCOL}", shared)
    two = await start(broker, second, f"edumon-b-{PROTOCOL}", shared)
    await publish(broker, 0, 200)
    async with asyncio.timeout(20):
        while len(first.topics) + len(second.topics) < 200:  # noqa: ASYNC110 - two sources
            await asyncio.sleep(0.05)
    await one.stop()
    await two.stop()
    numbers = [int(t.split("#")[1]) for t in first.topics + second.topics]
    assert sorted(numbers) == list(range(200))  # each message to exactly one instance
    assert first.topics and second.topics


async def test_a_handler_that_raises_dead_letters_the_message_and_acks_it(
    broker: Mosquitto,
) -> None:
    def buggy(topic: str, payload: bytes, retained: bool) -> list[Sample]:
        if payload == b"1":
            raise RuntimeError("a bug")
        return handler(topic, payload, retained)

    collected = Collected()
    running = await start(broker, collected, f"edumon-bug-{PROTOCOL}", handle=buggy)
    await publish(broker, 0, 3)
    await collected.wait_for(2)
    await asyncio.sleep(0.3)  # the batch's acks are sent
    await running.stop()
    [letter] = [json.loads(line) for line in running.consumer.dead_letters.path.open()]
    assert letter["reason"] == "handler_error: RuntimeError: a bug"
    assert letter["raw"] == "school/1/data\n1"
    assert running.consumer.totals()["dead_lettered", "handler_error"] == 1

    running = await start(broker, collected, f"edumon-bug-{PROTOCOL}")  # acked: not again
    await publish(broker, 3, 1)
    await collected.wait_for(3)
    await running.stop()
    assert sorted(collected.topics) == [f"school/{n % 5}/data#{n}" for n in (0, 2, 3)]
