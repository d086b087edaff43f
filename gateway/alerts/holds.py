"""The narrow view of the alert engine that the collector runner and the cluster get: hold and
release the rules behind an intake that is down, and forget the alerts of targets this
instance no longer owns. Only the engine touches its instances."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Protocol

from gateway.alerts.engine import AlertEngine


class AlertHolds(Protocol):
    def hold(self, source: str, measurements: Iterable[str]) -> None:
        """`source` is down: the rules over its measurements neither fire nor count absence."""

    def release(self, source: str, grace_s: float) -> None:
        """`source` is back: its rules resume after `grace_s` with a full window."""

    def forget(self, targets: Collection[str]) -> None:
        """Drop every alert about these targets (their new owner re-derives them)."""


class EngineHolds:
    """AlertHolds on the service's alert engine; `device_labels` are the labels that name a
    target in an alert ("device", "ap", ... as the plugins declare them)."""

    def __init__(self, engine: AlertEngine, device_labels: Sequence[str]) -> None:
        self._engine = engine
        self._labels = tuple(device_labels)

    def hold(self, source: str, measurements: Iterable[str]) -> None:
        self._engine.hold(source, measurements)

    def release(self, source: str, grace_s: float) -> None:
        self._engine.release(source, self._engine.clock() + grace_s)

    def forget(self, targets: Collection[str]) -> None:
        self._engine.forget(self._labels, targets)
