"""The alert engine: evaluates rules on every sample as it passes the pipeline, and absence and
durations on a timer. Per alert instance: inactive -> pending (condition holds, waiting `for`)
-> firing -> resolved (the condition stopped holding `keep_firing_for` ago).

The engine only keeps state; `gateway.alerts.sender` tells Alertmanager and
`gateway.alerts.state` persists it, both reading `instances`. Times are the engine's clock
(seconds), injectable so tests run a school day in a moment.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from gateway.alerts import conditions
from gateway.alerts.bounds import MAX_PER_DEVICE, MAX_PER_RULE, InstanceBounds
from gateway.alerts.rules import Rule, Scalar
from gateway.alerts.watch import InstanceKey, Watch
from gateway.sample import Sample

log = logging.getLogger(__name__)

State = Literal["inactive", "pending", "firing", "resolved"]
RESOLVED_KEPT_S = 15 * 60  # resolved alerts are re-sent this long, as Prometheus does


@dataclass(slots=True)
class Instance:
    """One rule applied to one series (the rule's `by` tags)."""

    rule: str
    labels: dict[str, str]
    state: State = "inactive"
    active: bool = False
    active_since: float | None = None  # the condition holds since (pending began)
    cleared_at: float | None = None  # the condition stopped holding while firing
    resolved_at: float | None = None
    last_seen: float = 0.0
    value: float | None = None
    window: conditions.Window | None = None  # a `rate` rule's recent points


@dataclass(frozen=True)
class Transition:
    instance: Instance
    state: State  # "firing" or "resolved"
    at: float


class AlertEngine:
    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        clock: Callable[[], float] = time.time,
        on_transition: Callable[[Transition], None] | None = None,
        max_instances_per_rule: int = MAX_PER_RULE,
        max_instances_per_device: int = MAX_PER_DEVICE,
        device_tags: Mapping[str, str] | None = None,
    ) -> None:
        """`device_tags`: measurement -> the tag naming its device, for the instance bounds."""
        self.rules = {rule.name: rule for rule in rules}
        self._by_measurement: dict[str, list[Watch]] = defaultdict(list)
        for rule in rules:
            self._by_measurement[rule.select.measurement].append(Watch.of(rule))
        self.clock = clock
        self.on_transition = on_transition
        self.instances: dict[InstanceKey, Instance] = {}
        tags = device_tags or {}
        # rule -> where its `by` names the device of its measurement
        self._device_position = {
            r.name: r.by.index(tags[r.select.measurement])
            for r in rules
            if r.by is not None and tags.get(r.select.measurement) in r.by
        }
        self.bounds = InstanceBounds(
            max_instances_per_rule, max_instances_per_device, self._device_of
        )
        self.evaluated: Counter[str] = Counter()  # samples evaluated per rule
        # Rules that need a quiet series' history (when it was last seen, its recent points)
        # keep an instance per series; the others only for series whose condition held, so a
        # city's 100,000 healthy ports cost no instance of InterfaceErrors or UplinkDown.
        self._per_series = {
            watch.name
            for watches in self._by_measurement.values()
            for watch in watches
            if watch.per_series
        }
        # the timer visits only instances that are not inactive, and every instance (absence,
        # holds, restored state) once per sweep
        self._live: set[InstanceKey] = set()
        self._live_per_rule: Counter[str] = Counter()
        windows = [rule.absent / 4 for rule in rules if rule.absent]
        self.sweep_every_s = max(1.0, min([10.0, *windows]))
        self._next_sweep = 0.0
        # source -> (measurements, held until; None while the source is down)
        self._holds: dict[str, tuple[frozenset[str], float | None]] = {}
        self._held: frozenset[str] = frozenset()
        # device -> held until (None while its upstream is down): the topology's shadow
        self._device_holds: dict[Hashable, float | None] = {}

    # ------------------------------------------------------------------ holds
    def hold(self, source: str, measurements: Iterable[str]) -> None:
        """While `source` (an intake) is down, rules over its measurements neither fire nor
        count absence: the outage is the intake's alert, not one per device behind it."""
        self._holds[source] = (frozenset(measurements), None)
        self._update_held(self.clock())

    def release(self, source: str, until: float) -> None:
        """The source is back; its rules stay held until `until`, then start a full window."""
        if source in self._holds:
            self._holds[source] = (self._holds[source][0], until)
        self._update_held(self.clock())

    def _update_held(self, now: float) -> None:
        for source, (_, until) in list(self._holds.items()):
            if until is not None and now >= until:
                del self._holds[source]
        self._held = frozenset().union(*(m for m, _ in self._holds.values()))

    def held(self, measurement: str) -> bool:
        return measurement in self._held

    def hold_device(self, device: str) -> None:
        """The device's alerts neither fire nor count absence (it is shadowed behind a
        failed element of the topology, or not yet known not to be)."""
        self._device_holds[device] = None

    def release_device(self, device: str, until: float) -> None:
        """The device's alerts resume at `until` (now: at once), with a full window."""
        if device in self._device_holds:
            self._device_holds[device] = until
            self._prune_device_holds(self.clock())

    def held_devices(self) -> dict[Hashable, float | None]:
        return dict(self._device_holds)

    def _prune_device_holds(self, now: float) -> None:
        for device, until in list(self._device_holds.items()):
            if until is not None and now >= until:
                del self._device_holds[device]

    def _is_held(self, rule: Rule, key: InstanceKey) -> bool:
        if rule.select.measurement in self._held:
            return True
        return bool(self._device_holds) and self._device_of(key) in self._device_holds

    # ----------------------------------------------------------------- samples
    def observe(self, samples: Iterable[Sample]) -> None:
        """The pipeline subscriber: evaluate every rule that selects these samples."""
        now = self.clock()
        for sample in samples:
            tags, fields = sample.tags, sample.fields
            for watch in self._by_measurement.get(sample.measurement, ()):
                value = watch.value(fields)
                if value is None or not watch.matches(tags):
                    continue
                self.evaluated[watch.name] += 1
                # a healthy series of a rule that keeps no history needs no instance, and
                # with no live alert of the rule there is none to clear either
                healthy = not watch.per_series and not watch.would_hold(value, fields)
                if healthy and not self._live_per_rule[watch.name]:
                    continue
                key = watch.key(tags)
                instance = self.instances.get(key)
                if instance is None:
                    if healthy:
                        continue
                    instance = self._new_instance(watch.rule, key, tags)
                    if instance is None:  # the rule is full of firing alerts: counted in bounds
                        continue
                instance.last_seen = now
                rule = watch.rule
                # absence is decided by the timer; a `where` that fails (a port shut down on
                # purpose) clears the condition
                if rule.absent is not None or watch.excludes(fields):
                    self._step(rule, instance, False, now, key)
                else:
                    self._evaluate(rule, instance, value, sample.time_ns / 1e9, now, key)
                if instance.state != "inactive":
                    self._mark_live(key)

    def _new_instance(
        self, rule: Rule, key: InstanceKey, tags: Mapping[str, str]
    ) -> Instance | None:
        if not self.bounds.admit(self.instances, rule.name, self._device_of(key)):
            return None
        names = rule.by if rule.by is not None else tags
        labels = {name: tags[name] for name in names if name in tags}
        instance = self.instances[key] = Instance(rule.name, labels)
        return instance

    def _evaluate(
        self,
        rule: Rule,
        instance: Instance,
        value: Scalar,
        at_s: float,
        now: float,
        key: InstanceKey,
    ) -> None:
        number = conditions.numeric(value)
        holds = conditions.holds(rule, value, number, instance.state == "firing")
        if rule.equals is not None or rule.threshold is not None:
            instance.value = number
        if rule.rate is not None:
            if instance.window is None:
                instance.window = deque()
            per_s = (
                None
                if number is None
                else conditions.rate_per_s(rule.rate, instance.window, at_s, number)
            )
            holds = holds and conditions.rate_holds(rule.rate, per_s)
            if holds:
                instance.value = per_s
        self._step(rule, instance, holds, now, key)
        if rule.event and holds:
            self._step(rule, instance, False, now, key)  # a happening, not a state: clear at once

    # ------------------------------------------------------------------- timer
    def tick(self) -> None:
        """Absence, `for` and `keep_firing_for` are decided here, without any new sample."""
        now = self.clock()
        self._update_held(now)
        self._prune_device_holds(now)
        if now >= self._next_sweep:
            self._next_sweep = now + self.sweep_every_s
            keys = list(self.instances)
        else:
            keys = list(self._live)
        for key in keys:
            instance = self.instances.get(key)
            rule = self.rules.get(instance.rule) if instance is not None else None
            if instance is None or rule is None:  # evicted, or its rule left the file
                self.instances.pop(key, None)
                self._unmark_live(key)
                continue
            if self._is_held(rule, key):
                instance.last_seen = max(instance.last_seen, now)  # a full window afterwards
            if rule.absent is not None:
                self._step(rule, instance, now - instance.last_seen >= rule.absent, now, key)
            elif instance.state != "inactive":  # an inactive one waits for its next sample
                self._step(rule, instance, instance.active, now, key)
            resolved_at = instance.resolved_at
            if instance.state == "resolved" and resolved_at and now - resolved_at > RESOLVED_KEPT_S:
                instance.state, instance.resolved_at = "inactive", None
            if instance.state == "inactive":
                self._unmark_live(key)
                if rule.name not in self._per_series:  # healthy again: nothing to remember
                    del self.instances[key]
                    self.bounds.forget(rule.name, self._device_of(key))
            else:
                self._mark_live(key)

    def _mark_live(self, key: InstanceKey) -> None:
        if key not in self._live:
            self._live.add(key)
            self._live_per_rule[key[0]] += 1

    def _unmark_live(self, key: InstanceKey) -> None:
        if key in self._live:
            self._live.discard(key)
            self._live_per_rule[key[0]] -= 1

    def _step(
        self, rule: Rule, instance: Instance, holds: bool, now: float, key: InstanceKey
    ) -> None:
        instance.active = holds
        if holds:
            instance.cleared_at = None
            if instance.state in ("inactive", "resolved"):
                instance.state, instance.active_since = "pending", now
            if instance.state == "pending" and self._is_held(rule, key):
                instance.active_since = now  # `for` counts from the end of the hold
                return
            if instance.state == "pending" and now - (instance.active_since or now) >= rule.for_:
                self._transition(instance, "firing", now)
            return
        if instance.state == "pending":
            instance.state, instance.active_since = "inactive", None
        elif instance.state == "firing":
            if instance.cleared_at is None:
                instance.cleared_at = now
            if now - instance.cleared_at >= rule.keep_firing_for:
                instance.resolved_at = now
                self._transition(instance, "resolved", now)

    def _transition(self, instance: Instance, state: State, now: float) -> None:
        instance.state = state
        rule = self.rules[instance.rule]
        log.info("alert %s %s %s", rule.name, state, instance.labels)
        if state == "resolved":  # active_since stays: it is the resolved alert's startsAt
            instance.cleared_at = None
        if self.on_transition is not None:
            self.on_transition(Transition(instance, state, now))

    # ------------------------------------------------------------------ reading
    @property
    def evaluations(self) -> int:
        return sum(self.evaluated.values())

    def firing(self) -> list[Instance]:
        return [i for i in self._live_instances() if i.state == "firing"]

    def to_send(self) -> list[Instance]:
        """What Alertmanager must hear now: every firing alert and the recently resolved."""
        return [i for i in self._live_instances() if i.state in ("firing", "resolved")]

    def _device_of(self, key: InstanceKey) -> Hashable:
        position = self._device_position.get(key[0])
        return None if position is None else key[1][position]

    def _live_instances(self) -> list[Instance]:
        return [i for key in self._live if (i := self.instances.get(key)) is not None]

    def restore(self, key: InstanceKey, instance: Instance) -> None:
        """An instance read back from the state file."""
        self.instances[key] = instance
        if instance.state != "inactive":
            self._mark_live(key)

    def forget(self, labels: Sequence[str], values: Collection[str]) -> int:
        """Remove every instance whose `labels` name one of `values` (e.g. targets another
        cluster member now owns), with its bound's count and its place among the live ones;
        returns how many were removed."""
        gone = [
            key
            for key, instance in self.instances.items()
            if any(instance.labels.get(label) in values for label in labels)
        ]
        for key in gone:
            del self.instances[key]
            self._unmark_live(key)
            self.bounds.forget(key[0], self._device_of(key))
        return len(gone)

    def trim(self, bounds: InstanceBounds | None = None) -> int:
        """Apply `bounds` (default the engine's own) to the instances as they are, e.g. restored
        from a state file written with a larger bound; keeps the live set true and returns how
        many were evicted."""
        evicted = (bounds or self.bounds).trim(self.instances)
        for key in [key for key in self._live if key not in self.instances]:
            self._unmark_live(key)
        return evicted

    def restart_grace(self, now: float) -> None:
        """After a restart, every series gets a full absence window again (edumon being down
        is not the sensors being silent); alerts that were firing stay firing."""
        for instance in self.instances.values():
            instance.last_seen = max(instance.last_seen, now)
