"""The MQTT consumer's batch: messages received and not yet durable.

A batch is closed once its oldest message has waited BATCH_WINDOW_S, or earlier once nothing
arrived for PAUSE_S (a broker that sends no more until we ack, its 3.1.1 in-flight limit
reached, is not kept waiting a whole window), or at once when it is full. At `limit` messages
(or MAX_BATCH_BYTES) the client stops reading its socket until the batch is taken: TCP holds
the broker back, QoS 0 messages too, which no in-flight window bounds.
"""

from __future__ import annotations

import asyncio

from gateway.mqtt_client import Message, MqttClient

BATCH_WINDOW_S = 0.1
PAUSE_S = 0.025
MAX_BATCH_BYTES = 16 * 2**20


class Batch:
    """Messages received but not yet acked: at `limit` messages (or MAX_BATCH_BYTES) the
    socket is not read until they are taken."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.client: MqttClient | None = None
        self.waiting: list[Message] = []
        self.size = 0
        self.arrived = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._first_at = self._last_at = 0.0

    def add(self, message: Message) -> None:
        now = self._loop.time()
        if not self.waiting:
            self._first_at = now
            self.arrived.set()
        self._last_at = now
        self.waiting.append(message)
        self.size += len(message.payload)
        if self.client is not None and (
            len(self.waiting) >= self.limit or self.size >= MAX_BATCH_BYTES
        ):
            self.client.pause_reading()

    async def take(self) -> list[Message]:
        """The next batch, once it is closed (see above)."""
        while not self.waiting:
            self.arrived.clear()
            await self.arrived.wait()
        while len(self.waiting) < self.limit:
            closes_at = min(self._first_at + BATCH_WINDOW_S, self._last_at + PAUSE_S)
            if (wait := closes_at - self._loop.time()) <= 0:
                break
            await asyncio.sleep(wait)  # arrivals only move the close later: no wake-up for them
        taken, self.waiting, self.size = self.waiting, [], 0
        if self.client is not None:
            self.client.resume_reading()
        return taken
