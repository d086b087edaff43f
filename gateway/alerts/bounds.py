"""A bound on alert instances per rule, so no stream of new label values can grow the engine's
memory or its state file without limit.

When a rule is at `max_per_rule` and a sample needs one more instance, instances are evicted
down to `low_water` in one pass (amortised: one scan per `max_per_rule - low_water` new
series): inactive ones first (the least recently seen), then resolved, then pending. A firing
alert is never evicted (Alertmanager would keep showing it until its endsAt); when nothing
else is left the new series gets no instance and is counted as refused. Evictions and refusals
are counted per rule.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the engine imports this module
    from gateway.alerts.engine import Instance

MAX_PER_RULE = 10_000
RESCAN_EVERY = 100  # while a rule is full of firing alerts, look for room every 100th series
# eviction order: lower first; firing is absent, it is never evicted
_EVICT_ORDER = {"inactive": 0, "resolved": 1, "pending": 2}


class InstanceBounds:
    def __init__(self, max_per_rule: int = MAX_PER_RULE) -> None:
        self.max_per_rule = max_per_rule
        self.low_water = max(1, max_per_rule * 9 // 10)
        self.sizes: Counter[str] = Counter()  # instances per rule, as admitted or counted
        self.evicted: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def admit(self, instances: MutableMapping[Any, Instance], rule: str) -> bool:
        """Call before adding a new instance of `rule`: True once there is room for it."""
        if self.sizes[rule] >= self.max_per_rule and self.refused[rule] % RESCAN_EVERY == 0:
            self.sizes[rule] = sum(1 for i in instances.values() if i.rule == rule)
            self._evict(instances, rule, self.low_water)
        if self.sizes[rule] >= self.max_per_rule:
            # all firing: scanning again for every new series would cost O(n) per sample
            self.refused[rule] += 1
            return False
        self.sizes[rule] += 1
        return True

    def trim(self, instances: MutableMapping[Any, Instance]) -> int:
        """Apply the bound to instances that came from elsewhere (a state file written by an
        older version or with a larger bound); returns how many were evicted."""
        self.sizes = Counter(i.rule for i in instances.values())
        before = sum(self.evicted.values())
        for rule, size in list(self.sizes.items()):
            if size > self.max_per_rule:
                self._evict(instances, rule, self.max_per_rule)
        return sum(self.evicted.values()) - before

    def _evict(self, instances: MutableMapping[Any, Instance], rule: str, keep: int) -> None:
        candidates = sorted(
            (
                (_EVICT_ORDER[i.state], i.last_seen, key)
                for key, i in instances.items()
                if i.rule == rule and i.state in _EVICT_ORDER
            ),
            key=lambda c: (c[0], c[1]),
        )
        excess = self.sizes[rule] - keep
        victims = candidates[: max(0, excess)]
        for _, _, key in victims:
            del instances[key]
        if victims:
            self.sizes[rule] -= len(victims)
            self.evicted[rule] += len(victims)

    def totals(self) -> dict[tuple[str, str], int]:
        """(outcome, rule) -> count, for metrics: evicted and refused instances."""
        counts = {("evicted", rule): n for rule, n in self.evicted.items()}
        return counts | {("refused", rule): n for rule, n in self.refused.items()}
