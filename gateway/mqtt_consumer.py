"""A durable MQTT consumer: QoS 1, persistent session, ack only after the data is on disk.

Shared by the collectors that read MQTT (device telemetry, LoRaWAN network servers).

- Fixed client id and a persistent session (3.1.1: clean session off; 5: no clean start and
  a week of session expiry): what is published while edumon or the broker restarts is queued
  by the broker and delivered afterwards. With 3.1.1 the broker's `max_inflight_messages`
  bounds the unacked window (Mosquitto's default of 20 caps a consumer near 1,000 msg/s;
  edumon's stack sets 1,000); with 5 the consumer announces its own Receive Maximum.
- PUBACK is sent only once the samples a message produced are fsynced in the spool
  (`emit(..., durable=True)`); general clients ack on receipt (aiomqtt: empicano/aiomqtt#345),
  ours (gateway/mqtt_connection.py) only when told. A crash before the ack means the broker
  delivers the message again: at least once, and points carry their own timestamps.
- Messages are persisted in batches, one emit and one fsync each: a batch is closed once its
  oldest message has waited BATCH_WINDOW_S, or earlier once nothing arrived for PAUSE_S (a
  broker that sends no more until we ack, its 3.1.1 in-flight limit reached, is not kept
  waiting a whole window). While one batch is being made durable the next one accumulates,
  so acks never serialise on the fsync. The fixed cost per batch
  (emit, fsync hand-off, acks) was over half the CPU per message at 1,000 msg/s with a batch
  every ~40 ms (bench/mqtt.py).
- Reconnects forever with exponential backoff and resubscribes each time: a consumer that
  silently stops after a reconnect is the bug this loop exists to prevent.
- Reports to its health object: connected (or why not: refused login, unreachable, frozen
  broker), the messages, and the handler's failures. A connection that stays silent for the
  stream's `silence_s` while devices are expected is presumed dead (a frozen broker keeps the
  TCP connection open) and is dropped once, so a broker that does not answer is noticed in
  seconds, not after the keepalive.
- A handler that raises is a bug, but the message still ends as a dead letter with the
  exception as its reason, counted, and is acked: never lost silently, never redelivered
  forever.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.collector import CollectorEmit, Totals
from gateway.config import EdumonConfig
from gateway.deadletter import DeadLetterFile
from gateway.intake_health import CollectorHealth
from gateway.mqtt_connection import MqttConnection, MqttError, MqttSettings, connect
from gateway.mqtt_packets import Publish
from gateway.sample import Sample

__all__ = ["MqttConsumer", "MqttSettings", "broker_address", "settings_from_config", "shared"]

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes, bool], list[Sample]]  # (topic, payload, retained) -> samples
BATCH_WINDOW_S = 0.1
PAUSE_S = 0.025


@dataclass
class ConsumerStats:
    messages: int = 0
    acked: int = 0
    connects: int = 0
    disconnects: int = 0
    failures: int = 0


class SilentBroker(Exception):
    """The connection is up but nothing arrived for the stream's silence limit."""


class MqttConsumer:
    def __init__(
        self,
        name: str,
        settings: MqttSettings,
        subscriptions: Sequence[str],
        handler: Handler,
        dead_letters: DeadLetterFile,
    ) -> None:
        self.name = name
        self.settings = settings
        self.subscriptions = list(subscriptions)
        self.handler = handler
        self.dead_letters = dead_letters
        self.stats = ConsumerStats()
        self.connected = asyncio.Event()
        self.health = CollectorHealth(name, target=self.broker, stream=True)

    @property
    def broker(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def totals(self) -> Totals:
        s = self.stats
        return {
            ("connects", ""): s.connects,
            ("disconnects", ""): s.disconnects,
            ("acked", ""): s.acked,
            ("dead_lettered", "handler_error"): s.failures,
            ("dead_letter_lost", ""): self.dead_letters.lost,
        }

    async def run(
        self,
        emit: CollectorEmit,
        health: CollectorHealth | None = None,
        intake_totals: Callable[[], Totals] | None = None,
    ) -> None:
        """Consume until cancelled; never returns on broker errors, it reconnects."""
        if health is not None:
            self.health = health
        self.health.add_totals("consumer", self.totals)
        self.health.add_check("dead letters", lambda: self.dead_letters.error)
        if intake_totals is not None:
            self.health.add_totals("intake", intake_totals)
        delay = 0.5
        while True:
            try:
                await self._session(emit)
            except (MqttError, SilentBroker) as error:
                was_connected = self.connected.is_set()
                self.connected.clear()
                self.stats.disconnects += 1
                reason = f"MQTT {self.broker}: {error}"
                self.health.disconnect(reason)
                if was_connected or delay == 0.5:  # the loss, and the first failed attempt
                    log.warning("%s: %s; reconnecting with backoff", self.name, reason)
                else:
                    log.debug("%s: %s; next attempt in %.1f s", self.name, reason, delay)
                if was_connected:
                    delay = 0.5
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.settings.reconnect_max_s)

    async def _session(self, emit: CollectorEmit) -> None:
        batch = _Batch()
        health = self.health

        def received(messages: list[Publish]) -> None:
            self.stats.messages += len(messages)
            health.message(len(messages))
            batch.add(messages)

        connection = await connect(self.settings, received)
        try:
            await connection.subscribe(self.subscriptions)
            self.stats.connects += 1
            self.connected.set()
            health.connect(f"subscribed at {self.broker}")
            log.info("%s: subscribed to %s", self.name, ", ".join(self.subscriptions))
            async with asyncio.TaskGroup() as group:
                group.create_task(self._persist(connection, batch, emit))
                group.create_task(self._watch_silence())
                group.create_task(connection.keep_alive())
                group.create_task(connection.wait_closed())  # raises MqttError once it drops
        except* (MqttError, SilentBroker) as group_error:
            # unacked messages are redelivered by the broker on the next session
            raise group_error.exceptions[0] from None
        finally:
            connection.close()

    async def _watch_silence(self) -> None:
        """Drop a connection that has carried nothing for the silence limit (once per silence:
        a broker that is fine while every device is quiet is not reconnected in a loop)."""
        limit = self.health.silence_s
        if limit is None:
            return
        started = self.health.last_message
        while True:
            await asyncio.sleep(min(limit / 4, 5.0))
            quiet = self.health.silent_for()
            if quiet is not None and self.health.last_message != started:
                raise SilentBroker(f"no message for {quiet:.0f} s; reconnecting")
            if quiet is not None:
                return  # already reconnected once for this silence

    async def _persist(
        self, connection: MqttConnection, batch: _Batch, emit: CollectorEmit
    ) -> None:
        """Take whatever arrived, make it durable with one emit, then ack all of it."""
        while True:
            messages = await batch.take()
            samples: list[Sample] = []
            for message in messages:
                samples += self._samples(message)
            if samples:
                await emit(samples, collector=self.name, durable=True)
            connection.ack([message.packet_id for message in messages if message.qos])
            self.stats.acked += len(messages)

    def _samples(self, message: Publish) -> list[Sample]:
        try:
            return self.handler(message.topic, message.payload, message.retain)
        except Exception as error:  # the handler dead-letters bad input; this is a bug
            self.stats.failures += 1
            if self.stats.failures == 1 or self.stats.failures % 100 == 0:
                log.exception("%s: failed to process a message on %.120r", self.name, message.topic)
            reason = f"handler_error: {type(error).__name__}: {str(error)[:200]}"
            raw = message.topic.encode("utf-8", "backslashreplace") + b"\n" + message.payload
            self.dead_letters.add(source=self.name, reason=reason, raw=raw)  # never raises
            return []


class _Batch:
    """Messages received but not yet acked. Bounded by the broker: it sends no more than its
    in-flight window (3.1.1: Mosquitto's max_inflight_messages; 5: our Receive Maximum)
    before we ack, and we ack only after persisting."""

    def __init__(self) -> None:
        self.waiting: list[Publish] = []
        self.arrived = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._first_at = self._last_at = 0.0

    def add(self, messages: list[Publish]) -> None:
        now = self._loop.time()
        if not self.waiting:
            self._first_at = now
        self._last_at = now
        self.waiting += messages
        self.arrived.set()

    async def take(self) -> list[Publish]:
        """The next batch: see the module's docstring for when one is closed."""
        while not self.waiting:
            self.arrived.clear()
            await self.arrived.wait()
        while True:
            closes_at = min(self._first_at + BATCH_WINDOW_S, self._last_at + PAUSE_S)
            if (wait := closes_at - self._loop.time()) <= 0:
                break
            await asyncio.sleep(wait)  # arrivals only move the close later: no wake-up for them
        taken, self.waiting = self.waiting, []
        return taken


def broker_address(config: EdumonConfig) -> str:
    return f"{config.mqtt.host}:{config.mqtt.port}"


def settings_from_config(config: EdumonConfig, client_suffix: str) -> MqttSettings:
    """Broker settings of the config; each consumer gets its own client id (and session), and
    so does each member of a cluster (gateway/cluster), which may share one config file."""
    mqtt = config.mqtt
    member = f"-{config.cluster.member_name}" if config.cluster else ""
    return MqttSettings(
        mqtt.host,
        mqtt.port,
        client_id=f"{mqtt.client_id}{member}-{client_suffix}",
        username=mqtt.username.get_secret_value() if mqtt.username else None,
        password=mqtt.password.get_secret_value() if mqtt.password else None,
        tls=mqtt.tls,
        ca_file=mqtt.ca_file,
        protocol=mqtt.protocol,
        keepalive_s=mqtt.keepalive_s,
    )


def shared(config: EdumonConfig, topics: Sequence[str]) -> list[str]:
    """Topics as MQTT v5 shared subscriptions when the config names a group."""
    group = config.mqtt.shared_group
    return [f"$share/{group}/{topic}" for topic in topics] if group else list(topics)
