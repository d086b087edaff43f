"""The two collector shapes, and the scheduler that runs polled collectors.

- polled: `async poll(target) -> list[Sample]`; the scheduler runs one task per target, with a
  per-target timeout shorter than the interval, start-up jitter that spreads targets over the
  interval, and a concurrency limit. One slow or dead target never delays another.
- streaming: `async run(emit)`; it reconnects by itself, the service restarts it if it crashes.
Every poll writes a `collector` sample (duration_ms, samples, errors), also when it fails.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from gateway.metrics import Metrics
from gateway.sample import Sample

log = logging.getLogger(__name__)


class CollectorEmit(Protocol):
    """Hands samples to the pipeline on behalf of a named collector (for per-collector counts)."""

    async def __call__(
        self, samples: Sequence[Sample], *, collector: str, durable: bool = False
    ) -> None: ...


TargetT = TypeVar("TargetT", contravariant=True)
T = TypeVar("T")


class CollectorError(Exception):
    """A collector could not get data from one target; the message names the target.

    `samples` are still written (e.g. a device sample with up=0 and the poll duration)."""

    def __init__(self, message: str, samples: Sequence[Sample] = ()) -> None:
        super().__init__(message)
        self.samples = list(samples)


class PolledCollector(Protocol[TargetT]):
    name: str

    async def poll(self, target: TargetT) -> list[Sample]: ...


class StreamingCollector(Protocol):
    name: str

    async def run(self, emit: CollectorEmit) -> None: ...


@dataclass(frozen=True)
class PollSchedule:
    target_name: str
    interval_s: float
    timeout_s: float


class PollScheduler:
    """Runs `collector.poll(target)` for each target on its own interval, independently."""

    def __init__(
        self,
        emit: CollectorEmit,
        metrics: Metrics,
        *,
        max_concurrent: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._emit = emit
        self._metrics = metrics
        self._slots = asyncio.Semaphore(max_concurrent)
        self._clock = clock
        self.failing: dict[tuple[str, str], str] = {}  # (collector, target) -> last error

    async def run_target(
        self, collector: PolledCollector[T], target: T, schedule: PollSchedule
    ) -> None:
        """Poll one target forever; the first poll is jittered across the interval."""
        await asyncio.sleep(random.uniform(0, schedule.interval_s))
        next_due = self._clock()
        while True:
            await self.poll_once(collector, target, schedule)
            next_due += schedule.interval_s
            now = self._clock()
            if next_due < now:  # a poll overran: skip missed slots rather than burst
                next_due = now + schedule.interval_s - (now - next_due) % schedule.interval_s
            await asyncio.sleep(next_due - now)

    async def poll_once(
        self, collector: PolledCollector[T], target: T, schedule: PollSchedule
    ) -> list[Sample]:
        key = (collector.name, schedule.target_name)
        started = time.perf_counter()
        samples: list[Sample] = []
        error: str | None = None
        async with self._slots:
            try:
                async with asyncio.timeout(schedule.timeout_s):
                    samples = await collector.poll(target)
            except TimeoutError:
                error = f"no answer within {schedule.timeout_s:g} s"
            except CollectorError as failure:
                error = str(failure)
                samples = failure.samples
            except Exception as failure:  # a bug in one collector must not stop the others
                log.exception("%s: unexpected error polling %s", *key)
                error = f"{type(failure).__name__}: {failure}"
        duration = time.perf_counter() - started
        self._record_outcome(key, error)
        self._metrics.collector_duration.labels(collector=collector.name).observe(duration)
        own = Sample(
            "collector",
            {"collector": collector.name, "target": schedule.target_name},
            {"duration_ms": duration * 1000, "samples": len(samples), "errors": int(bool(error))},
            time.time_ns(),
        )
        await self._emit([*samples, own], collector=collector.name)
        return samples

    def _record_outcome(self, key: tuple[str, str], error: str | None) -> None:
        """Log transitions only: the first failure and the recovery, not every failed poll."""
        if error is not None:
            self._metrics.collector_errors.labels(collector=key[0], target=key[1]).inc()
            if key not in self.failing:
                log.warning("%s: polling %s failed: %s", key[0], key[1], error)
            self.failing[key] = error
        elif key in self.failing:
            del self.failing[key]
            log.info("%s: polling %s recovered", *key)
