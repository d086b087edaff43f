"""The probe collector's plugin: the inventory's probe targets, scheduled by the gateway."""

from __future__ import annotations

from collectors.probes.collector import ProbeCollector, ProbeJob
from collectors.probes.config import ProbeSettings, ProbeTarget
from gateway.collector import Collector, CollectorContext, CollectorPlugin, PolledJob, PollSchedule
from gateway.config import EdumonConfig


def probe_jobs(config: EdumonConfig) -> list[tuple[ProbeJob, PollSchedule]]:
    settings = config.settings_of("probes", ProbeSettings)
    jobs = []
    for site, device in config.devices_of(ProbeTarget):
        interval = device.interval_s or settings.interval_s
        job = ProbeJob(
            site=site.id,
            target=device.id,
            address=device.address,
            methods=tuple(device.methods),
            tcp_port=device.tcp_port,
            dns_name=device.dns_name,
            dns_type=device.dns_type,
            dns_expect=tuple(device.dns_expect),
            burst=device.burst or settings.burst,
            spacing_s=settings.spacing_s,
            timeout_s=device.timeout_s or settings.timeout_s,
        )
        # the whole burst plus the last packet's timeout must fit well inside the interval
        budget = job.burst * job.spacing_s + job.timeout_s + 1.0
        jobs.append((job, PollSchedule(device.id, interval, min(interval * 0.9, budget))))
    return jobs


def open_probes(context: CollectorContext) -> Collector:
    collector = ProbeCollector.open()

    def jobs_for(config: EdumonConfig) -> list[PolledJob]:
        return [PolledJob(collector, job, schedule) for job, schedule in probe_jobs(config)]

    return Collector(
        polled=jobs_for(context.config), close=collector.transport.close, jobs_for=jobs_for
    )


PLUGIN = CollectorPlugin(
    name="probes",
    open=open_probes,
    devices=(ProbeTarget,),
    settings_key="probes",
    settings=ProbeSettings,
    device_tags=(("probe", "target"),),
)
