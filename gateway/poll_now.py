"""Polls out of schedule: the topology asks a suspect's neighbour to be polled now
(gateway/topology/service.py), so a leaf's alert waits for one poll of its switch, not for the
switch's next scheduled poll. The schedule goes on unchanged (the scheduler runs one poll of a
target at a time, so the two never overlap).

A device's Last Will is sender-controlled: a flapping or hostile device must not make its
switch be polled at its rate. Per target:
- asks within `GATHER_S` share one poll (a crash drops several devices' connections at once:
  their Last Wills come a moment apart);
- at most one poll per window, min(interval, 30 s), from the start of the last: an ask within
  it is deferred, and one poll at the window's end serves every ask that came meanwhile;
- an ask while a poll of the target is under way or coming starts none (its answer comes
  after the ask);
- in a cluster only the target's owner polls (the other members learn the answer through etcd).
Every poll run and every ask that started none is counted (`edumon_polls_on_demand_total`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from gateway.cluster.node import ClusterNode
from gateway.collector import PolledJob
from gateway.metrics import Metrics
from gateway.scheduler import PollScheduler

log = logging.getLogger(__name__)

GATHER_S = 0.25
WINDOW_MAX_S = 30.0

Sleep = Callable[[float], Awaitable[None]]


class OnDemandPolls:
    def __init__(
        self,
        scheduler: PollScheduler,
        metrics: Metrics,
        cluster: ClusterNode | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._scheduler = scheduler
        self._metrics = metrics
        self._cluster = cluster
        self._clock = clock
        self._sleep = sleep
        self._coming: dict[str, asyncio.Task[None]] = {}  # target -> its poll, waiting or under way
        self._started: dict[str, float] = {}  # target -> when its last poll out of schedule began

    def ask(self, job: PolledJob) -> bool:
        """Poll `job` out of schedule: True when this instance will (within `GATHER_S`, or at
        the end of the target's window)."""
        name = job.schedule.target_name
        if not self._owned(name):
            outcome = "not_owner"
        elif name in self._coming:
            outcome = "joined"
        elif self._scheduler.polling(name):
            outcome = "in_flight"
        else:
            window = min(job.schedule.interval_s, WINDOW_MAX_S)
            due = self._started.get(name, float("-inf")) + window - self._clock()
            self._start(job, max(GATHER_S, due))
            if due <= GATHER_S:
                return True  # counted as `polled` when it runs
            outcome = "deferred"
        self._count(job, outcome)
        return outcome == "deferred"

    def stop(self, names: Iterable[str]) -> None:
        for name in names:
            task = self._coming.pop(name, None)
            if task is not None:
                task.cancel()

    def forget(self, name: str) -> None:
        self._started.pop(name, None)

    def _owned(self, name: str) -> bool:
        return self._cluster is None or self._cluster.may_poll_now(name)

    def _count(self, job: PolledJob, outcome: str) -> None:
        self._metrics.polls_on_demand.labels(collector=job.collector.name, outcome=outcome).inc()

    def _start(self, job: PolledJob, delay_s: float) -> None:
        name = job.schedule.target_name
        task = asyncio.create_task(self._poll(job, delay_s), name=f"poll-now-{name}")
        self._coming[name] = task
        task.add_done_callback(lambda _: self._ended(name, task))

    async def _poll(self, job: PolledJob, delay_s: float) -> None:
        await self._sleep(delay_s)
        name = job.schedule.target_name
        if not self._owned(name):  # ownership moved while it waited
            self._count(job, "not_owner")
            return
        self._started[name] = self._clock()
        self._count(job, "polled")
        tags = self._cluster.poll_tags if self._cluster is not None else None
        await self._scheduler.poll_once(job.collector, job.target, job.schedule, tags=tags)

    def _ended(self, name: str, task: asyncio.Task[None]) -> None:
        if self._coming.get(name) is task:
            del self._coming[name]
        if not task.cancelled() and task.exception() is not None:
            log.error("polling %s out of schedule failed", name, exc_info=task.exception())
