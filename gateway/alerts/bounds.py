"""A bound on alert instances, so no stream of new label values can grow the engine's memory
or its state file without limit.

Instances are counted per rule and device (the rule's `by` label naming the device of its
measurement: `device`, `ap`, ...): a switch gets `max_per_device` (its ports), and a city of
2,000 switches its 100,000 ports, while one device inventing label values is held to its own
share. Rules whose `by` names no device are bounded per rule (`max_per_rule`). Devices are the
inventory's (samples of unknown devices are dead-lettered before they reach the engine).

When a group is full and a sample needs one more instance, instances are evicted down to 90 %
in one pass (amortised: one scan per tenth of the bound of new series): inactive ones first
(the least recently seen), then resolved, then pending. A firing alert is never evicted
(Alertmanager would keep showing it until its endsAt); when nothing else is left the new
series gets no instance and is counted as refused. Evictions and refusals are counted per rule.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the engine imports this module
    from gateway.alerts.engine import Instance

MAX_PER_RULE = 10_000
MAX_PER_DEVICE = 1_000
RESCAN_EVERY = 100  # while a group is full of firing alerts, look for room every 100th series
# eviction order: lower first; firing is absent, it is never evicted
_EVICT_ORDER = {"inactive": 0, "resolved": 1, "pending": 2}

Group = tuple[str, Hashable]  # (rule, device or None)


def no_device(key: Any) -> Hashable:
    return None


class InstanceBounds:
    def __init__(
        self,
        max_per_rule: int = MAX_PER_RULE,
        max_per_device: int = MAX_PER_DEVICE,
        device_of: Callable[[Any], Hashable] = no_device,
    ) -> None:
        """`device_of(key)` names the device of an instance key (None: bounded per rule)."""
        self.max_per_rule = max_per_rule
        self.max_per_device = max_per_device
        self.device_of = device_of
        self.sizes: Counter[Group] = Counter()  # instances per group, as admitted or counted
        self.evicted: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def admit(
        self, instances: MutableMapping[Any, Instance], rule: str, device: Hashable = None
    ) -> bool:
        """Call before adding a new instance of `rule`: True once there is room for it."""
        group, limit = (rule, device), self._limit(device)
        if self.sizes[group] >= limit and self.refused[rule] % RESCAN_EVERY == 0:
            self.sizes[group] = sum(1 for key in instances if self._group(key) == group)
            self._evict(instances, group, max(1, limit * 9 // 10))
        if self.sizes[group] >= limit:
            # all firing: scanning again for every new series would cost O(n) per sample
            self.refused[rule] += 1
            return False
        self.sizes[group] += 1
        return True

    def forget(self, rule: str, device: Hashable = None) -> None:
        """An instance was removed by its owner (its series is healthy again)."""
        self.sizes[rule, device] = max(0, self.sizes[rule, device] - 1)

    def trim(self, instances: MutableMapping[Any, Instance]) -> int:
        """Apply the bound to instances that came from elsewhere (a state file written by an
        older version or with a larger bound); returns how many were evicted."""
        self.sizes = Counter(self._group(key) for key in instances)
        before = sum(self.evicted.values())
        for group, size in list(self.sizes.items()):
            if size > (limit := self._limit(group[1])):
                self._evict(instances, group, limit)
        return sum(self.evicted.values()) - before

    def _limit(self, device: Hashable) -> int:
        return self.max_per_rule if device is None else self.max_per_device

    def _group(self, key: Any) -> Group:
        return key[0], self.device_of(key)

    def _evict(self, instances: MutableMapping[Any, Instance], group: Group, keep: int) -> None:
        candidates = sorted(
            (
                (_EVICT_ORDER[i.state], i.last_seen, key)
                for key, i in instances.items()
                if i.state in _EVICT_ORDER and self._group(key) == group
            ),
            key=lambda c: (c[0], c[1]),
        )
        victims = candidates[: max(0, self.sizes[group] - keep)]
        for _, _, key in victims:
            del instances[key]
        if victims:
            self.sizes[group] -= len(victims)
            self.evicted[group[0]] += len(victims)

    def totals(self) -> dict[tuple[str, str], int]:
        """(outcome, rule) -> count, for metrics: evicted and refused instances."""
        counts = {("evicted", rule): n for rule, n in self.evicted.items()}
        return counts | {("refused", rule): n for rule, n in self.refused.items()}
