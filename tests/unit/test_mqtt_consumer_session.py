"""The consumer's session logic against a scripted MQTT peer (tests/mqtt_peer.py): what it
sends in CONNECT, SUBSCRIBE and UNSUBSCRIBE, that a PUBACK follows the durable emit and never
precedes it, the lost session, a QoS 0 grant, and the backoff while sessions keep failing.
The same behaviours against the real Mosquitto: tests/integration/test_mqtt_*.py."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from gateway.deadletter import DeadLetterFile
from gateway.mqtt_consumer import MqttConsumer, MqttSettings
from gateway.mqtt_subscriptions import SESSION_LOST, SubscriptionState
from gateway.sample import Sample
from tests.mqtt_peer import MqttPeer


def handler(topic: str, payload: bytes, retained: bool) -> list[Sample]:
    return [Sample("test", {"topic": topic}, {"v": int(payload)}, 1)]


class Pipeline:
    """The durable emit, recording what the peer had acked when each batch arrived."""

    def __init__(self, peer: MqttPeer, hang: bool = False) -> None:
        self.peer, self.hang = peer, hang
        self.values: list[int] = []
        self.acked_before: list[list[int]] = []

    async def __call__(self, samples: Sequence[Sample], *, collector: str, durable: bool) -> None:
        assert durable
        self.acked_before.append(list(self.peer.sessions[-1].acked))
        if self.hang:
            await asyncio.Event().wait()
        self.values += [int(s.fields["v"]) for s in samples]


def consumer(peer: MqttPeer, tmp_path: Path, topics: list[str], **settings: object) -> MqttConsumer:
    options = {"client_id": "edumon-t", "reconnect_max_s": 8.0, "keepalive_s": 30, **settings}
    mqtt = MqttSettings("127.0.0.1", peer.port, state_dir=tmp_path, **options)  # type: ignore[arg-type]
    return MqttConsumer("t", mqtt, topics, handler, DeadLetterFile(tmp_path / "dl.jsonl"))


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_connect_asks_for_a_persistent_session_with_the_login(tmp_path: Path) -> None:
    async with MqttPeer() as peer:
        reader = consumer(peer, tmp_path, ["a/+"], username="u", password="p", keepalive_s=20)
        task = asyncio.create_task(reader.run(Pipeline(peer)))
        await peer.until(lambda: reader.stats.connects == 1)
        await stop(task)
    connect = peer.sessions[0].connect
    assert connect is not None
    assert (connect.client_id, connect.clean, connect.keepalive) == ("edumon-t", False, 20)
    assert (connect.username, connect.password) == ("u", "p")
    assert peer.sessions[0].subscribed == ["a/+"]


async def test_pubacks_follow_the_durable_emit(tmp_path: Path) -> None:
    async with MqttPeer() as peer:
        pipeline = Pipeline(peer)
        reader = consumer(peer, tmp_path, ["a/+"])
        task = asyncio.create_task(reader.run(pipeline))
        await peer.until(lambda: reader.stats.connects == 1)
        for n in range(1, 6):
            peer.sessions[0].publish(f"a/{n}", str(n).encode(), packet_id=n)
        await peer.until(lambda: len(peer.sessions[0].acked) == 5)
        await stop(task)
    assert pipeline.values == [1, 2, 3, 4, 5]
    assert pipeline.acked_before[0] == []  # nothing acked before the first batch was durable
    assert sorted(peer.sessions[0].acked) == [1, 2, 3, 4, 5]
    assert reader.stats.acked == reader.stats.messages == 5
    assert reader.health.totals()["acked", ""] == 5


async def test_a_batch_never_made_durable_is_never_acked(tmp_path: Path) -> None:
    async with MqttPeer() as peer:
        reader = consumer(peer, tmp_path, ["a/+"])
        task = asyncio.create_task(reader.run(Pipeline(peer, hang=True)))
        await peer.until(lambda: reader.stats.connects == 1)
        peer.sessions[0].publish("a/1", b"1", packet_id=7)
        await peer.until(lambda: reader.stats.messages == 1)
        await asyncio.sleep(0.3)  # a batch closes within 0.1 s
        assert peer.sessions[0].acked == [] and reader.unacked() == 0
        await stop(task)


async def test_a_reconnect_without_the_session_is_said_counted_and_shown(tmp_path: Path) -> None:
    SubscriptionState(tmp_path, "edumon-t").save(["a/+"])  # edumon had a session before
    async with MqttPeer(session_present=True) as peer:
        reader = consumer(peer, tmp_path, ["a/+"])
        task = asyncio.create_task(reader.run(Pipeline(peer)))
        await peer.until(lambda: reader.stats.connects == 1)
        assert not reader.session_lost() and reader.health.status()[0] == "ok"
        peer.session_present = False  # the broker forgot edumon
        assert peer.sessions[0].writer is not None
        peer.sessions[0].writer.close()
        await peer.until(lambda: reader.stats.connects == 2)
        await stop(task)
    assert reader.stats.sessions_lost == 1 and reader.session_lost()
    assert reader.health.problems() == [SESSION_LOST]
    assert reader.health.sample().fields["session_lost"] is True


async def test_no_session_is_expected_the_first_time(tmp_path: Path) -> None:
    async with MqttPeer(session_present=False) as peer:
        reader = consumer(peer, tmp_path, ["a/+"])
        task = asyncio.create_task(reader.run(Pipeline(peer)))
        await peer.until(lambda: reader.stats.connects == 1)
        await stop(task)
    assert reader.stats.sessions_lost == 0 and reader.health.problems() == []
    assert SubscriptionState(tmp_path, "edumon-t").load() == ["a/+"]


async def test_stale_topics_are_unsubscribed_before_the_new_ones(tmp_path: Path) -> None:
    SubscriptionState(tmp_path, "edumon-t").save(["old/#", "a/+"])
    async with MqttPeer(session_present=True) as peer:
        reader = consumer(peer, tmp_path, ["a/+", "new/#"])
        task = asyncio.create_task(reader.run(Pipeline(peer)))
        await peer.until(lambda: reader.stats.connects == 1)
        await stop(task)
    assert peer.sessions[0].unsubscribed == ["old/#"]
    assert peer.sessions[0].subscribed == ["a/+", "new/#"]
    assert reader.stats.stale_unsubscribed == 1
    assert SubscriptionState(tmp_path, "edumon-t").load() == ["a/+", "new/#"]


async def test_a_qos_0_grant_fails_the_session_naming_the_topic(tmp_path: Path) -> None:
    async with MqttPeer(granted=0) as peer:
        reader = consumer(peer, tmp_path, ["a/+"])
        task = asyncio.create_task(reader.run(Pipeline(peer)))
        await peer.until(lambda: reader.stats.disconnects >= 1)
        await stop(task)
    assert reader.stats.connects == 0
    assert "a/+: granted QoS 0 only" in reader.health.detail
    assert SubscriptionState(tmp_path, "edumon-t").load() is None  # not kept: not subscribed


async def test_sessions_failing_after_the_subscription_keep_the_backoff_growing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway.mqtt_consumer")
    async with MqttPeer(close_after_suback=True, session_present=True) as peer:
        reader = consumer(peer, tmp_path, ["a/+"])
        task = asyncio.create_task(reader.run(Pipeline(peer)))
        await peer.until(lambda: reader.stats.disconnects >= 3, timeout_s=15)
        status = reader.health.status()
        await stop(task)
    delays = [float(d) for d in re.findall(r"next attempt in ([\d.]+) s", caplog.text)]
    assert delays[:3] == [0.5, 1.0, 2.0]
    assert status[0] == "error"
    assert "sessions in a row failed" in str(reader.problems())


async def test_a_handler_bug_is_dead_lettered_counted_and_acked(tmp_path: Path) -> None:
    def buggy(topic: str, payload: bytes, retained: bool) -> list[Sample]:
        if payload == b"2":
            raise ValueError("a bug " + "x" * 300)
        return handler(topic, payload, retained)

    async with MqttPeer() as peer:
        pipeline = Pipeline(peer)
        reader = consumer(peer, tmp_path, ["a/+"])
        reader.handler = buggy
        task = asyncio.create_task(reader.run(pipeline))
        await peer.until(lambda: reader.stats.connects == 1)
        for n in (1, 2, 3):
            peer.sessions[0].publish(f"a/{n}", str(n).encode(), packet_id=n)
        await peer.until(lambda: len(peer.sessions[0].acked) == 3)
        await stop(task)
    assert pipeline.values == [1, 3]
    [letter] = [json.loads(line) for line in reader.dead_letters.path.open()]
    assert letter["source"] == "t" and letter["raw"] == "a/2\n2"
    assert letter["reason"] == f"handler_error: ValueError: a bug {'x' * 194}"
    assert reader.totals() == {
        ("connects", ""): 1,
        ("disconnects", ""): 0,
        ("acked", ""): 3,
        ("dead_lettered", "handler_error"): 1,
        ("dead_letter_lost", ""): 0,
        ("session_lost", ""): 0,
        ("refused", "oversize"): 0,
        ("unsubscribed", "stale"): 0,
    }
