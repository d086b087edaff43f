"""The task of one polled collector: each of its targets on the scheduler, or, in a cluster,
only the targets this instance owns, on the cluster's shared grid (gateway/cluster/node.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from gateway.cluster.node import ClusterNode
from gateway.collector import Collector, CollectorEmit
from gateway.intake_health import CollectorHealth
from gateway.metrics import Metrics
from gateway.scheduler import PollScheduler


def polling(
    collector: Collector,
    health: CollectorHealth,
    emit: CollectorEmit,
    metrics: Metrics,
    cluster: ClusterNode | None,
) -> Callable[[], Coroutine[Any, Any, None]]:
    async def run() -> None:
        scheduler = PollScheduler(emit, metrics, health, max_concurrent=collector.max_concurrent)
        async with asyncio.TaskGroup() as group:
            for job in collector.polled:
                if cluster is None:
                    target = scheduler.run_target(job.collector, job.target, job.schedule)
                else:
                    target = cluster.run_target(scheduler, job.collector, job.target, job.schedule)
                group.create_task(target)

    return run
