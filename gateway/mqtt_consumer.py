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

from gateway.collector import CollectorEmit
from gateway.config import EdumonConfig
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
    keepalive_s: int = 30
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


class MqttConsumer:
    def __init__(
        self, name: str, settings: MqttSettings, subscriptions: Sequence[str], handler: Handler
    ) -> None:
        self.name = name
        self.settings = settings
        self.subscriptions = list(subscriptions)
        self.handler = handler
        self.stats = ConsumerStats()
        self.connected = asyncio.Event()

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

    async def run(self, emit: CollectorEmit) -> None:
        """Consume until cancelled; never returns on broker errors, it reconnects."""
        delay = 0.5
        while True:
            try:
                await self._session(emit)
            except aiomqtt.MqttError as error:
                self.connected.clear()
                self.stats.disconnects += 1
                log.warning(
                    "%s: MQTT %s:%d lost (%s); reconnecting in %.1f s",
                    self.name,
                    self.settings.host,
                    self.settings.port,
                    error,
                    delay,
                )
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.settings.reconnect_max_s)

    async def _session(self, emit: CollectorEmit) -> None:
        client = self._client()
        batch = _Batch()

        def received(_client: Any, _userdata: Any, message: MQTTMessage) -> None:
            self.stats.messages += 1
            batch.add(message)

        # Messages go straight from paho's callback into the batch: aiomqtt's own path wraps
        # each one and hands it over through a queue and a task per message, which was a sixth
        # of the CPU per message (bench/mqtt.py).
        client._client.on_message = received
        async with client:
            for topic in self.subscriptions:
                await client.subscribe(topic, qos=1)
            self.stats.connects += 1
            self.connected.set()
            log.info("%s: subscribed to %s", self.name, ", ".join(self.subscriptions))
            persister = asyncio.create_task(self._persist(client, batch, emit))
            try:
                # yields nothing (the callback above takes the messages); it raises
                # MqttError when the connection drops, which ends the session
                async for _ in client.messages:
                    pass
            finally:
                # unacked messages are redelivered by the broker on the next session
                persister.cancel()
                await asyncio.gather(persister, return_exceptions=True)

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
        try:
            # a received message's payload is bytes (paho types it for sending, too)
            payload = cast(bytes, message.payload)
            return self.handler(message.topic, payload, message.retain)
        except Exception:  # the handler dead-letters bad input; this is a bug: log, keep going
            self.stats.failures += 1
            log.exception("%s: failed to process a message on %.120r", self.name, message.topic)
            return []


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


def settings_from_config(config: EdumonConfig, client_suffix: str) -> MqttSettings:
    """Broker settings of the config; each consumer gets its own client id (and session)."""
    mqtt = config.mqtt
    return MqttSettings(
        mqtt.host,
        mqtt.port,
        client_id=f"{mqtt.client_id}-{client_suffix}",
        username=mqtt.username.get_secret_value() if mqtt.username else None,
        password=mqtt.password.get_secret_value() if mqtt.password else None,
        tls=mqtt.tls,
        ca_file=mqtt.ca_file,
        protocol=mqtt.protocol,
    )


def shared(config: EdumonConfig, topics: Sequence[str]) -> list[str]:
    """Topics as MQTT v5 shared subscriptions when the config names a group."""
    group = config.mqtt.shared_group
    return [f"$share/{group}/{topic}" for topic in topics] if group else list(topics)
