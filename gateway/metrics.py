"""edumon's own metrics, on a registry per service instance (so tests never share state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gateway.limits import Bounds


class Metrics:
    """Every counter starts at 0 and exists from start-up, so dashboards and alerts see it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.samples_in = Counter(
            "edumon_samples_in", "Samples handed to the pipeline", ["collector"], registry=r
        )
        self.samples_written = Counter(
            "edumon_samples_written", "Points the database acknowledged", registry=r
        )
        self.samples_spooled = Counter(
            "edumon_samples_spooled", "Points made durable in the spool", registry=r
        )
        self.dead_letters = Counter(
            "edumon_dead_letters", "Records written to a dead-letter file", ["reason"], registry=r
        )
        self.write_failures = Counter(
            "edumon_write_failures",
            "Failed write requests to the database, by outcome",
            ["outcome"],
            registry=r,
        )
        self.write_latency = Histogram(
            "edumon_write_latency_seconds",
            "Duration of one write request to the database",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.spool_bytes = Gauge("edumon_spool_bytes", "Bytes in the spool on disk", registry=r)
        self.spool_points = Gauge(
            "edumon_spool_points", "Points in the spool not yet acknowledged", registry=r
        )
        self.spool_oldest_age = Gauge(
            "edumon_spool_oldest_unsent_age_seconds",
            "Age of the oldest spooled point not yet acknowledged by the database",
            registry=r,
        )
        self.tag_limit_refused = Counter(
            "edumon_tag_limit_refused_points",
            "Points the database refused for its max-values-per-tag (dead-lettered by series)",
            ["measurement", "tag"],
            registry=r,
        )
        self.spool_evicted = Counter(
            "edumon_spool_evicted_points",
            "Points of a source that cannot be held back (polls, traps) dropped because the "
            "spool was at its size limit; acknowledged data is never dropped",
            ["source"],
            registry=r,
        )
        self.queue_samples = Gauge(
            "edumon_pipeline_queue_samples", "Samples waiting in the pipeline queue", registry=r
        )
        self.backpressure = Counter(
            "edumon_pipeline_backpressure_waits",
            "Times a collector waited because the pipeline queue was full",
            registry=r,
        )
        self.collector_errors = Counter(
            "edumon_collector_errors", "Collector errors", ["collector", "target"], registry=r
        )
        self.collector_duration = Histogram(
            "edumon_collector_duration_seconds",
            "Duration of one poll",
            ["collector"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.polls_on_demand = Counter(
            "edumon_polls_on_demand",
            "Polls out of schedule (the topology asks a suspect's neighbour at once, "
            "gateway/poll_now.py): `polled` ran; asks that started none at once: `deferred` "
            "(within the target's window: one poll at its end), `joined` (one is coming), "
            "`in_flight` (a scheduled poll is under way), `not_owner` (another member's)",
            ["collector", "outcome"],
            registry=r,
        )
        self.discarded = Counter(
            "edumon_collector_discarded",
            "Values a collector refused to write (e.g. an impossible counter rate), by reason",
            ["collector", "reason"],
            registry=r,
        )
        self.refused = Counter(
            "edumon_readings_refused",
            "Readings not stored because no device means them (outside the field's plausible"
            " range, gateway/plausible.py), by device, field and reason",
            ["device", "field", "reason"],
            registry=r,
        )
        self.alerts_firing = Gauge("edumon_alerts_firing", "Alerts firing now", registry=r)
        self.bounds = Bounds()  # every sender-growable cache and queue (gateway/limits.py)
        r.register(self.bounds)
        self.samples_in.labels(collector="edumon")
        for outcome in ("retry", "auth", "not_found", "rejected", "too_large"):
            self.write_failures.labels(outcome=outcome)
        for reason in ("encode", "rejected", "too_large"):
            self.dead_letters.labels(reason=reason)

    def value(self, *names: str) -> tuple[float, ...]:
        """Current values of unlabelled samples, named without the `edumon_` prefix."""
        return tuple(self.registry.get_sample_value(f"edumon_{name}") or 0.0 for name in names)
