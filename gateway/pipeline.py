"""The bounded queue between collectors and the writer, with backpressure and fan-out.

Collectors `emit` sample lists. Subscribers (the alert engine) see every sample at once, in
`emit`, so alerts never wait for a batch. The queue is bounded by sample count: a full queue
makes `emit` wait (counted), it never drops. The sink (the writer's spool append) only touches
the local disk, so a collector never waits on the database. `emit(..., durable=True)` returns
only once the samples are fsynced, for sources that must ack after persisting (MQTT QoS 1);
such a source can also be held back, so it first waits for `room` in the spool (its cap).

A sink that fails with a storage error (an OSError or SpoolError: a full disk, an I/O error, no
file handles) keeps the batch and retries it until it goes through, while the queue pushes back
on the collectors. Any other exception is a bug: it is logged with its traceback, the batch is
dead-lettered (source `pipeline`, one record per sample) and counted, and the queue moves on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.deadletter import DeadLetterFile
from gateway.log_limit import LogLimit
from gateway.metrics import Metrics
from gateway.sample import Sample
from gateway.storage.spool import SpoolError

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Persists a batch; `held` when a source waits to acknowledge some of it (it must not be
    dropped at the spool's cap), `sources` the samples per collector."""

    async def __call__(
        self, samples: list[Sample], *, held: bool, sources: Mapping[str, int]
    ) -> None: ...


Subscriber = Callable[[Sequence[Sample]], None]


class PipelineClosed(Exception):
    """emit() after the service began shutting down."""


@dataclass
class _Item:
    samples: Sequence[Sample]
    done: asyncio.Future[None] | None
    queued_at: float
    collector: str


class Pipeline:
    def __init__(
        self,
        sink: Sink,
        metrics: Metrics,
        dead_letters: DeadLetterFile,
        *,
        max_queued_samples: int = 200_000,
        batch_size: int = 5000,
        flush_interval_s: float = 1.0,
        sink_retry_s: float = 1.0,
        durable_flush_s: float = 0.005,
        room: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._sink = sink
        # returns once the spool has room (below its pause level): a durable emit waits for it
        # first, so the sources that can hold back (MQTT) pause while the others fill the rest
        self._room = room
        self._metrics = metrics
        self._dead_letters = dead_letters
        self.max_queued_samples = max_queued_samples
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.sink_retry_s = sink_retry_s
        # someone waits for durability (an MQTT ack): flush soon, not after flush_interval_s;
        # MQTT consumers gather their own batches, this lets those that come together share one
        self.durable_flush_s = durable_flush_s
        self._durable_since: float | None = None
        self._items: deque[_Item] = deque()
        self._queued = 0
        self._subscribers: list[Subscriber] = []
        self._changed = asyncio.Event()  # something queued, or queue space freed
        self._closing = False
        self.sink_error: str | None = None
        self._sink_log = LogLimit(60.0)  # a full disk is logged once a minute, not per retry

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    @property
    def queued_samples(self) -> int:
        return self._queued

    async def emit(
        self, samples: Sequence[Sample], *, collector: str, durable: bool = False
    ) -> None:
        if self._closing:
            raise PipelineClosed("edumon is shutting down")
        if not samples:
            return
        if durable and self._room is not None:
            await self._room()
        self._metrics.samples_in.labels(collector=collector).inc(len(samples))
        self._notify(samples)
        while self._queued and self._queued + len(samples) > self.max_queued_samples:
            self._metrics.backpressure.inc()
            self._changed.clear()
            await self._changed.wait()
        done = asyncio.get_running_loop().create_future() if durable else None
        now = time.monotonic()
        if durable and self._durable_since is None:
            self._durable_since = now
        self._items.append(_Item(samples, done, now, collector))
        self._queued += len(samples)
        self._metrics.queue_samples.set(self._queued)
        self._changed.set()
        if done is not None:
            await done

    def _notify(self, samples: Sequence[Sample]) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber(samples)
            except Exception:
                log.exception("pipeline subscriber %r failed; samples still stored", subscriber)

    async def run(self) -> None:
        """Move batches to the sink, by size or by age; returns once closed and drained."""
        while await self._wait_for_batch():
            await self._flush_one_batch()

    async def _wait_for_batch(self) -> bool:
        """Wait until a batch is due; False when closing and nothing is left."""
        while not self._items:
            if self._closing:
                return False
            self._changed.clear()
            await self._changed.wait()
        while self._queued < self.batch_size and not self._closing:
            deadline = self._items[0].queued_at + self.flush_interval_s
            if self._durable_since is not None:
                deadline = min(deadline, self._durable_since + self.durable_flush_s)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._changed.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                break
        return True

    async def _flush_one_batch(self) -> None:
        taken: list[_Item] = []
        count = 0
        while self._items and (count < self.batch_size or not taken):
            item = self._items.popleft()
            taken.append(item)
            count += len(item.samples)
        batch = [sample for item in taken for sample in item.samples]
        held = any(item.done is not None for item in taken)
        sources: Counter[str] = Counter()
        for item in taken:
            sources[item.collector] += len(item.samples)
        self._durable_since = None  # the durable items still queued re-arm it below
        for item in self._items:
            if item.done is not None:
                self._durable_since = item.queued_at
                break
        while True:
            try:
                await self._sink(batch, held=held, sources=sources)
                break
            except (OSError, SpoolError) as error:
                # e.g. disk full: keep the batch, let the queue fill and push back on collectors
                self.sink_error = str(error)
                if (skipped := self._sink_log.take()) is not None:
                    log.error(
                        "cannot persist %d samples (%s); retrying every %g s (%d failures since "
                        "the last report)",
                        len(batch),
                        error,
                        self.sink_retry_s,
                        skipped,
                    )
                await asyncio.sleep(self.sink_retry_s)
            except Exception as error:
                await self._dead_letter(batch, error)
                break
        if self.sink_error is not None:
            log.warning("persisting samples again")
            self.sink_error = None
        self._queued -= count
        self._metrics.queue_samples.set(self._queued)
        self._changed.set()
        for item in taken:
            if item.done is not None and not item.done.done():
                item.done.set_result(None)

    async def _dead_letter(self, batch: list[Sample], error: Exception) -> None:
        """A bug in the sink: retrying the batch would fail the same way for ever. Its durable
        emitters return once the dead letters are on disk (what they acknowledge)."""
        log.exception("storing %d samples failed with a bug; they are dead-lettered", len(batch))
        reason = f"sink_error: {type(error).__name__}: {error}"
        for sample in batch:
            self._dead_letters.add(source="pipeline", reason=reason, raw=repr(sample))
        self._metrics.dead_letters.labels(reason="sink_error").inc(len(batch))
        await self._dead_letters.durable(self.sink_retry_s)

    def close(self) -> None:
        """Refuse new samples; `run` flushes what is queued, then returns."""
        self._closing = True
        self._changed.set()
