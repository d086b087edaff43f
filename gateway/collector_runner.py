"""Runs the given collector plugins inside the service: opens each wanted plugin, registers the
health component of its polled part and of each of its streams, and hands out one supervised
task per polled collector (gateway/polling.py) and per stream (gateway/streaming.py). On a
config reload it hands each polled collector the jobs of the new config.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Coroutine
from typing import Any

from gateway.cluster.node import ClusterNode
from gateway.collector import (
    Collector,
    CollectorContext,
    CollectorEmit,
    CollectorPlugin,
    Plugins,
    Stream,
)
from gateway.config import EdumonConfig
from gateway.intake_health import CollectorHealth
from gateway.metrics import Metrics
from gateway.polling import PolledTargets
from gateway.streaming import streaming

TaskFactory = Callable[[], Coroutine[Any, Any, None]]
HealthReport = Callable[[], dict[str, Any]]


class CollectorRunner:
    def __init__(
        self,
        plugins: Plugins,
        context: CollectorContext,
        register: Callable[[str, HealthReport], None],
    ) -> None:
        """`register(name, report)` adds a health component to `/healthz`."""
        self.plugins = tuple(plugins)
        self.context = context
        self._register = register
        self.opened: list[tuple[CollectorPlugin, Collector]] = []
        self.healths: dict[str, CollectorHealth] = {}
        self.streams: list[tuple[Stream, CollectorHealth]] = []
        self.polled: dict[str, PolledTargets] = {}  # by plugin name

    def open(self) -> None:
        """Open every wanted plugin (inside the running loop: sockets bind to it) and register
        its parts' health components."""
        config = self.context.config
        self.opened = [
            (plugin, plugin.open(self.context))
            for plugin in self.plugins
            if plugin.is_wanted(config)
        ]
        for plugin, collector in self.opened:
            if collector.polled:
                health = self._component(plugin.name, CollectorHealth(plugin.name))
                if collector.poll_totals is not None:
                    health.add_totals("polls", collector.poll_totals)
                if collector.poll_warning is not None:
                    health.add_warning("polls", collector.poll_warning)
            for stream in collector.streams:
                health = CollectorHealth(
                    plugin.name, target=stream.target, stream=True, silence_s=stream.silence_s
                )
                self.streams.append((stream, self._component(stream.name, health)))

    def _component(self, name: str, health: CollectorHealth) -> CollectorHealth:
        self.healths[name] = health
        self._register(name, health.report)
        return health

    def tasks(
        self, emit: CollectorEmit, metrics: Metrics, cluster: ClusterNode | None
    ) -> list[tuple[str, TaskFactory]]:
        """The service's supervised tasks: one per polled collector and one per stream."""
        tasks: list[tuple[str, TaskFactory]] = []
        for plugin, collector in self.opened:
            if collector.polled:
                health = self.healths[plugin.name]
                targets = PolledTargets(collector, health, emit, metrics, cluster)
                self.polled[plugin.name] = targets
                tasks.append((plugin.name, targets.run))
        for stream, health in self.streams:
            tasks.append((stream.name, streaming(stream, health, emit)))
        return tasks

    def poll_now(self, target: str) -> bool:
        """Poll `target` (a polled job's name: a device's id, or its discovery round's) out of
        its schedule (gateway/poll_now.py bounds and counts it): True when this instance
        will."""
        return any(polled.poll_now(target) for polled in self.polled.values())

    def retarget(self, config: EdumonConfig, changed: Collection[str]) -> list[str]:
        """Poll the targets of `config` from now on (`changed`: ids of devices whose settings
        differ, polled again from scratch); what could not follow, one line each."""
        self.context = dataclasses.replace(self.context, config=config)
        for plugin, collector in self.opened:
            targets = self.polled.get(plugin.name)
            if targets is not None and collector.jobs_for is not None:
                targets.replace(collector.jobs_for(config), changed)
        running = {plugin.name for plugin, _ in self.opened}
        return [
            f"{plugin.name}: its first device needs a restart (the collector is not running)"
            for plugin in self.plugins
            if plugin.name not in running and plugin.is_wanted(config)
        ]

    def close(self) -> None:
        for _, collector in self.opened:
            collector.close()
