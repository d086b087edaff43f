"""A durable MQTT consumer: QoS 1, persistent session, ack only after the data is on disk.

- Fixed client id and no clean start (MQTT v5 session expiry of a week): what is published
  while edumon or the broker restarts is queued by the broker and delivered afterwards.
- PUBACK is sent only once the samples a message produced are fsynced in the spool
  (`emit(..., durable=True)`); aiomqtt acks on receipt by default (empicano/aiomqtt#345), so
  paho's manual-ack mode is switched on underneath it. A crash before the ack means the broker
  delivers the message again: at least once, and points carry their own timestamps.
- Messages are handled concurrently (bounded), so acks do not serialise on the fsync.
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

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.collector import CollectorEmit
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
    keepalive_s: int = 30
    max_unacked: int = 5000  # messages being processed at once
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
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        properties.ReceiveMaximum = min(65535, s.max_unacked)
        client = aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            identifier=s.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=properties,
            keepalive=s.keepalive_s,
            tls_context=ssl.create_default_context() if s.tls else None,
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
        slots = asyncio.Semaphore(self.settings.max_unacked)
        working: set[asyncio.Task[None]] = set()
        async with client:
            for topic in self.subscriptions:
                await client.subscribe(topic, qos=1)
            self.stats.connects += 1
            self.connected.set()
            log.info("%s: subscribed to %s", self.name, ", ".join(self.subscriptions))
            try:
                async for message in client.messages:
                    self.stats.messages += 1
                    await slots.acquire()
                    task = asyncio.create_task(self._process(client, message, emit, slots))
                    working.add(task)
                    task.add_done_callback(working.discard)
            finally:
                # unacked messages are redelivered by the broker on the next session
                for task in working:
                    task.cancel()
                await asyncio.gather(*working, return_exceptions=True)

    async def _process(
        self,
        client: aiomqtt.Client,
        message: aiomqtt.Message,
        emit: CollectorEmit,
        slots: asyncio.Semaphore,
    ) -> None:
        try:
            payload = (
                message.payload
                if isinstance(message.payload, bytes)
                else str(message.payload).encode()
            )
            samples = self.handler(message.topic.value, payload, message.retain)
            if samples:
                await emit(samples, collector=self.name, durable=True)
            if message.qos > 0:
                client._client.ack(message.mid, message.qos)
                self.stats.acked += 1
        except Exception:  # the handler dead-letters bad input; this is a bug: log, keep going
            self.stats.failures += 1
            log.exception("%s: failed to process a message on %s", self.name, message.topic)
        finally:
            slots.release()
