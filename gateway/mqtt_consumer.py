"""A durable MQTT consumer: QoS 1, persistent session, ack only after the data is on disk.

Shared by the collectors that read MQTT (device telemetry, JSON devices, LoRaWAN network
servers), on paho-mqtt (gateway/mqtt_client.py) with `manual_ack`.

- Fixed client id and a persistent session (3.1.1: clean session off; 5: no clean start and
  a week of session expiry): what is published while edumon or the broker restarts is queued
  by the broker and delivered afterwards. With 3.1.1 the broker's `max_inflight_messages`
  bounds the unacked window (Mosquitto's default of 20 caps a consumer near 1,000 msg/s;
  edumon's stack sets 1,000); with 5 the consumer announces its own Receive Maximum and
  Maximum Packet Size.
- PUBACK is sent only once the samples a message produced are fsynced in the spool
  (`emit(..., durable=True)`); general clients ack on receipt (aiomqtt: empicano/aiomqtt#345),
  paho's `manual_ack` only when told. A crash before the ack means the broker delivers the
  message again: at least once, and points carry their own timestamps.
- Messages are persisted in batches (gateway/mqtt_batch.py: closed after 0.1 s, 25 ms of
  quiet, or when full), one emit and one fsync each. While one batch is being made durable
  the next one accumulates, so acks never serialise on the fsync; at `max_batch` messages
  waiting the socket is not read until the batch is taken (TCP holds the broker back).
- Reconnects forever with exponential backoff and resubscribes each time; the backoff is
  reset only by a session that stayed up for HEALTHY_S (a broker that accepts and then fails
  every session is not retried twice a second), and health is not "ok" meanwhile.
- Reports to its health object: connected (or why not: refused login, unreachable, frozen
  broker, a subscription granted QoS 0, a lost session), the messages, and the handler's
  failures. A connection that stays silent for the stream's `silence_s` while devices are
  expected is presumed dead (a frozen broker keeps the TCP connection open) and is dropped
  once, so a broker that does not answer is noticed in seconds, not after the keepalive.
- A handler that raises is a bug, but the message still ends as a dead letter with the
  exception as its reason, counted, and is acked: never lost silently, never redelivered
  forever. Dead letters are acked like good data, once they are fsynced: while the disk
  refuses them the batch waits unacked (the socket stops being read at `max_batch`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from gateway.collector import CollectorEmit, Totals
from gateway.deadletter import DeadLetterFile
from gateway.intake_health import CollectorHealth
from gateway.mqtt_batch import Batch
from gateway.mqtt_client import ClientOptions, Message, MqttClient, MqttError
from gateway.mqtt_settings import SESSION_EXPIRY_S, MqttSettings
from gateway.mqtt_subscriptions import SESSION_LOST, SubscriptionState, check_connack, subscribe
from gateway.sample import Sample

__all__ = ["MqttConsumer", "MqttSettings"]

log = logging.getLogger(__name__)

# (topic, payload, retained) -> samples; awaited when it returns an awaitable (LoRaWAN: a
# vendor codec decodes in its worker process)
Handler = Callable[[str, bytes, bool], list[Sample] | Awaitable[list[Sample]]]
HEALTHY_S = 60.0  # a session up this long resets the reconnect backoff
SESSION_LOST_SHOWN_S = 300.0  # how long /healthz shows a lost session


@dataclass
class ConsumerStats:
    messages: int = 0
    acked: int = 0
    connects: int = 0
    disconnects: int = 0
    failures: int = 0
    sessions_lost: int = 0
    oversize: int = 0
    stale_unsubscribed: int = 0


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
        self.health = CollectorHealth(name, target=settings.address, stream=True)
        self.subscribed_state = SubscriptionState(settings.state_dir, settings.client_id)
        self._had_session = self.subscribed_state.load() is not None
        self._session_lost_at: float | None = None
        self._subscribed_at: float | None = None
        self._failed_sessions = 0  # in a row, each shorter than HEALTHY_S
        self._last_failure = ""
        self._loop = asyncio.get_running_loop()
        self._batch: Batch | None = None
        self.largest_payload = 0  # bytes, since start (the packet-size bound's `used`)

    def totals(self) -> Totals:
        s = self.stats
        return {
            ("connects", ""): s.connects,
            ("disconnects", ""): s.disconnects,
            ("acked", ""): s.acked,
            ("dead_lettered", "handler_error"): s.failures,
            ("dead_letter_lost", ""): self.dead_letters.lost,
            ("session_lost", ""): s.sessions_lost,
            ("refused", "oversize"): s.oversize,
            ("unsubscribed", "stale"): s.stale_unsubscribed,
        }

    def unacked(self) -> int:
        """Messages received and not yet durable (the batch bound's `used`)."""
        return len(self._batch.waiting) if self._batch is not None else 0

    def session_lost(self) -> bool:
        """The broker lost edumon's session within SESSION_LOST_SHOWN_S (the MqttSessionLost
        rule watches this field of the `collector` sample)."""
        lost_at = self._session_lost_at
        return lost_at is not None and self._loop.time() - lost_at < SESSION_LOST_SHOWN_S

    def problems(self) -> str | None:
        """A lost session, or sessions failing one after another."""
        if self.session_lost():
            return SESSION_LOST
        if self._failed_sessions >= 2 and not self._healthy():
            return (
                f"{self._failed_sessions} sessions in a row failed within {HEALTHY_S:.0f} s "
                f"(last: {self._last_failure}); reconnecting with backoff"
            )
        return None

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
        self.health.add_check("session", self.problems)
        self.health.add_field("session_lost", self.session_lost)
        if intake_totals is not None:
            self.health.add_totals("intake", intake_totals)
        delay = 0.5
        while True:
            self._subscribed_at = None
            try:
                await self._session(emit)
            except (MqttError, SilentBroker) as error:
                was_connected = self.connected.is_set()
                self.connected.clear()
                self.stats.disconnects += 1
                reason = f"MQTT {self.settings.address}: {error}"
                self.health.disconnect(reason)
                if self._healthy():
                    delay, self._failed_sessions = 0.5, 0
                elif was_connected:
                    self._failed_sessions += 1
                    self._last_failure = str(error)
                level = logging.WARNING if was_connected or delay == 0.5 else logging.DEBUG
                log.log(level, "%s: %s; next attempt in %.1f s", self.name, reason, delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.settings.reconnect_max_s)

    def _healthy(self) -> bool:
        started = self._subscribed_at
        return started is not None and self._loop.time() - started >= HEALTHY_S

    def _options(self) -> ClientOptions:
        s = self.settings
        return ClientOptions(
            client_id=s.client_id,
            protocol=s.protocol,
            clean=False,
            session_expiry_s=SESSION_EXPIRY_S,
            username=s.username,
            password=s.password,
            tls=s.tls_context(),
            keepalive_s=s.keepalive_s,
            manual_ack=True,
            receive_maximum=s.max_unacked,
            max_packet_size=s.max_packet_size,
        )

    async def _session(self, emit: CollectorEmit) -> None:
        batch = self._batch = Batch(self.settings.max_batch)
        health = self.health

        def received(message: Message) -> None:
            self.stats.messages += 1
            health.message()
            batch.add(message)
            self.largest_payload = max(self.largest_payload, len(message.payload))

        client = MqttClient(self.settings.host, self.settings.port, self._options(), received)
        batch.client = client
        try:
            connack = await client.connect()
            if check_connack(connack, expected_session=self._had_session):
                self._lost_session()
            stale = await subscribe(client, self.subscribed_state, self.subscriptions)
            self.stats.stale_unsubscribed += len(stale)
            self._had_session = True
            self._subscribed_at = self._loop.time()
            self.stats.connects += 1
            self.connected.set()
            health.connect(f"subscribed at {self.settings.address}")
            log.info("%s: subscribed to %s", self.name, ", ".join(self.subscriptions))
            async with asyncio.TaskGroup() as group:
                group.create_task(self._persist(client, batch, emit))
                group.create_task(self._watch_silence())
                group.create_task(self._closed(client))
        except* (MqttError, SilentBroker) as group_error:
            # unacked messages are redelivered by the broker on the next session
            raise group_error.exceptions[0] from None
        finally:
            if client.oversized:
                self.stats.oversize += 1
            await client.disconnect()

    def _lost_session(self) -> None:
        self.stats.sessions_lost += 1
        self._session_lost_at = self._loop.time()
        log.error("%s: MQTT %s: %s", self.name, self.settings.address, SESSION_LOST)

    @staticmethod
    async def _closed(client: MqttClient) -> None:
        """Returns never: raises MqttError (with the reason) once the connection is gone."""
        await client.closed.wait()
        raise MqttError(client.reason)

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

    async def _persist(self, client: MqttClient, batch: Batch, emit: CollectorEmit) -> None:
        """Take whatever arrived, make it durable with one emit, then ack all of it."""
        while True:
            messages = await batch.take()
            samples: list[Sample] = []
            for message in messages:
                samples += await self._samples(message)
            if samples:
                await emit(samples, collector=self.name, durable=True)
            await self.dead_letters.durable()  # bad messages too: with a full disk, unacked
            for message in messages:
                if message.qos:
                    client.ack(message.mid, message.qos)
            self.stats.acked += len(messages)

    async def _samples(self, message: Message) -> list[Sample]:
        topic = _topic_of(message)
        try:
            samples = self.handler(topic, bytes(message.payload), message.retain)
            return samples if isinstance(samples, list) else await samples
        except Exception as error:  # the handler dead-letters bad input; this is a bug
            self.stats.failures += 1
            if self.stats.failures == 1 or self.stats.failures % 100 == 0:
                log.exception("%s: failed to process a message on %.120r", self.name, topic)
            reason = f"handler_error: {type(error).__name__}: {str(error)[:200]}"
            raw = topic.encode("utf-8", "backslashreplace") + b"\n" + message.payload
            self.dead_letters.add(source=self.name, reason=reason, raw=raw)  # never raises
            return []


def _topic_of(message: Message) -> str:
    """MQTT topics are UTF-8, but not every broker checks: paho's `topic` raises on others,
    and the error carries the topic's bytes."""
    try:
        return message.topic
    except UnicodeDecodeError as error:
        return bytes(error.object).decode("utf-8", "backslashreplace")
