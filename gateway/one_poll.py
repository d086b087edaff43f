"""`edumon test`: one poll of each selected polled target (switches, probe targets), printed
to stdout; nothing is written anywhere and no alert is evaluated (Telegraf's `--test`).
With `rounds` > 1, every target is polled that often, `gap_s` apart, and each round printed:
rates (bits per second, errors per second) need a second poll.

Exit 0 when every target answered in the last round, 1 otherwise, with the reason per target on
stderr.
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
    rounds: int = 1,
    gap_s: float = 5.0,
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
    encoder = LineEncoder()
    failed = False
    try:
        for round_ in range(rounds):
            if round_:
                await asyncio.sleep(gap_s)
            results = await asyncio.gather(*(_measure(job, metrics) for job in jobs))
            for sample in (sample for samples, _ in results for sample in samples):
                print(encoder.encode(sample) if output == "line" else _json(sample), file=out)
            failed = any(error is not None for _, error in results)
            for job, (_, error) in zip(jobs, results, strict=True):
                if error is not None:
                    name = job.schedule.target_name  # "sw-1", "sw-1/discovery"
                    said = error.removeprefix(f"{name.split('/')[0]}: ")  # the name once
                    print(f"edumon test: {name}: {said}", file=err)
    finally:
        for collector in opened:
            collector.close()
    return 1 if failed or unknown else 0


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
