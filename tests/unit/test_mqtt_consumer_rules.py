"""The consumer's own rules around paho, without a broker: which SUBACKs and CONNACKs are
refused, the subscriptions kept in the state directory, and the batch's back-pressure."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from gateway.mqtt_batch import Batch
from gateway.mqtt_client import ConnAck, Message, MqttError
from gateway.mqtt_subscriptions import SubscriptionState, check_connack, check_grants


def codes(*values: int) -> list[ReasonCode]:
    return [ReasonCode(PacketTypes.SUBACK, identifier=value) for value in values]


@pytest.mark.parametrize(
    ("granted", "problem"),
    [
        ((1, 1), None),
        ((2, 1), None),
        ((1, 0), "b/#: granted QoS 0 only (edumon needs QoS 1)"),
        ((0x80, 1), "a/+: refused (Unspecified error)"),
        ((0x87, 0), "a/+: refused (Not authorized); b/#: granted QoS 0 only"),
        ((1,), "the broker answered 1 codes for 2 topics"),
    ],
)
def test_a_subscription_below_qos_1_is_refused_naming_the_topic(
    granted: tuple[int, ...], problem: str | None
) -> None:
    if problem is None:
        check_grants(["a/+", "b/#"], codes(*granted))
        return
    with pytest.raises(MqttError) as refused:
        check_grants(["a/+", "b/#"], codes(*granted))
    assert problem in str(refused.value)


@pytest.mark.parametrize(
    ("present", "expected", "lost"),
    [(True, True, False), (False, True, True), (False, False, False), (True, False, False)],
)
def test_a_session_is_lost_only_when_edumon_had_one(
    present: bool, expected: bool, lost: bool
) -> None:
    assert check_connack(ConnAck(present, 2), expected_session=expected) is lost


def test_a_broker_allowing_qos_0_only_is_refused() -> None:
    with pytest.raises(MqttError, match="allows QoS 0 only"):
        check_connack(ConnAck(True, 0), expected_session=True)
    assert not check_connack(ConnAck(True, 1), expected_session=True)


def test_the_topics_subscribed_last_are_kept_per_client_id(tmp_path: Path) -> None:
    state = SubscriptionState(tmp_path, "edumon-a")
    assert state.load() is None  # never subscribed: no session expected
    state.save(["$share/g/a/+", "b/#"])
    assert SubscriptionState(tmp_path, "edumon-a").load() == ["$share/g/a/+", "b/#"]
    assert SubscriptionState(tmp_path, "edumon-b").load() is None
    assert state.path is not None
    state.path.write_text("{not json")
    assert state.load() is None
    assert SubscriptionState(None, "edumon-a").load() is None


class Reader:
    """The client's socket reading, as the batch drives it."""

    def __init__(self) -> None:
        self.reading = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


def message(mid: int, size: int = 10) -> Message:
    m = Message(mid, b"t/x")
    m.payload = b"x" * size
    return m


async def test_a_full_batch_stops_the_reading_until_it_is_taken() -> None:
    batch = Batch(limit=3)
    reader = Reader()
    batch.client = reader  # type: ignore[assignment]
    batch.add(message(1))
    batch.add(message(2))
    assert reader.reading
    batch.add(message(3))
    assert not reader.reading
    taken = await asyncio.wait_for(batch.take(), 1)  # full: closed at once
    assert [m.mid for m in taken] == [1, 2, 3]
    assert reader.reading and batch.waiting == [] and batch.size == 0


async def test_a_batch_of_16_mib_stops_the_reading_too() -> None:
    batch = Batch(limit=1000)
    reader = Reader()
    batch.client = reader  # type: ignore[assignment]
    batch.add(message(1, 10 * 2**20))
    assert reader.reading
    batch.add(message(2, 6 * 2**20))
    assert not reader.reading


async def test_a_batch_closes_after_a_quiet_pause() -> None:
    batch = Batch(limit=1000)
    batch.add(message(1))
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert [m.mid for m in await batch.take()] == [1]
    assert loop.time() - started < 0.1  # the quiet pause (25 ms), not the window
