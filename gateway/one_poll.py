"""`edumon test`: one poll of each selected polled target (switches, probe targets), printed
to stdout; nothing is written anywhere and no alert is evaluated (Telegraf's `--test`).

Exit 0 when every target answered, 1 otherwise, with the reason per target on stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Literal, TextIO

from gateway.collector import Collector, CollectorContext, Plugins, PolledJob
from gateway.config import EdumonConfig
from gateway.intake_health import CollectorHealth
from gateway.metrics import Metrics
from gateway.sample import Sample
from gateway.scheduler import PollScheduler
from gateway.storage.lineprotocol import LineEncoder

Format = Literal["line", "json"]


async def poll_once(
    config: EdumonConfig,
    plugins: Plugins,
    devices: Sequence[str] = (),
    *,
    output: Format = "line",
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    metrics = Metrics()
    context = CollectorContext(config, metrics)
    opened: list[Collector] = [
        plugin.open(context) for plugin in plugins if plugin.is_wanted(config)
    ]
    jobs = [
        job
        for collector in opened
        for job in collector.polled
        if not devices or job.schedule.target_name in devices
    ]
    unknown = sorted(set(devices) - {job.schedule.target_name for job in jobs})
    for name in unknown:
        print(f"edumon test: {name}: no polled target of that id in the config", file=err)
    try:
        results = await asyncio.gather(*(_measure(job, metrics) for job in jobs))
    finally:
        for collector in opened:
            collector.close()
    encoder = LineEncoder()
    failed = bool(unknown)
    for job, (samples, error) in zip(jobs, results, strict=True):
        for sample in samples:
            print(encoder.encode(sample) if output == "line" else _json(sample), file=out)
        if error is not None:
            failed = True
            print(f"edumon test: {job.schedule.target_name}: {error}", file=err)
    return 1 if failed else 0


async def _measure(job: PolledJob, metrics: Metrics) -> tuple[list[Sample], str | None]:
    async def nowhere(samples: Sequence[Sample], *, collector: str, durable: bool = False) -> None:
        return None

    scheduler = PollScheduler(nowhere, metrics, CollectorHealth(job.collector.name))
    samples, error, _ = await scheduler.measure(job.collector, job.target, job.schedule)
    return samples, error


def _json(sample: Sample) -> str:
    return json.dumps(
        {
            "measurement": sample.measurement,
            "tags": dict(sample.tags),
            "fields": dict(sample.fields),
            "time_ns": sample.time_ns,
        },
        sort_keys=True,
    )
