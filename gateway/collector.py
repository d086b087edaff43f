"""The collector interface: one plugin object per collector package.

A plugin names its collector, brings its own config models (device kinds for the sites'
inventory, a settings section, a credential kind) and says how it starts: `open(context)`
returns the `Collector` of one running service, whose parts are

- polled jobs: `async poll(target) -> list[Sample]` per target, scheduled by the gateway
  (gateway/scheduler.py) with per-target timeout, jitter and a concurrency limit;
- streams: `async run(emit, health)` for MQTT, traps, LoRaWAN; a stream reconnects by itself
  and reports through the health object it is given (the service restarts it if it crashes).

The gateway knows collectors only through the registry in gateway/plugins.py, which only the
command line imports: it hands the plugin list to the config loader, the service and the runner.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from gateway.inventory import DeviceBase, Section
from gateway.sample import Sample
from gateway.topology.observations import Discovery
from gateway.yaml_lines import Path as KeyPath

if TYPE_CHECKING:
    from gateway.config import EdumonConfig
    from gateway.intake_health import CollectorHealth
    from gateway.metrics import Metrics


class CollectorEmit(Protocol):
    """Hands samples to the pipeline on behalf of a named collector (for per-collector counts)."""

    async def __call__(
        self, samples: Sequence[Sample], *, collector: str, durable: bool = False
    ) -> None: ...


TargetT = TypeVar("TargetT", contravariant=True)


class CollectorError(Exception):
    """A collector could not get data from one target; the message names the target.

    `samples` are still written (e.g. a device sample with up=0 and the poll duration)."""

    def __init__(self, message: str, samples: Sequence[Sample] = ()) -> None:
        super().__init__(message)
        self.samples = list(samples)


class BadInput(Exception):
    """A message that cannot become samples; the text is the dead-letter reason, and `kind`
    (the text before the first colon unless given) is the counter's reason label."""

    def __init__(self, reason: str, kind: str | None = None) -> None:
        super().__init__(reason)
        self.kind = kind or reason.split(":", 1)[0]


class PolledCollector(Protocol[TargetT]):
    name: str

    async def poll(self, target: TargetT) -> list[Sample]: ...


@dataclass(frozen=True)
class PollSchedule:
    target_name: str
    interval_s: float
    timeout_s: float


@dataclass(frozen=True)
class PolledJob:
    """One target of a polled collector, with its schedule."""

    collector: PolledCollector[Any]
    target: Any
    schedule: PollSchedule


StreamRun = Callable[[CollectorEmit, "CollectorHealth"], Awaitable[None]]


@dataclass(frozen=True)
class Stream:
    """A streaming part of a collector; `name` is its health component (e.g. "mqtt"), `target`
    what it reads from (the broker's host:port, the trap socket's address)."""

    name: str
    target: str
    run: StreamRun
    # no message at all for this long, while devices are expected, is an outage
    silence_s: float | None = None
    # the measurements that arrive only through it: while it is down, their alert rules are
    # held (its outage is the one alert), and they get a full window when it is back
    measurements: tuple[str, ...] = ()


Totals = Mapping[tuple[str, str], int]  # (outcome, reason) -> count since start


@dataclass
class Collector:
    """What a plugin opened for one service: polled jobs and/or streams, and a `close`."""

    polled: list[PolledJob] = field(default_factory=list)
    streams: list[Stream] = field(default_factory=list)
    close: Callable[[], None] = lambda: None
    max_concurrent: int = 64  # polls of this collector in flight at once
    # counters the polled part keeps itself (e.g. SNMP requests, retries, timeouts)
    poll_totals: Callable[[], Totals] | None = None
    # a bound the polled part reached (e.g. interfaces per device): its health is `degraded`
    poll_warning: Callable[[], str | None] | None = None
    # the polled jobs of another config (a reload), with what this one opened (its sockets)
    jobs_for: Callable[[EdumonConfig], list[PolledJob]] | None = None


# what a collector saw of the network's shape (one switch's discovery round); the gateway's
# topology model consumes it
Observation = Discovery
ObservationSink = Callable[[Observation], None]


def _no_observer(_observation: Observation) -> None:
    return None


@dataclass(frozen=True)
class CollectorContext:
    """What the gateway gives a plugin when it opens: the whole config (the plugin reads its
    own section and devices), the metrics registry, the service's state directory, and
    `observe`, where it hands observations (not samples) to the gateway's topology model."""

    config: EdumonConfig
    metrics: Metrics
    observe: ObservationSink = _no_observer

    @property
    def state_dir(self) -> Path:
        return Path(self.config.service.state_dir)


RawData = Mapping[str, Any]
ConfigLoader = Callable[[str], "EdumonConfig"]  # a config file's path -> the validated config


def _no_problems(_data: RawData) -> Iterable[tuple[KeyPath, str]]:
    return ()


@dataclass(frozen=True, kw_only=True)
class CollectorPlugin:
    """One collector package's entry in the gateway's registry."""

    name: str  # the collector's name in metrics, health and `collector` samples
    open: Callable[[CollectorContext], Collector]
    devices: tuple[type[DeviceBase], ...] = ()
    settings_key: str | None = None  # its section of the config file ...
    settings: type[Section] | None = None  # ... and that section's model
    credentials: type[Section] | None = None  # a kind of `credentials.<name>` entries
    # (measurement, the tag naming the device) of what it writes, for `/status` and the
    # `alert` points' device tag
    device_tags: tuple[tuple[str, str], ...] = ()
    # keys of its section naming files or directories, taken relative to the config file
    relative_paths: tuple[str, ...] = ()
    # checks across the raw config data (e.g. references between sections), reported with
    # file:line together with the schema's problems
    config_problems: Callable[[RawData], Iterable[tuple[KeyPath, str]]] = _no_problems
    # whether this service runs it; by default when the inventory has one of its devices
    wanted: Callable[[EdumonConfig], bool] | None = None
    # its own `edumon` subcommands; they load the config with the loader they are given
    add_commands: Callable[[argparse._SubParsersAction[Any], ConfigLoader], None] | None = None

    def is_wanted(self, config: EdumonConfig) -> bool:
        if self.wanted is not None:
            return self.wanted(config)
        return any(isinstance(device, self.devices) for _, device in config.devices())


Plugins = Sequence[CollectorPlugin]


def device_tags(plugins: Plugins) -> dict[str, str]:
    """measurement -> the tag naming its device, as the plugins declare."""
    return {m: tag for plugin in plugins for m, tag in plugin.device_tags}


def device_labels(device_tags: Mapping[str, str]) -> tuple[str, ...]:
    """The tags that name a device ("device", "ap", ...), once each, in the plugins' order."""
    return tuple(dict.fromkeys(device_tags.values()))
