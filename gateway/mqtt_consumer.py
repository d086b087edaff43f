"""A durable MQTT consumer: QoS 1, persistent session, ack only after the data is on disk.

Shared by the collectors that read MQTT (device telemetry, LoRaWAN network servers).

- Fixed client id and a persistent session (3.1.1: clean session off; 5: no clean start and
  a week of session expiry): what is published while edumon or the broker restarts is queued
  by the broker and delivered afterwards. With 3.1.1 the broker's `max_inflight_messages`
  bounds the unacked window (Mosquitto's default of 20 caps a consumer near 1,000 msg/s;
  edumon's stack sets 1,000); with 5 the consumer announces its own Receive Maximum.
- PUBACK is sent only once the samples a message produced are fsynced in the spool
  (`emit(..., durable=True)`); aiomqtt acks on receipt by default (empicano/aiomqtt#345), so
  paho's manual-ack mode is switched on underneath it. A crash before the ack means the broker
  delivers the message again: at least once, and points carry their own timestamps.
- While one batch is being made durable the next one accumulates, so acks never serialise on
  the fsync and the cost per message stays small (one emit and one fsync per batch).
- Reconnects forever with exponential backoff and resubscribes each time: a consumer that
  silently stops after a reconnect is the bug this loop exists to prevent.
- Reports to its health object: connected (or why not: refused login, unreachable, frozen
  broker), each message, and the handler's failures. A connection that stays silent for the
  stream's `silence_s` while devices are expected is presumed dead (a frozen broker keeps the
  TCP connection open) and is dropped once, so a broker that does not answer is noticed in
  seconds, not after the TCP keepalive.
- A handler that raises is a bug, but the message still ends as a dead letter with the
  exception as its reason, counted, and is acked: never lost silently, never redelivered
  forever.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import aiomqtt
from paho.mqtt.client import MQTTMessage
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.collector import CollectorEmit, Totals
from gateway.config import EdumonConfig
from gateway.deadletter import DeadLetterFile
from gateway.intake_health import CollectorHealth
from gateway.sample import Sample

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes, bool], list[Sample]]  # (topic, payload, retained) -> samples
SESSION_EXPIRY_S = 7 * 24 * 3600


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int = 1883
    client_id: str = "edumon"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: Path | None = None
    keepalive_s: int = 15
    max_unacked: int = 5000  # MQTT 5 Receive Maximum: messages received and not yet acked
    # "3.1.1" by default: paho parses MQTT 5 properties of every PUBLISH in Python, which costs
    # about 3x the CPU per message (bench/mqtt.py); Mosquitto offers $share to both versions
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    reconnect_max_s: float = 30.0


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

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        session: dict[str, Any]
        if s.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = SESSION_EXPIRY_S
            properties.ReceiveMaximum = min(65535, s.max_unacked)
            session = {
                "protocol": aiomqtt.ProtocolVersion.V5,
                "clean_start": False,
                "properties": properties,
            }
        else:
            session = {"protocol": aiomqtt.ProtocolVersion.V311, "clean_session": False}
        client = aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            identifier=s.client_id,
            keepalive=s.keepalive_s,
            tls_context=ssl.create_default_context(cafile=s.ca_file) if s.tls else None,
            **session,
        )
        client._client.manual_ack_set(True)  # ack after persisting, see above
        return client

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
            except (aiomqtt.MqttError, SilentBroker) as error:
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
        client = self._client()
        batch = _Batch()
        health = self.health

        def received(_client: Any, _userdata: Any, message: MQTTMessage) -> None:
            self.stats.messages += 1
            health.message()
            batch.add(message)

        # Messages go straight from paho's callback into the batch: aiomqtt's own path wraps
        # each one and hands it over through a queue and a task per message, which was a sixth
        # of the CPU per message (bench/mqtt.py).
        client._client.on_message = received
        try:
            async with client:
                for topic in self.subscriptions:
                    await client.subscribe(topic, qos=1)
                self.stats.connects += 1
                self.connected.set()
                health.connect(f"subscribed at {self.broker}")
                log.info("%s: subscribed to %s", self.name, ", ".join(self.subscriptions))
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._persist(client, batch, emit))
                    group.create_task(self._watch_silence())
                    # yields nothing (the callback above takes the messages); it raises
                    # MqttError when the connection drops, which ends the session
                    async for _ in client.messages:
                        pass
        except* (aiomqtt.MqttError, SilentBroker) as group_error:
            # unacked messages are redelivered by the broker on the next session
            raise group_error.exceptions[0] from None
        finally:
            _forget_disconnect_error(client)

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

    async def _persist(self, client: aiomqtt.Client, batch: _Batch, emit: CollectorEmit) -> None:
        """Take whatever arrived, make it durable with one emit, then ack all of it."""
        while True:
            messages = await batch.take()
            samples: list[Sample] = []
            for message in messages:
                samples += self._samples(message)
            if samples:
                await emit(samples, collector=self.name, durable=True)
            for message in messages:
                if message.qos > 0:
                    client._client.ack(message.mid, message.qos)
            self.stats.acked += len(messages)

    def _samples(self, message: MQTTMessage) -> list[Sample]:
        # a received message's payload is bytes (paho types it for sending, too)
        payload = cast(bytes, message.payload)
        try:
            return self.handler(message.topic, payload, message.retain)
        except Exception as error:  # the handler dead-letters bad input; this is a bug
            self.stats.failures += 1
            if self.stats.failures == 1 or self.stats.failures % 100 == 0:
                log.exception("%s: failed to process a message on %.120r", self.name, message.topic)
            reason = f"handler_error: {type(error).__name__}: {str(error)[:200]}"
            raw = message.topic.encode("utf-8", "backslashreplace") + b"\n" + payload
            self.dead_letters.add(source=self.name, reason=reason, raw=raw)  # never raises
            return []


def _forget_disconnect_error(client: aiomqtt.Client) -> None:
    """aiomqtt keeps the cause of a lost connection in a future that nobody awaits when the
    session ends by another error; retrieve it so asyncio does not log it as never retrieved."""
    for name in ("_disconnected", "_connected"):
        future = getattr(client, name, None)
        if isinstance(future, asyncio.Future) and future.done() and not future.cancelled():
            future.exception()


class _Batch:
    """Messages received but not yet acked. Bounded by the broker: it sends no more than its
    in-flight window (3.1.1: Mosquitto's max_inflight_messages; 5: our Receive Maximum)
    before we ack, and we ack only after persisting."""

    def __init__(self) -> None:
        self.waiting: list[MQTTMessage] = []
        self.arrived = asyncio.Event()

    def add(self, message: MQTTMessage) -> None:
        self.waiting.append(message)
        self.arrived.set()

    async def take(self) -> list[MQTTMessage]:
        while not self.waiting:
            self.arrived.clear()
            await self.arrived.wait()
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
