"""Reloading the config while edumon runs (SIGHUP or `POST /-/reload`), as Prometheus and
Alertmanager do: the file is read and checked again; a config with a problem is refused with
its file:line and the running one is kept; otherwise the inventory's devices that were added,
removed or changed are polled (or no longer polled) from now on, and the change is logged.
Other sections (the database, listeners, credentials' secrets of running streams) take effect
at the next start, which the log says."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel

from gateway.collector_runner import CollectorRunner
from gateway.config import ConfigError, EdumonConfig

log = logging.getLogger(__name__)

# sections the running service reads once at start
RESTART_SECTIONS = ("service", "influxdb", "alertmanager", "alerts", "spool", "mqtt", "cluster")
UNPOLLED_SECTIONS = frozenset({"sites", "reports", *RESTART_SECTIONS})


class DeviceChanges(NamedTuple):
    added: list[str]
    removed: list[str]
    changed: list[str]

    def describe(self) -> str:
        named = zip(("added", "removed", "changed"), self, strict=True)
        parts = [f"{what} {', '.join(ids)}" for what, ids in named if ids]
        return "; ".join(parts) or "no device changed"


class ReloadOutcome(NamedTuple):
    ok: bool
    message: str  # the change, or the problems one per line (file:line: field: message)


def device_changes(old: EdumonConfig, new: EdumonConfig) -> DeviceChanges:
    """Devices by id (with the site they are in): added, removed, or with other settings; all
    of them changed when the credentials or a collector's section (its intervals) did."""
    before = {device.id: (site.id, device) for site, device in old.devices()}
    after = {device.id: (site.id, device) for site, device in new.devices()}
    polling = set(type(new).model_fields) - UNPOLLED_SECTIONS
    everything = any(_section(old, name) != _section(new, name) for name in polling)
    return DeviceChanges(
        sorted(set(after) - set(before)),
        sorted(set(before) - set(after)),
        sorted(i for i in set(before) & set(after) if everything or before[i] != after[i]),
    )


class ConfigReloader:
    def __init__(
        self,
        path: Path,
        load: Callable[[Path], EdumonConfig],
        config: EdumonConfig,
        collectors: CollectorRunner,
        followers: Sequence[Callable[[EdumonConfig], None]] = (),
    ) -> None:
        """`followers` take the new config too (the status board's and the alerts' sites)."""
        self.path = path
        self._load = load
        self.config = config
        self._collectors = collectors
        self._followers = followers
        self._running: set[asyncio.Task[ReloadOutcome]] = set()  # SIGHUP's, until done
        self.reloads = {"applied": 0, "refused": 0}

    def on_sighup(self, loop: asyncio.AbstractEventLoop) -> None:
        """Reload at each SIGHUP (where the platform has signals)."""

        def reload_now() -> None:
            task = loop.create_task(self.reload(), name="config-reload")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, reload_now)

    async def reload(self) -> ReloadOutcome:
        """Read the file (in a worker thread) and apply it; the running one stays on a problem."""
        try:
            new = await asyncio.to_thread(self._load, self.path)
        except ConfigError as error:
            self.reloads["refused"] += 1
            log.error("config reload refused, the running config is kept:\n%s", error)
            return ReloadOutcome(False, str(error))
        changes = device_changes(self.config, new)
        notes = self._collectors.retarget(new, changes.changed)
        for follow in self._followers:
            follow(new)
        later = [s for s in RESTART_SECTIONS if _section(self.config, s) != _section(new, s)]
        if later:
            notes.append(f"{', '.join(later)}: changed, take effect at the next start")
        self.config = new
        self.reloads["applied"] += 1
        message = "; ".join([f"config reloaded from {self.path}: {changes.describe()}", *notes])
        log.info("%s", message)
        return ReloadOutcome(True, message)

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "detail": f"config {self.path}", **self.reloads}


def _section(config: EdumonConfig, name: str) -> Any:
    value: Any = getattr(config, name, None)
    return value.model_dump() if isinstance(value, BaseModel) else value
