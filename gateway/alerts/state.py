"""Alert state across restarts: pending and firing alerts keep their `startsAt`, so after a
restart edumon re-sends the same alerts (Alertmanager deduplicates them: no new page), and the
series watched by absence rules are remembered, so a sensor silent across a restart is still
noticed. Written atomically (temp file + rename); a missing or unreadable file means a fresh
start, logged once, never a crash. Its size is bounded by the engine's instance bounds
(gateway.alerts.bounds), which `load` applies to what it reads, too."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from gateway.alerts.bounds import InstanceBounds
from gateway.alerts.engine import AlertEngine, Instance
from gateway.alerts.watch import Watch

log = logging.getLogger(__name__)

VERSION = 1


def save(engine: AlertEngine, path: Path) -> None:
    kept = [
        _dump(instance)
        for instance in engine.instances.values()
        if instance.state != "inactive" or _tracks_absence(engine, instance)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    try:
        with temp.open("w", encoding="utf-8") as file:
            json.dump({"version": VERSION, "instances": kept}, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except OSError:
        temp.unlink(missing_ok=True)  # a half-written copy on a full disk only takes space
        raise


def load(engine: AlertEngine, path: Path, now: float, bounds: InstanceBounds | None = None) -> int:
    """Restore what `save` wrote, within `bounds` (a file from a version without them, or
    with a larger bound, is trimmed); returns how many alerts were restored as firing."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        records = data["instances"] if data.get("version") == VERSION else []
        instances = [_load(record) for record in records]
    except FileNotFoundError:
        return 0
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        log.error("alert state %s unreadable (%s); starting without it", path, error)
        return 0
    for instance in instances:
        rule = engine.rules.get(instance.rule)
        if rule is not None:
            engine.restore(Watch.of(rule).key(instance.labels), instance)
    if bounds is not None and (evicted := engine.trim(bounds)):
        log.warning("alert state %s: %d instances beyond the bound evicted", path, evicted)
    engine.restart_grace(now)
    return sum(1 for i in engine.instances.values() if i.state == "firing")


def _tracks_absence(engine: AlertEngine, instance: Instance) -> bool:
    rule = engine.rules.get(instance.rule)
    return rule is not None and rule.absent is not None


_PERSISTED = ("state", "active", "active_since", "cleared_at", "resolved_at", "last_seen", "value")


def _dump(instance: Instance) -> dict[str, Any]:
    record = {name: getattr(instance, name) for name in _PERSISTED}
    record.update(rule=instance.rule, labels=instance.labels)
    return record


def _load(record: dict[str, Any]) -> Instance:
    labels = record["labels"]
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise ValueError("labels must map names to strings")
    if record["state"] not in ("inactive", "pending", "firing", "resolved"):
        raise ValueError(f"unknown state {record['state']!r}")
    instance = Instance(str(record["rule"]), {str(k): v for k, v in labels.items()})
    for name in _PERSISTED:
        value = record[name]
        if name not in ("state", "active") and value is not None:
            value = float(value)
        setattr(instance, name, value)
    instance.active = bool(record["active"])
    return instance
