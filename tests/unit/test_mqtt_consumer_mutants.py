"""The consumer's bookkeeping, each rule on its own and without a broker (the mutation run,
bench/mutation.py, showed what the session tests leave loose): which counter goes under which
key, what is acked and when, what health says, the silence watchdog's schedule, the handler's
failure path, the batch's close, and the subscription state. Time is a clock the test moves:
`asyncio.sleep` is replaced by one that advances it, so the schedules are exact."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from gateway.deadletter import DeadLetterFile
from gateway.intake_health import CollectorHealth
from gateway.mqtt_batch import MAX_BATCH_BYTES, Batch
from gateway.mqtt_client import Message, MqttError
from gateway.mqtt_consumer import HEALTHY_S, MqttConsumer, MqttSettings, SilentBroker
from gateway.mqtt_subscriptions import SESSION_LOST, SubscriptionState, check_grants, subscribe
from gateway.sample import Sample
from tests.mqtt_peer import MqttPeer
from tests.unit.test_mqtt_consumer_rules import Reader


class Clock:
    """The time the test controls; `sleep` advances it, then runs `on_sleep`."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[], None] = lambda: None

    def time(self) -> float:
        return self.now

    async def sleep(self, delay: float, result: object = None) -> object:
        self.sleeps.append(delay)
        self.now += delay
        self.on_sleep()
        await real_sleep(0)
        return result


real_sleep = asyncio.sleep


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(asyncio, "sleep", fake.sleep)
    yield fake


def handler(topic: str, payload: bytes, retained: bool) -> list[Sample]:
    return [Sample("test", {"topic": topic}, {"v": int(payload)}, 1)]


def make_consumer(
    tmp_path: Path, the_handler: object = handler, **settings: object
) -> MqttConsumer:
    options = {"port": 1, "client_id": "edumon-t", "state_dir": tmp_path, **settings}
    mqtt = MqttSettings("127.0.0.1", **options)  # type: ignore[arg-type]
    dead = DeadLetterFile(tmp_path / "dl.jsonl")
    return MqttConsumer("t", mqtt, ["a/+"], the_handler, dead)  # type: ignore[arg-type]


def message(mid: int, topic: str = "a/1", payload: bytes = b"1", qos: int = 1) -> Message:
    m = Message(mid, topic.encode())
    m.payload, m.qos = payload, qos
    return m


async def test_each_counter_has_its_own_key(tmp_path: Path) -> None:
    reader = make_consumer(tmp_path)
    s = reader.stats
    s.connects, s.disconnects, s.acked, s.failures = 1, 2, 3, 4
    s.sessions_lost, s.oversize, s.stale_unsubscribed = 5, 6, 7
    reader.dead_letters.lost = 8
    assert reader.totals() == {
        ("connects", ""): 1,
        ("disconnects", ""): 2,
        ("acked", ""): 3,
        ("dead_lettered", "handler_error"): 4,
        ("session_lost", ""): 5,
        ("refused", "oversize"): 6,
        ("unsubscribed", "stale"): 7,
        ("dead_letter_lost", ""): 8,
    }


async def test_the_client_asks_for_a_persistent_manual_ack_session(tmp_path: Path) -> None:
    reader = make_consumer(tmp_path, protocol="5", max_unacked=77, max_packet_size=9999)
    options = reader._options()
    assert (options.client_id, options.protocol, options.clean) == ("edumon-t", "5", False)
    assert options.manual_ack is True and options.session_expiry_s == 7 * 24 * 3600
    assert (options.receive_maximum, options.max_packet_size) == (77, 9999)
    assert options.keepalive_s == 15 and options.tls is None


async def test_a_lost_session_is_shown_for_five_minutes(tmp_path: Path) -> None:
    reader = make_consumer(tmp_path)
    now = asyncio.get_running_loop().time()
    assert not reader.session_lost() and reader.problems() is None
    reader._session_lost_at = now - 299
    assert reader.session_lost() and reader.problems() == SESSION_LOST
    reader._session_lost_at = now - 301
    assert not reader.session_lost() and reader.problems() is None
    reader._loop = Clock()  # type: ignore[assignment]
    reader._session_lost_at = 1000.0 - 300
    assert not reader.session_lost()  # shown for 300 s, not a moment longer


async def test_two_failed_sessions_in_a_row_are_a_problem_until_one_lasts(tmp_path: Path) -> None:
    reader = make_consumer(tmp_path)
    reader._failed_sessions, reader._last_failure = 1, "boom"
    assert reader.problems() is None
    reader._failed_sessions = 2
    assert reader.problems() == (
        "2 sessions in a row failed within 60 s (last: boom); reconnecting with backoff"
    )
    reader._loop = Clock()  # type: ignore[assignment]
    reader._subscribed_at = 1000.0 - HEALTHY_S + 1
    assert reader.problems() is not None
    reader._subscribed_at = 1000.0 - HEALTHY_S  # up for HEALTHY_S: healthy again
    assert reader.problems() is None


async def test_an_unreachable_broker_is_retried_with_a_growing_backoff(
    tmp_path: Path,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as closed:  # a port nothing listens on: connections refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setattr(random, "uniform", lambda low, high: (low + high) / 2)  # no jitter
    caplog.set_level(logging.DEBUG, logger="gateway.mqtt_consumer")
    reader = make_consumer(tmp_path, port=port, reconnect_max_s=5.0)
    intake = {("accepted", ""): 3}
    task = asyncio.create_task(reader.run(lambda *_, **__: real_sleep(0), None, lambda: intake))
    async with asyncio.timeout(10):
        while len(clock.sleeps) < 6:  # the consumer's own sleeps, recorded
            await real_sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert clock.sleeps[:6] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    retries = [r for r in caplog.records if "next attempt in" in r.getMessage()]
    assert [r.levelno for r in retries[:3]] == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    assert retries[0].getMessage().startswith(f"t: MQTT 127.0.0.1:{port}: cannot connect")
    assert retries[0].getMessage().endswith("; next attempt in 0.5 s")
    assert reader.stats.disconnects >= 6 and reader.stats.connects == 0
    assert reader.problems() is None  # never connected: no session failed
    assert reader.health.status()[0] == "error" and "cannot connect" in reader.health.detail
    health = reader.health  # its own, named for the consumer, with the intake's counters too
    assert (health.collector, health.target, health.stream) == ("t", f"127.0.0.1:{port}", True)
    assert health.totals()["accepted", ""] == 3
    reader.dead_letters.error = "cannot write dl.jsonl: disk full"
    assert "cannot write dl.jsonl: disk full" in health.problems()
    assert health.totals()["disconnects", ""] == reader.stats.disconnects


def watched(reader: MqttConsumer, clock: Clock, silence_s: float | None) -> CollectorHealth:
    health = CollectorHealth("t", stream=True, silence_s=silence_s, clock=clock.time)
    health.connect("subscribed")
    reader.health = health
    return health


async def test_no_watchdog_without_a_silence_limit(tmp_path: Path, clock: Clock) -> None:
    reader = make_consumer(tmp_path)
    watched(reader, clock, None)
    await asyncio.wait_for(reader._watch_silence(), 1)
    assert clock.sleeps == []


async def test_a_silence_with_no_message_since_the_connect_drops_nothing(
    tmp_path: Path, clock: Clock
) -> None:
    reader = make_consumer(tmp_path)
    watched(reader, clock, 8.0)
    await asyncio.wait_for(reader._watch_silence(), 1)  # returns: reconnected once already
    assert clock.sleeps == [2.0, 2.0, 2.0, 2.0]  # a quarter of the limit, until it is reached


async def test_a_silence_after_messages_drops_the_connection(tmp_path: Path, clock: Clock) -> None:
    reader = make_consumer(tmp_path)
    health = watched(reader, clock, 8.0)
    health.message()
    clock.on_sleep = lambda: health.message() if len(clock.sleeps) == 1 else None
    with pytest.raises(SilentBroker, match=r"^no message for 8 s; reconnecting$"):
        await asyncio.wait_for(reader._watch_silence(), 1)
    assert clock.sleeps == [2.0] * 5  # the last message at 1002: silent from 1010


async def test_the_watchdog_looks_at_least_every_5_s(tmp_path: Path, clock: Clock) -> None:
    reader = make_consumer(tmp_path)
    watched(reader, clock, 40.0)
    await asyncio.wait_for(reader._watch_silence(), 1)
    assert clock.sleeps == [5.0] * 8


async def test_a_handler_bug_is_logged_once_then_every_100th(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def buggy(topic: str, payload: bytes, retained: bool) -> list[Sample]:
        raise KeyError(payload.decode())

    reader = make_consumer(tmp_path, buggy)
    caplog.set_level(logging.ERROR, logger="gateway.mqtt_consumer")
    topics = [f"a/{n}/" + "é" * 200 for n in range(200)]
    for n, topic in enumerate(topics):
        assert await reader._samples(message(n, topic, b"p%d" % n)) == []
    logged = [r for r in caplog.records if r.name == "gateway.mqtt_consumer"]
    assert all(r.exc_info for r in logged)
    assert (
        [r.getMessage() for r in logged]
        == [  # failures 1, 100 and 200
            f"t: failed to process a message on {repr(topics[n])[:120]}" for n in (0, 99, 199)
        ]
    )
    assert reader.stats.failures == 200 and reader.totals()["dead_lettered", "handler_error"] == 200
    await reader.dead_letters.durable()
    letters = [json.loads(line) for line in reader.dead_letters.path.open()]
    assert len(letters) == 200
    assert letters[0]["reason"] == "handler_error: KeyError: 'p0'"
    assert letters[0]["source"] == "t" and letters[0]["raw"] == f"{topics[0]}\np0"


async def test_an_awaitable_handler_is_awaited(tmp_path: Path) -> None:
    async def decode(topic: str, payload: bytes, retained: bool) -> list[Sample]:
        return handler(topic, payload, retained)

    def later(topic: str, payload: bytes, retained: bool) -> Awaitable[list[Sample]]:
        return decode(topic, payload, retained)

    reader = make_consumer(tmp_path, later)
    [sample] = await reader._samples(message(1, "a/7", b"7"))
    assert sample.fields == {"v": 7} and reader.stats.failures == 0


class Acks:
    """The client's side of the ack, as `_persist` uses it."""

    def __init__(self) -> None:
        self.acked: list[tuple[int, int]] = []

    def ack(self, mid: int, qos: int) -> None:
        self.acked.append((mid, qos))


async def persist_once(
    reader: MqttConsumer, messages: Sequence[Message], emitted: list[Sequence[Sample]]
) -> Acks:
    """Runs `_persist` over one batch of `messages` until it is acked (or 0.5 s passed)."""

    async def emit(samples: Sequence[Sample], *, collector: str, durable: bool) -> None:
        assert collector == "t" and durable
        emitted.append(samples)

    acks, batch = Acks(), Batch(100)
    for m in messages:
        batch.add(m)
    task = asyncio.create_task(reader._persist(acks, batch, emit))  # type: ignore[arg-type]
    for _ in range(50):
        if reader.stats.acked:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return acks


async def test_only_qos_1_messages_are_acked_but_all_are_counted(tmp_path: Path) -> None:
    reader = make_consumer(tmp_path)
    emitted: list[Sequence[Sample]] = []
    batch = [message(1, qos=1), message(2, payload=b"2", qos=0), message(3, qos=2)]
    acks = await persist_once(reader, batch, emitted)
    assert acks.acked == [(1, 1), (3, 2)]
    assert reader.stats.acked == 3 and len(emitted) == 1 and len(emitted[0]) == 3


async def test_a_batch_of_dead_letters_alone_is_acked_without_an_emit(tmp_path: Path) -> None:
    reader = make_consumer(tmp_path, lambda *_: [])
    emitted: list[Sequence[Sample]] = []
    acks = await persist_once(reader, [message(4)], emitted)
    assert acks.acked == [(4, 1)] and emitted == []


async def test_nothing_is_acked_while_the_dead_letters_are_not_durable(tmp_path: Path) -> None:
    reader = make_consumer(tmp_path)

    async def never(retry_s: float = 0.0) -> None:
        await asyncio.Event().wait()

    reader.dead_letters.durable = never  # type: ignore[method-assign]
    acks = await persist_once(reader, [message(5)], [])
    assert acks.acked == [] and reader.stats.acked == 0


async def test_a_steady_stream_closes_the_batch_at_the_window(clock: Clock) -> None:
    batch = Batch(limit=1000)
    batch._loop = clock  # type: ignore[assignment]
    batch.add(message(0))
    clock.on_sleep = lambda: batch.add(message(len(batch.waiting)))  # one per pause: never quiet
    taken = await batch.take()
    assert clock.now == pytest.approx(1000.1)  # the window, from the first message
    assert max(clock.sleeps) == pytest.approx(0.025)  # each wait: until the next pause ends
    assert len(taken) == len(clock.sleeps) + 1 >= 5 and batch.waiting == []


async def test_a_quiet_batch_closes_after_the_pause(clock: Clock) -> None:
    batch = Batch(limit=1000)
    batch._loop = clock  # type: ignore[assignment]
    batch.add(message(0))
    assert len(await batch.take()) == 1
    assert clock.sleeps == [pytest.approx(0.025)]


async def test_a_full_batch_is_taken_without_waiting(clock: Clock) -> None:
    batch = Batch(limit=2)
    batch._loop = clock  # type: ignore[assignment]
    batch.add(message(0))
    batch.add(message(1))
    assert len(await batch.take()) == 2 and clock.sleeps == []


def test_the_subscriptions_need_a_state_directory_to_be_kept(tmp_path: Path) -> None:
    SubscriptionState(None, "edumon-a").save(["a/+"])  # nowhere to keep them: nothing written
    state = SubscriptionState(tmp_path, "edumon-a")
    assert state.path == tmp_path / "mqtt" / "edumon-a.json"
    state.save(["a/+"])
    assert sorted(p.name for p in (tmp_path / "mqtt").iterdir()) == ["edumon-a.json"]
    state.path.write_text('{"a/+": 1}')  # not a list
    assert state.load() is None
    state.path.write_text("[1, 2]")
    assert state.load() == ["1", "2"]


def test_refused_grants_are_named_in_one_error() -> None:
    codes = [ReasonCode(PacketTypes.SUBACK, identifier=v) for v in (0, 0x80)]
    with pytest.raises(MqttError) as refused:
        check_grants(["a", "b"], codes)
    assert str(refused.value) == (
        "subscription refused: a: granted QoS 0 only (edumon needs QoS 1); "
        "b: refused (Unspecified error)"
    )


class Subscriber:
    """edumon's client as `subscribe` uses it, recording the requests."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, list[str]]] = []

    async def unsubscribe(self, topics: list[str]) -> None:
        self.requests.append(("unsubscribe", topics))

    async def subscribe(self, topics: list[str]) -> list[ReasonCode]:
        self.requests.append(("subscribe", topics))
        return [ReasonCode(PacketTypes.SUBACK, identifier=1) for _ in topics]


async def test_nothing_is_unsubscribed_without_stale_topics(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.mqtt_subscriptions")
    client, state = Subscriber(), SubscriptionState(tmp_path, "e")
    assert await subscribe(client, state, ["a/+"]) == []  # type: ignore[arg-type]
    state.save(["a/+", "old/1", "old/2"])
    assert await subscribe(client, state, ["a/+"]) == ["old/1", "old/2"]  # type: ignore[arg-type]
    assert client.requests == [
        ("subscribe", ["a/+"]),
        ("unsubscribe", ["old/1", "old/2"]),
        ("subscribe", ["a/+"]),
    ]
    assert "unsubscribed from old/1, old/2 (no longer in the config)" in caplog.messages


async def test_a_topic_that_is_not_utf8_reaches_the_handler_escaped(tmp_path: Path) -> None:
    """MQTT requires UTF-8 topics but a broker may not check them: paho then raises on
    `message.topic`, which must not end the consumer (the message would come back forever)."""
    topics: list[str] = []

    def seen(topic: str, payload: bytes, retained: bool) -> list[Sample]:
        topics.append(topic)
        return []

    reader = make_consumer(tmp_path, seen)
    broken = Message(9, b"a/\xff")
    broken.payload, broken.qos = b"1", 1
    acks = await persist_once(reader, [broken], [])
    assert topics == ["a/\\xff"] and acks.acked == [(9, 1)]


async def test_messages_and_stale_topics_are_counted_across_sessions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.mqtt_consumer")
    async with MqttPeer() as peer:
        reader = make_consumer(tmp_path, lambda *_: [], port=peer.port)
        reader.subscriptions = ["a/+", "b/#"]
        reader.subscribed_state.save(["old/#"])
        task = asyncio.create_task(reader.run(lambda *_, **__: real_sleep(0)))
        await peer.until(lambda: reader.stats.connects == 1)
        for n, payload in enumerate([b"12345", b"1234567", b"12"], start=1):
            peer.sessions[0].publish("a/1", payload, packet_id=n)
        await peer.until(lambda: reader.stats.acked == 3)
        assert peer.sessions[0].writer is not None
        peer.sessions[0].writer.close()  # a reconnect: nothing stale any more
        await peer.until(lambda: reader.stats.connects == 2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert reader.stats.messages == 3 and reader.largest_payload == 7
    assert reader.health.totals()["received", ""] == 3
    assert "t: subscribed to a/+, b/#" in caplog.messages
    assert reader.stats.stale_unsubscribed == 1  # counted since start, not per session


async def test_every_oversize_packet_is_counted(tmp_path: Path) -> None:
    async with MqttPeer() as peer:
        reader = make_consumer(tmp_path, port=peer.port, max_packet_size=64)
        task = asyncio.create_task(reader.run(lambda *_, **__: real_sleep(0)))
        for session in (1, 2):
            await peer.until(lambda: reader.stats.connects == session)  # noqa: B023 - awaited here
            peer.sessions[-1].publish("a/1", b"1" * 200, packet_id=session)
            await peer.until(lambda: reader.stats.oversize == session)  # noqa: B023
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert reader.totals()["refused", "oversize"] == 2 and reader.stats.acked == 0


async def test_the_byte_bound_counts_from_an_empty_batch() -> None:
    batch = Batch(limit=1000)
    reader = Reader()
    batch.client = reader  # type: ignore[assignment]
    batch.add(message(1, payload=b"x" * (MAX_BATCH_BYTES - 1)))
    assert reader.reading  # one byte under the bound
    batch.add(message(2, payload=b"x"))
    assert not reader.reading
