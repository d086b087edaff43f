"""Discovery's polled jobs: one per switch with `discovery: true`, sharing the switch's
transport (and its request counters) with the counter poll, at `snmp.discovery_interval_s`."""

from __future__ import annotations

from collections.abc import Sequence

from collectors.snmp.config import SnmpSettings, Switch
from collectors.snmp.discovery.poe_profile import PoeProfile
from collectors.snmp.discovery.reader import (
    DiscoveryPoller,
    DiscoveryTarget,
    Observe,
    discovery_job,
)
from collectors.snmp.poller import SnmpPoller, SnmpTarget
from gateway.collector import PolledJob, PollSchedule
from gateway.config import EdumonConfig
from gateway.metrics import Metrics


def site_macs(config: EdumonConfig) -> dict[str, frozenset[str]]:
    """Site -> the MACs (`mac:`) of its devices: what its switches look for."""
    return {
        site.id: frozenset(device.mac for device in site.devices if device.mac)
        for site in config.sites
    }


def discovery_jobs(
    config: EdumonConfig,
    counter_jobs: Sequence[PolledJob],
    poller: SnmpPoller,
    observe: Observe,
    metrics: Metrics,
) -> tuple[DiscoveryPoller, list[PolledJob]]:
    settings = config.settings_of("snmp", SnmpSettings)
    enabled = {device.id for _, device in config.devices_of(Switch) if device.discovery}

    def poe_profile_of(device: str) -> PoeProfile | None:
        matched = poller.profile_of(device)
        return matched.profile.poe if matched is not None else None

    macs = site_macs(config)
    discovery = DiscoveryPoller(
        observe,
        poe_profile_of,
        lambda device, field, reason: metrics.refused.labels(device, field, reason).inc(),
    )
    jobs = []
    for job in counter_jobs:
        target: SnmpTarget = job.target
        if target.device not in enabled:
            continue
        interval = settings.discovery_interval_s
        # a round reads up to max_rows rows: as many GETBULKs as that takes, each a timeout
        deadline = min(interval * 0.8, max(job.schedule.timeout_s * 4, 30.0))
        jobs.append(
            PolledJob(
                discovery,
                DiscoveryTarget(
                    target.site,
                    target.device,
                    target.transport,
                    target.max_repetitions,
                    settings.discovery_max_rows,
                    macs.get(target.site, frozenset()),
                ),
                PollSchedule(discovery_job(target.device), interval, deadline),
            )
        )
    return discovery, jobs
