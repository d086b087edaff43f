"""Probe targets from the inventory, scheduled by the gateway's poll scheduler."""

from __future__ import annotations

import asyncio

from collectors.probes.collector import ProbeCollector, ProbeJob
from gateway.collector import CollectorEmit, PollSchedule, PollScheduler
from gateway.config import EdumonConfig
from gateway.inventory import ProbeTarget
from gateway.metrics import Metrics


def probe_jobs(config: EdumonConfig) -> list[tuple[ProbeJob, PollSchedule]]:
    defaults = config.defaults
    jobs = []
    for site, device in config.devices("probe_target"):
        assert isinstance(device, ProbeTarget)
        interval = device.interval_s or defaults.probe_interval_s
        job = ProbeJob(
            site=site.id,
            target=device.id,
            address=device.address,
            methods=tuple(device.methods),
            tcp_port=device.tcp_port,
            dns_name=device.dns_name,
            dns_type=device.dns_type,
            dns_expect=tuple(device.dns_expect),
            burst=device.burst or defaults.probe_burst,
            spacing_s=defaults.probe_spacing_s,
            timeout_s=device.timeout_s or defaults.probe_timeout_s,
        )
        # the whole burst plus the last packet's timeout must fit well inside the interval
        budget = job.burst * job.spacing_s + job.timeout_s + 1.0
        jobs.append((job, PollSchedule(device.id, interval, min(interval * 0.9, budget))))
    return jobs


async def run_probes(config: EdumonConfig, emit: CollectorEmit, metrics: Metrics) -> None:
    """Probe every target of the inventory on its interval, until cancelled."""
    jobs = probe_jobs(config)
    if not jobs:
        return
    collector = ProbeCollector.open()
    scheduler = PollScheduler(emit, metrics)
    try:
        async with asyncio.TaskGroup() as group:
            for job, schedule in jobs:
                group.create_task(scheduler.run_target(collector, job, schedule))
    finally:
        collector.transport.close()
