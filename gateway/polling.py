"""The task of one polled collector: each of its targets on the scheduler, or, in a cluster,
only the targets this instance owns, on the cluster's shared grid (gateway/cluster/node.py).
A config reload (gateway/reload.py) replaces the targets while it runs: the removed and
changed ones stop, the added and changed ones start. `poll_now` polls a target out of its
schedule, bounded (gateway/poll_now.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from gateway.cluster.node import ClusterNode
from gateway.collector import Collector, CollectorEmit, PolledJob
from gateway.intake_health import CollectorHealth
from gateway.metrics import Metrics
from gateway.poll_now import OnDemandPolls, Sleep
from gateway.scheduler import PollScheduler


class PolledTargets:
    def __init__(
        self,
        collector: Collector,
        health: CollectorHealth,
        emit: CollectorEmit,
        metrics: Metrics,
        cluster: ClusterNode | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.jobs = {job.schedule.target_name: job for job in collector.polled}
        self.health = health
        self._cluster = cluster
        self._scheduler = PollScheduler(
            emit, metrics, health, max_concurrent=collector.max_concurrent
        )
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._crashed: asyncio.Future[None] | None = None
        self._on_demand = OnDemandPolls(self._scheduler, metrics, cluster, clock, sleep)

    async def run(self) -> None:
        """Poll every target until cancelled; a target's task that crashes ends the run (the
        service's supervisor starts it again)."""
        self._crashed = asyncio.get_running_loop().create_future()
        for name in self.jobs:
            self._start(name)
        try:
            await self._crashed
        finally:
            self._stop([*self.jobs, *self._tasks])
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
            self._on_demand.forget(name)
        # an unchanged target goes on with the job it runs
        self.jobs = {
            name: self.jobs.get(name, job) if name not in stopping else job
            for name, job in new.items()
        }
        if self._crashed is not None:  # running: start what is not polled now
            for name in set(new) - set(self._tasks):
                self._start(name)

    def poll_now(self, name: str) -> bool:
        """Poll target `name` out of its schedule (bounded: gateway/poll_now.py): True when
        this instance will; False when it does not run it, is not running, or will not."""
        job = self.jobs.get(name)
        return job is not None and self._crashed is not None and self._on_demand.ask(job)

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
        names = list(names)
        self._on_demand.stop(names)
        for name in names:
            task = self._tasks.pop(name, None)
            if task is not None:
                task.cancel()

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._crashed is None or self._crashed.done():
            return
        error = task.exception()
        self._crashed.set_exception(error or RuntimeError(f"{task.get_name()} ended"))
