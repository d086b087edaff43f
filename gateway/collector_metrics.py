"""The collectors' health objects as Prometheus series, read at each scrape."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector as PrometheusCollector

from gateway.intake_health import CollectorHealth


class CollectorTotals(PrometheusCollector):
    def __init__(self, healths: Mapping[str, CollectorHealth]) -> None:
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
