"""The task of one polled collector: each of its targets on the scheduler, or, in a cluster,
only the targets this instance owns, on the cluster's shared grid (gateway/cluster/node.py).
A config reload (gateway/reload.py) replaces the targets while it runs: the removed and
changed ones stop, the added and changed ones start.

`poll_now` polls a target once out of its schedule (the topology asks a suspect's neighbour:
gateway/topology/service.py); its schedule goes on unchanged. A device whose alerts are sender-
controlled (an MQTT Last Will) must not make a switch be polled at its rate: a target gets at
most one such poll per min(interval, 30 s), none while a poll of it is under way, and in a
cluster only from its owner; each ask is counted by outcome."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from gateway.cluster.node import ClusterNode
from gateway.collector import Collector, CollectorEmit, PolledJob
from gateway.intake_health import CollectorHealth
from gateway.metrics import Metrics
from gateway.scheduler import PollScheduler

log = logging.getLogger(__name__)

ON_DEMAND_WINDOW_MAX_S = 30.0  # a target's polls out of schedule: at most one per window


class PolledTargets:
    def __init__(
        self,
        collector: Collector,
        health: CollectorHealth,
        emit: CollectorEmit,
        metrics: Metrics,
        cluster: ClusterNode | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jobs = {job.schedule.target_name: job for job in collector.polled}
        self.health = health
        self._cluster = cluster
        self._scheduler = PollScheduler(
            emit, metrics, health, max_concurrent=collector.max_concurrent
        )
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._crashed: asyncio.Future[None] | None = None
        self._metrics = metrics
        self._clock = clock
        self._on_demand: dict[str, asyncio.Task[object]] = {}
        self._on_demand_at: dict[str, float] = {}  # target -> when it was last polled so

    async def run(self) -> None:
        """Poll every target until cancelled; a target's task that crashes ends the run (the
        service's supervisor starts it again)."""
        self._crashed = asyncio.get_running_loop().create_future()
        for name in self.jobs:
            self._start(name)
        try:
            await self._crashed
        finally:
            self._stop([*self._tasks, *self._on_demand])
            self._crashed = None

    def replace(self, jobs: Iterable[PolledJob], changed: Iterable[str] = ()) -> None:
        """Poll `jobs` from now on: targets no longer there, and those of the `changed`
        devices, stop; new and changed ones start (with their own first-poll jitter)."""
        new = {job.schedule.target_name: job for job in jobs}
        changed = set(changed)
        # a device's other jobs are named "<device>/<part>" (its discovery rounds)
        stopping = set(self.jobs) - set(new)
        stopping |= {name for name in self.jobs if name.partition("/")[0] in changed}
        self._stop(stopping)
        for name in set(self.jobs) - set(new):
            self.health.forget(name)
            self._on_demand_at.pop(name, None)
        # an unchanged target goes on with the job it runs
        self.jobs = {
            name: self.jobs.get(name, job) if name not in stopping else job
            for name, job in new.items()
        }
        if self._crashed is not None:  # running: start what is not polled now
            for name in set(new) - set(self._tasks):
                self._start(name)

    def poll_now(self, name: str) -> bool:
        """Poll target `name` once now, beside its schedule: True when this instance started
        it; False (counted by outcome) when it is not running here, is another member's, is
        being polled already, or was polled so less than min(interval, 30 s) ago."""
        job = self.jobs.get(name)
        if job is None or self._crashed is None:
            return False
        now = self._clock()
        window = min(job.schedule.interval_s, ON_DEMAND_WINDOW_MAX_S)
        if self._cluster is not None and not self._cluster.may_poll_now(name):
            outcome = "not_owner"
        elif self._scheduler.polling(name) or name in self._on_demand:
            outcome = "in_flight"
        elif now - self._on_demand_at.get(name, -window) < window:
            outcome = "too_soon"
        else:
            outcome = "polled"
        self._metrics.polls_on_demand.labels(collector=job.collector.name, outcome=outcome).inc()
        if outcome != "polled":
            return False
        self._on_demand_at[name] = now
        tags = self._cluster.poll_tags if self._cluster is not None else None
        poll = self._scheduler.poll_once(job.collector, job.target, job.schedule, tags=tags)
        task: asyncio.Task[object] = asyncio.create_task(poll, name=f"poll-now-{name}")
        self._on_demand[name] = task
        task.add_done_callback(lambda _: self._on_demand_ended(name, task))
        return True

    def _on_demand_ended(self, name: str, task: asyncio.Task[object]) -> None:
        if self._on_demand.get(name) is task:
            del self._on_demand[name]
        if not task.cancelled() and task.exception() is not None:
            log.error("polling %s out of schedule failed", name, exc_info=task.exception())

    def _start(self, name: str) -> None:
        job = self.jobs[name]
        if self._cluster is None:
            poll = self._scheduler.run_target(job.collector, job.target, job.schedule)
        else:
            poll = self._cluster.run_target(
                self._scheduler, job.collector, job.target, job.schedule
            )
        task = asyncio.create_task(poll, name=f"poll-{name}")
        self._tasks[name] = task
        task.add_done_callback(self._ended)

    def _stop(self, names: Iterable[str]) -> None:
        for name in names:
            for tasks in (self._tasks, self._on_demand):
                task = tasks.pop(name, None)
                if task is not None:
                    task.cancel()

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._crashed is None or self._crashed.done():
            return
        error = task.exception()
        self._crashed.set_exception(error or RuntimeError(f"{task.get_name()} ended"))
