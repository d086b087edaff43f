"""The scheduler of polled collectors: one task per target, each on its own interval, with a
per-target timeout shorter than the interval, start-up jitter that spreads targets over the
interval, and a concurrency limit. One slow or dead target never delays another. A target is
polled once at a time: a poll asked out of schedule (gateway/poll_now.py) and the
scheduled one never overlap (the next waits), so its counters' base stays in order.

Every poll writes a `collector` sample (duration_ms, samples, errors), also when it fails, and
reports its outcome to the collector's health object.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from gateway.collector import CollectorEmit, CollectorError, PolledCollector, PollSchedule
from gateway.intake_health import CollectorHealth
from gateway.metrics import Metrics
from gateway.sample import Sample

log = logging.getLogger(__name__)

T = TypeVar("T")


class PollScheduler:
    """Runs `collector.poll(target)` for each target on its own interval, independently."""

    def __init__(
        self,
        emit: CollectorEmit,
        metrics: Metrics,
        health: CollectorHealth,
        *,
        max_concurrent: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._emit = emit
        self._metrics = metrics
        self.health = health
        self._slots = asyncio.Semaphore(max_concurrent)
        self._clock = clock
        self._polling: dict[str, asyncio.Event] = {}  # target -> set when its poll ends

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
        self,
        collector: PolledCollector[T],
        target: T,
        schedule: PollSchedule,
        *,
        at_ns: int | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> list[Sample]:
        """One poll and its `collector` sample (with `tags` added). With `at_ns` every sample
        is stamped at that time, e.g. the poll's slot (gateway/cluster/node.py)."""
        name = schedule.target_name
        while name in self._polling:  # one poll of a target at a time (its rates' base)
            await self._polling[name].wait()
        self._polling[name] = ended = asyncio.Event()
        try:
            samples, error, duration = await self.measure(collector, target, schedule)
        finally:
            del self._polling[name]
            ended.set()
        if at_ns is not None:
            samples = [dataclasses.replace(sample, time_ns=at_ns) for sample in samples]
        self._record_outcome(collector.name, schedule.target_name, error)
        self._metrics.collector_duration.labels(collector=collector.name).observe(duration)
        own = Sample(
            "collector",
            {"collector": collector.name, "target": schedule.target_name, **(tags or {})},
            {"duration_ms": duration * 1000, "samples": len(samples), "errors": int(bool(error))},
            time.time_ns() if at_ns is None else at_ns,
        )
        await self._emit([*samples, own], collector=collector.name)
        return samples

    def polling(self, target_name: str) -> bool:
        """Whether a poll of the target is under way now."""
        return target_name in self._polling

    async def measure(
        self, collector: PolledCollector[T], target: T, schedule: PollSchedule
    ) -> tuple[list[Sample], str | None, float]:
        """One poll within the target's timeout: its samples, its error, its duration (s)."""
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
                log.exception(
                    "%s: unexpected error polling %s", collector.name, schedule.target_name
                )
                error = f"{type(failure).__name__}: {failure}"
        return samples, error, time.perf_counter() - started

    def _record_outcome(self, collector: str, target: str, error: str | None) -> None:
        """Log transitions only: the first failure and the recovery, not every failed poll."""
        was_failing = target in self.health.failing
        self.health.polled(target, error)
        if error is not None:
            self._metrics.collector_errors.labels(collector=collector, target=target).inc()
            if not was_failing:
                log.warning("%s: polling %s failed: %s", collector, target, error)
        elif was_failing:
            log.info("%s: polling %s recovered", collector, target)
