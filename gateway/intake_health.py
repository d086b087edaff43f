"""The health object the gateway hands each collector part (a stream or a poller).

A collector reports through it: connected or not (and why), messages as they arrive, outcomes
by reason (accepted, rejected, dead-lettered, duplicate, ...), polls per target. The gateway
reads it for `/healthz` (one component each), `/metrics` (`edumon_collector_*`), `/status`
and the `collector` samples it writes for dashboards and the IntakeDown/CollectorStalled
rules. Counters a collector already keeps can be attached as `totals` sources and are read
when exported, so hot paths pay nothing extra.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from gateway.collector import Totals
from gateway.sample import FieldValue, Sample

Clock = Callable[[], float]


def kind_totals(counts: Mapping[str, int]) -> Totals:
    """An intake's counts by kind as totals: "ok" is accepted, any other kind a rejection."""
    return {
        ("accepted", "") if kind == "ok" else ("rejected", kind): n for kind, n in counts.items()
    }


class CollectorHealth:
    """One component: a stream (`silence_s` set when messages are expected) or a poller."""

    def __init__(
        self,
        collector: str,
        *,
        target: str = "",
        stream: bool = False,
        silence_s: float | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.collector = collector
        self.target = target
        self.stream = stream
        self.silence_s = silence_s
        self.clock = clock
        self.started = clock()
        self.connected: bool | None = None  # streams: None until the first attempt ends
        self.detail = "starting"
        self.since = self.started
        self.last_message: float | None = None
        self.last_success: float | None = None
        self.counts: Counter[tuple[str, str]] = Counter()
        self._sources: dict[str, Callable[[], Totals]] = {}
        self._checks: dict[str, Callable[[], str | None]] = {}
        self._warnings: dict[str, Callable[[], str | None]] = {}
        self._fields: dict[str, Callable[[], FieldValue]] = {}
        self.failing: dict[str, str] = {}  # pollers: target -> last error
        self.polled_targets: set[str] = set()

    # ------------------------------------------------------------- reporting
    def connect(self, detail: str) -> None:
        if self.connected is not True:
            self.since = self.clock()
        self.connected, self.detail = True, detail

    def disconnect(self, detail: str) -> None:
        if self.connected is not False:
            self.since = self.clock()
        self.connected, self.detail = False, detail

    def message(self, count: int = 1) -> None:
        """`count` messages arrived (whatever becomes of them)."""
        self.last_message = self.clock()
        self.counts["received", ""] += count

    def count(self, outcome: str, reason: str = "", n: int = 1) -> None:
        self.counts[outcome, reason] += n
        if outcome == "accepted":
            self.last_success = self.clock()

    def add_totals(self, name: str, source: Callable[[], Totals]) -> None:
        """Counters kept elsewhere (an intake's, a transport's), read when exported; a stream
        restarted by the service replaces its sources by name."""
        self._sources[name] = source

    def add_check(self, name: str, problem: Callable[[], str | None]) -> None:
        """Something else this part needs (e.g. writable dead letters): its problem, if any,
        makes the component `error`."""
        self._checks[name] = problem

    def add_warning(self, name: str, problem: Callable[[], str | None]) -> None:
        """Something that loses or refuses part of the data (a bound reached): its problem,
        if any, makes the component `degraded`."""
        self._warnings[name] = problem

    def add_field(self, name: str, source: Callable[[], FieldValue]) -> None:
        """A field of this part's `collector` sample, read when written (for an alert rule)."""
        self._fields[name] = source

    def problems(self) -> list[str]:
        return [p for check in self._checks.values() if (p := check()) is not None]

    def warnings(self) -> list[str]:
        return [p for check in self._warnings.values() if (p := check()) is not None]

    def forget(self, target: str) -> None:
        """A target no longer in the config (a reload removed it)."""
        self.polled_targets.discard(target)
        self.failing.pop(target, None)

    def polled(self, target: str, error: str | None) -> None:
        self.polled_targets.add(target)
        if error is None:
            self.failing.pop(target, None)
            self.last_success = self.clock()
            self.counts["polled", ""] += 1
        else:
            self.failing[target] = error
            self.counts["failed", error.split(":", 1)[0][:40]] += 1

    # --------------------------------------------------------------- reading
    def totals(self) -> dict[tuple[str, str], int]:
        merged: Counter[tuple[str, str]] = Counter(self.counts)
        for source in self._sources.values():
            merged.update(source())
        return dict(merged)

    def silent_for(self) -> float | None:
        """Seconds without any message while connected and expecting them; None otherwise."""
        if self.silence_s is None or self.connected is not True:
            return None
        quiet = self.clock() - max(self.last_message or 0.0, self.since)
        return quiet if quiet >= self.silence_s else None

    @property
    def up(self) -> bool:
        """Whether data can flow: a stream not known to be disconnected and not silent (one
        still making its first connection counts as up); a poller with some target answering
        (or none polled yet)."""
        if self.stream:
            return self.connected is not False and self.silent_for() is None
        return not self.polled_targets or len(self.failing) < len(self.polled_targets)

    def status(self) -> tuple[str, str]:
        if problems := self.problems():
            return "error", "; ".join(problems)
        status, detail = self._status()
        if status == "ok" and (warnings := self.warnings()):
            return "degraded", "; ".join([detail, *warnings])
        return status, detail

    def _status(self) -> tuple[str, str]:
        if self.stream:
            silent = self.silent_for()
            if self.connected is None:
                return "degraded", self.detail
            if not self.connected:
                return "error", self.detail
            if silent is not None:
                return "error", f"{self.detail}; no message for {silent:.0f} s"
            return "ok", self.detail
        if self.failing and len(self.failing) == len(self.polled_targets):
            return "error", f"all {len(self.failing)} targets failing"
        if self.failing:
            return "degraded", f"{len(self.failing)} of {len(self.polled_targets)} targets failing"
        return "ok", f"{len(self.polled_targets)} targets answering"

    def report(self) -> dict[str, Any]:
        """This component's entry in `/healthz`."""
        status, detail = self.status()
        now = self.clock()
        report: dict[str, Any] = {"status": status, "detail": detail, "since": self.since}
        if self.target:
            report["target"] = self.target
        if self.stream:
            report["connected"] = bool(self.connected)
            report["last_message_age_s"] = (
                None if self.last_message is None else round(now - self.last_message, 1)
            )
        else:
            report["targets"] = len(self.polled_targets)
            report["failing"] = dict(sorted(self.failing.items())[:20])
        report["last_success"] = self.last_success
        report["counts"] = {
            f"{outcome}:{reason}" if reason else outcome: n
            for (outcome, reason), n in sorted(self.totals().items())
        }
        return report

    def sample(self) -> Sample:
        """The `collector` sample of a stream: the IntakeDown rule watches `intake_up`."""
        fields: dict[str, FieldValue] = {
            "intake_up": self.up,
            "connected": bool(self.connected),
            "errors": int(not self.up),
        }
        by_outcome: Counter[str] = Counter()
        for (outcome, _reason), n in self.totals().items():
            by_outcome[outcome] += n
        fields.update({f"{outcome}_total": n for outcome, n in by_outcome.items()})
        fields.update({name: source() for name, source in self._fields.items()})
        if self.last_message is not None:
            fields["last_message_age_s"] = round(self.clock() - self.last_message, 3)
        tags = {"collector": self.collector, "target": self.target or self.collector}
        return Sample("collector", tags, fields, time.time_ns())
