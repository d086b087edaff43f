"""Runs the registered collectors inside the service: opens each wanted plugin, schedules its
polled jobs, supervises its streams, and turns their health objects into `/healthz`
components, `/metrics` series and `collector` samples.

While a stream is down (its broker unreachable, its login refused, or silent while devices
are expected) the alert rules of the measurements behind it are held: the outage is one
IntakeDown alert, not an AccessPointDown per access point. When it is back they get a full
window (`alerts.intake_recovery_grace_s`), as after edumon's own restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector as PrometheusCollector

from gateway.collector import Collector, CollectorContext, CollectorPlugin, Stream
from gateway.intake_health import CollectorHealth
from gateway.scheduler import PollScheduler

if TYPE_CHECKING:
    from gateway.service import Service

log = logging.getLogger(__name__)

SAMPLE_INTERVAL_S = 10.0  # a `collector` sample per stream this often, and at every change
WATCH_INTERVAL_S = 1.0

TaskFactory = Callable[["Service"], Coroutine[Any, Any, None]]


def registered_plugins() -> list[CollectorPlugin]:
    from gateway.plugins import PLUGINS

    return list(PLUGINS)


def device_tags() -> dict[str, str]:
    """measurement -> the tag naming its device, as the registered collectors declare."""
    return {m: tag for plugin in registered_plugins() for m, tag in plugin.device_tags}


class CollectorRunner:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.opened: list[tuple[CollectorPlugin, Collector]] = []
        self.healths: dict[str, CollectorHealth] = {}
        self.streams: list[tuple[Stream, CollectorHealth]] = []
        self._down: set[str] = set()

    def open(self) -> None:
        """Open every wanted plugin (inside the running loop: sockets bind to it) and register
        its parts' health components."""
        context = CollectorContext(self.service.config, self.service.metrics)
        self.opened = [
            (plugin, plugin.open(context))
            for plugin in registered_plugins()
            if plugin.is_wanted(self.service.config)
        ]
        for plugin, collector in self.opened:
            if collector.polled:
                health = self._component(plugin.name, CollectorHealth(plugin.name))
                if collector.poll_totals is not None:
                    health.add_totals("polls", collector.poll_totals)
            for stream in collector.streams:
                health = CollectorHealth(
                    plugin.name, target=stream.target, stream=True, silence_s=stream.silence_s
                )
                self.streams.append((stream, self._component(stream.name, health)))

    def _component(self, name: str, health: CollectorHealth) -> CollectorHealth:
        self.healths[name] = health
        self.service.health.register(name, health.report)
        return health

    def tasks(self) -> list[tuple[str, TaskFactory]]:
        """The service's supervised tasks: one per polled collector and one per stream."""
        tasks: list[tuple[str, TaskFactory]] = []
        for plugin, collector in self.opened:
            if collector.polled:
                tasks.append((plugin.name, self._polling(plugin.name, collector)))
        for stream, health in self.streams:
            tasks.append((stream.name, self._streaming(stream, health)))
        return tasks

    def _polling(self, name: str, collector: Collector) -> TaskFactory:
        async def run(service: Service) -> None:
            scheduler = PollScheduler(
                service.emit,
                service.metrics,
                self.healths[name],
                max_concurrent=collector.max_concurrent,
            )
            cluster = service.cluster
            async with asyncio.TaskGroup() as group:
                for job in collector.polled:
                    if cluster is None:
                        polling = scheduler.run_target(job.collector, job.target, job.schedule)
                    else:  # only the targets this instance owns, on the shared grid
                        polling = cluster.run_target(
                            scheduler, job.collector, job.target, job.schedule
                        )
                    group.create_task(polling)

        return run

    def _streaming(self, stream: Stream, health: CollectorHealth) -> TaskFactory:
        async def run(service: Service) -> None:
            try:
                await stream.run(service.emit, health)
            except Exception as error:  # the service restarts it; say why meanwhile
                health.disconnect(f"{type(error).__name__}: {error}")
                raise

        return run

    async def watch(self) -> None:
        """Hold/release alert rules on each stream's up/down change; write `collector` samples
        of the streams every SAMPLE_INTERVAL_S and at once when one changes."""
        last_sample = 0.0
        while True:
            changed = [self._note(stream, health) for stream, health in self.streams]
            now = time.monotonic()
            if any(changed) or now - last_sample >= SAMPLE_INTERVAL_S:
                last_sample = now
                samples = [health.sample() for _, health in self.streams]
                if samples:
                    await self.service.emit(samples, collector="edumon")
            await asyncio.sleep(WATCH_INTERVAL_S)

    def _note(self, stream: Stream, health: CollectorHealth) -> bool:
        """Whether the stream went down or came back since the last look."""
        engine = self.service.alerting.engine
        if not health.up and stream.name not in self._down:
            self._down.add(stream.name)
            log.error("%s is down (%s): its devices' alerts are held", stream.name, health.detail)
            engine.hold(stream.name, stream.measurements)
            return True
        if health.up and stream.name in self._down:
            self._down.discard(stream.name)
            grace = self.service.config.alerts.intake_recovery_grace_s
            log.info("%s is back; its devices' alerts resume in %.0f s", stream.name, grace)
            engine.release(stream.name, engine.clock() + grace)
            return True
        return False

    def close(self) -> None:
        for _, collector in self.opened:
            collector.close()


class CollectorTotals(PrometheusCollector):
    """The health objects as Prometheus series, read at each scrape."""

    def __init__(self, healths: dict[str, CollectorHealth]) -> None:
        self.healths = healths

    def collect(self) -> Iterator[Metric]:
        counts = CounterMetricFamily(
            "edumon_collector_outcomes",
            "Messages, polls and requests of each collector component, by outcome and reason",
            labels=["collector", "component", "outcome", "reason"],
        )
        up = GaugeMetricFamily(
            "edumon_collector_up",
            "1 while data flows (stream connected and not silent; a poller with targets answering)",
            labels=["collector", "component"],
        )
        age = GaugeMetricFamily(
            "edumon_collector_last_message_age_seconds",
            "Seconds since a stream's last message",
            labels=["collector", "component"],
        )
        for component, health in self.healths.items():
            for (outcome, reason), n in sorted(health.totals().items()):
                counts.add_metric([health.collector, component, outcome, reason], n)
            up.add_metric([health.collector, component], float(health.up))
            if health.last_message is not None:
                age.add_metric([health.collector, component], time.time() - health.last_message)
        yield from (counts, up, age)

    def describe(self) -> Iterator[Metric]:
        return iter(())
