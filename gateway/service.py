"""The running service: collectors -> pipeline -> writer/spool -> database, plus health.

Shutdown (SIGTERM/SIGINT) is bounded: collectors stop, everything queued is fsynced into the
spool, in-flight writes get what is left of the 10 s budget, then the process exits. Whatever
did not reach the database is in the spool and is sent after the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway.alerts.holds import EngineHolds
from gateway.alerts.service import Alerting
from gateway.cluster.node import ClusterNode, membership_of
from gateway.collector import CollectorContext, Plugins, device_tags
from gateway.collector_metrics import CollectorTotals
from gateway.collector_runner import CollectorRunner, TaskFactory
from gateway.config import EdumonConfig, load_config
from gateway.deadletter import DeadLetterFile
from gateway.health import HealthServer
from gateway.http_operations import operation_routes
from gateway.http_pages import own_runbooks_url, page_routes
from gateway.metrics import Metrics
from gateway.pipeline import Pipeline
from gateway.reload import ConfigReloader
from gateway.sample import Sample
from gateway.status import StatusBoard
from gateway.storage.influx_http import InfluxHttp, influx_target
from gateway.storage.spool import Spool
from gateway.storage.writer import InfluxWriter, RetryPolicy
from gateway.stream_holds import StreamHolds
from gateway.stream_samples import watch_streams
from gateway.topology.cluster_share import SharedStates
from gateway.topology.service import Topology

log = logging.getLogger(__name__)

SHUTDOWN_BUDGET_S = 7.0  # the process is gone within 10 s of SIGTERM, teardown included
SELF_METRICS_INTERVAL_S = 10.0


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class Service:
    """Owns the pipeline, writer, spool and health server; runs the `plugins`' collectors
    beside them."""

    def __init__(
        self,
        config: EdumonConfig,
        plugins: Plugins,
        *,
        http_listen: str | None = None,
        config_path: Path | None = None,
    ) -> None:
        """With `config_path`, SIGHUP and `POST /-/reload` reload the devices from it."""
        self.config = config
        self.metrics = Metrics()
        state = Path(config.service.state_dir)
        self.spool = Spool(
            state / "spool",
            max_bytes=config.spool.max_bytes,
            segment_bytes=config.spool.segment_bytes,
        )
        self.dead_letters = DeadLetterFile.in_state_dir(state, "writer")
        self.writer = InfluxWriter(
            InfluxHttp(influx_target(config.influxdb)),
            self.spool,
            self.dead_letters,
            self.metrics,
            max_in_flight=config.influxdb.max_in_flight,
            max_post_points=config.influxdb.batch_size,
            retry=RetryPolicy(max_delay_s=config.influxdb.max_retry_delay_s),
            behind_after_s=2 * config.influxdb.flush_interval_s,
        )
        self.pipeline = Pipeline(
            self.writer.accept,
            self.metrics,
            self.dead_letters,
            batch_size=config.influxdb.batch_size,
            flush_interval_s=config.influxdb.flush_interval_s,
            room=self.spool.wait_for_room,
        )
        host, port = split_listen(http_listen or config.service.http_listen)
        self.health = HealthServer(self.metrics, host, port, config.service.http)
        self.health.register("writer", self._writer_health)
        self.health.register("pipeline", self._pipeline_health)
        tags = device_tags(plugins)
        self.cluster: ClusterNode | None = None
        if config.cluster is not None:
            self.cluster = ClusterNode(membership_of(config.cluster))
        fence = self.cluster.may_alert if self.cluster is not None else None
        runbooks = own_runbooks_url(host, port, config.service.http.tls_server_config is not None)
        self.alerting = Alerting(config, self.metrics, tags, fence, runbooks)
        # ahead of the engine: a device's alert is held before the sample that raises it
        self.topology = Topology(config, self.alerting.engine, tags)
        self.pipeline.subscribe(self.topology.observe)
        self.alerting.annotate = self.topology.annotations
        self.health.serve_json("/topology", self.topology.snapshot)
        self.pipeline.subscribe(self.alerting.engine.observe)
        self.health.register("alerts", self.alerting.health)
        self.status = StatusBoard(
            config,
            self.alerting.engine,
            self._components,
            tags,
            self.topology.failed,
            self.alerting.annotations_of,
        )
        self.pipeline.subscribe(self.status.observe)
        self.health.serve_json("/status", self.status.snapshot)
        for path, page in page_routes(config.service.name).items():
            self.health.route(path, page)
        holds = EngineHolds(self.alerting.engine, self.alerting.device_labels)
        self._task_factories: list[tuple[str, TaskFactory]] = []
        self.add_task("alerts", lambda: self.alerting.run(self.emit))
        self.add_task("topology", lambda: self.topology.run(self.emit))
        self.started = asyncio.Event()
        if self.cluster is not None:
            cluster = self.cluster
            self.health.register("cluster", cluster.membership.health)
            self.add_task("cluster", lambda: cluster.run(self.emit, holds))
            share = SharedStates(cluster.membership, self.topology)
            self.add_task("topology-share", share.run)
        context = CollectorContext(config, self.metrics, self.topology.observe_discovery)
        self.collectors = CollectorRunner(plugins, context, self.health.register)
        self.topology.poll_now = self.collectors.poll_now  # a suspect's neighbour, asked at once
        self.metrics.registry.register(CollectorTotals(self.collectors.healths))
        self.reloader: ConfigReloader | None = None
        if config_path is not None:
            self.reloader = ConfigReloader(
                config_path,
                lambda path: load_config(path, plugins),
                config,
                self.collectors,
                (self.status.reconfigure, self.alerting.reconfigure, self.topology.reconfigure),
            )
            self.health.register("config", self.reloader.health)
            pages, actions = operation_routes(self.reloader, self.collectors)
            for path, page in pages.items():
                self.health.route(path, page)
            for path, action in actions.items():
                self.health.route(path, action, post=True)
        stream_holds = StreamHolds(holds, config.alerts.intake_recovery_grace_s)
        self.add_task(
            "collector-health",
            lambda: watch_streams(self.collectors.streams, stream_holds, self.emit),
        )

    def add_task(self, name: str, factory: TaskFactory) -> None:
        """Register a collector (or other) task; it is restarted if it crashes."""
        self._task_factories.append((name, factory))

    async def emit(
        self, samples: Sequence[Sample], *, collector: str = "edumon", durable: bool = False
    ) -> None:
        if self.cluster is not None:  # only what this instance owns
            samples = self.cluster.mine(samples)
        await self.pipeline.emit(samples, collector=collector, durable=durable)

    # ------------------------------------------------------------------ health
    def _components(self) -> dict[str, Any]:
        return dict(self.health.report()["components"])

    def _writer_health(self) -> dict[str, Any]:
        h = self.writer.health
        return {
            "status": h.status,
            "detail": h.detail,
            "since": h.since,
            "last_success": h.last_success,
            "backlog_age_s": round(self.writer.backlog_age_s(), 1),
            "spool_points": self.spool.pending_points,
            "spool_bytes": self.spool.size_bytes,
            "spool_evicted_points": self.spool.stats.evicted_points,
            "dead_letters": self.dead_letters.count,
        }

    def _pipeline_health(self) -> dict[str, Any]:
        error = self.pipeline.sink_error
        if error is None and self.spool.filling:  # the spool's cap: see Pipeline's `room`
            return {
                "status": "degraded",
                "detail": "the spool is at its cap (spool.max_bytes): MQTT intake paused, the "
                "broker keeps the messages; polls and traps that do not fit are dropped",
                "queued_samples": self.pipeline.queued_samples,
            }
        return {
            "status": "error" if error else "ok",
            "detail": error or "accepting samples",
            "queued_samples": self.pipeline.queued_samples,
        }

    def disk_errors(self) -> list[str]:
        """What cannot be written to the state directory now (full disk, I/O errors): the
        spool or its cursor, dead letters, the alert state."""
        errors = [self.spool.disk_error, self.dead_letters.error, self.alerting.save_error]
        errors += [p for health in self.collectors.healths.values() for p in health.problems()]
        return [error for error in errors if error]

    # --------------------------------------------------------------------- run
    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until `stop` is set or SIGTERM/SIGINT arrives, then shut down within 10 s."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        if self.reloader is not None:
            self.reloader.on_sighup(loop)
        self.collectors.open()
        await self.health.start()
        pipeline_task = asyncio.create_task(self.pipeline.run(), name="pipeline")
        writer_task = asyncio.create_task(self.writer.run(), name="writer")
        factories = [
            ("self-metrics", lambda: _self_metrics(self)),
            *self._task_factories,
            *self.collectors.tasks(self.emit, self.metrics, self.cluster),
        ]
        workers = [
            asyncio.create_task(self._supervise(name, factory), name=name)
            for name, factory in factories
        ]
        log.info("edumon running; writing to %s", self.writer.http.target.describe())
        self.started.set()
        try:
            await stop.wait()
        finally:
            await self._shutdown(workers, pipeline_task, writer_task)

    async def _supervise(self, name: str, factory: TaskFactory) -> None:
        delay = 1.0
        while True:
            started = time.monotonic()
            try:
                await factory()
                return
            except Exception:
                log.exception("task %s crashed; restarting in %.0f s", name, delay)
            delay = 1.0 if time.monotonic() - started > 60 else min(delay * 2, 60.0)
            await asyncio.sleep(delay)

    async def _shutdown(
        self,
        workers: list[asyncio.Task[None]],
        pipeline_task: asyncio.Task[None],
        writer_task: asyncio.Task[None],
    ) -> None:
        deadline = time.monotonic() + SHUTDOWN_BUDGET_S - 0.5
        log.info("shutting down: flushing queued samples to the spool and the database")
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self.pipeline.close()
        try:
            async with asyncio.timeout(max(0.1, deadline - time.monotonic() - 2.0)):
                await pipeline_task
        except TimeoutError:
            log.error(
                "shutdown: %d samples could not be spooled in time", self.pipeline.queued_samples
            )
        drained = await self.writer.drain(max(0.0, deadline - time.monotonic()))
        writer_task.cancel()
        await asyncio.gather(writer_task, return_exceptions=True)
        self.collectors.close()
        self.spool.close()
        await self.writer.close()
        await self.health.stop()
        pending = self.spool.pending_points
        if drained:
            log.info("shutdown complete: everything written")
        else:
            log.warning(
                "shutdown complete: %d points stay in the spool for the next start", pending
            )


async def _self_metrics(service: Service) -> None:
    """edumon's own health as `collector` samples, so dashboards and alerts can see it."""
    metrics = service.metrics
    written_before = latency_before = 0.0
    while True:
        await asyncio.sleep(SELF_METRICS_INTERVAL_S)
        written, latency = metrics.value("write_latency_seconds_count", "write_latency_seconds_sum")
        fields: dict[str, float | int | bool | str] = {
            "samples_written": int(metrics.value("samples_written_total")[0]),
            "spool_points": service.spool.pending_points,
            "spool_bytes": service.spool.size_bytes,
            "queued_samples": service.pipeline.queued_samples,
            "dead_letters": service.dead_letters.count,
            "evicted_points": service.spool.stats.evicted_points,
            "errors": int(service.writer.health.status != "ok"),
            "disk_ok": not service.disk_errors(),
        }
        if written > written_before:  # mean latency of the writes since the last report
            fields["write_latency_ms"] = (
                1000 * (latency - latency_before) / (written - written_before)
            )
        written_before, latency_before = written, latency
        sample = Sample(
            "collector", {"collector": "edumon", "target": "writer"}, fields, time.time_ns()
        )
        await service.emit([sample])
