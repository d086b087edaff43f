"""A rule prepared for the per-sample path: what it reads of a sample, looked up once.

The engine evaluates every rule that selects a sample's measurement for every sample (a city
sends tens of thousands a second); the rule's pydantic model is the source of truth, a `Watch`
only holds its selector, `by` and condition in the shapes the hot path wants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.alerts import conditions
from gateway.alerts.rules import Rule, Scalar

InstanceKey = tuple[str, tuple[str | None, ...] | tuple[tuple[str, str], ...]]


@dataclass(frozen=True, slots=True)
class Watch:
    rule: Rule
    name: str
    fields: tuple[str, ...]  # the watched fields; of several, the largest value counts
    tag_filters: tuple[tuple[str, frozenset[str]], ...]
    where: tuple[tuple[str, Scalar], ...]
    by: tuple[str, ...] | None
    # absence and rate rules need a quiet series' history: an instance per series
    per_series: bool

    @classmethod
    def of(cls, rule: Rule) -> Watch:
        select = rule.select
        filters = tuple(
            (key, frozenset((wanted,) if isinstance(wanted, str) else wanted))
            for key, wanted in select.tags.items()
        )
        return cls(
            rule=rule,
            name=rule.name,
            fields=select.fields,
            tag_filters=filters,
            where=tuple(select.where.items()),
            by=None if rule.by is None else tuple(rule.by),
            per_series=rule.absent is not None or rule.rate is not None,
        )

    def value(self, fields: Mapping[str, Scalar]) -> Scalar | None:
        """The watched field's value; of several fields (in and out), the largest present."""
        if len(self.fields) == 1:
            return fields.get(self.fields[0])
        values = [fields[name] for name in self.fields if name in fields]
        if len(values) < 2:
            return values[0] if values else None
        numbers = [n for n in map(conditions.numeric, values) if n is not None]
        return max(numbers) if numbers else values[0]

    def matches(self, tags: Mapping[str, str]) -> bool:
        return all(tags.get(key) in allowed for key, allowed in self.tag_filters)

    def excludes(self, fields: Mapping[str, Scalar]) -> bool:
        """Whether a `where` field of this sample has another value than required."""
        return any(key in fields and fields[key] != want for key, want in self.where)

    def key(self, tags: Mapping[str, str]) -> InstanceKey:
        """The rule and its `by` tags' values (all the tags when it has no `by`)."""
        if self.by is not None:
            return self.name, tuple(map(tags.get, self.by))
        return self.name, tuple(sorted(tags.items()))

    def would_hold(self, value: Scalar, fields: Mapping[str, Scalar]) -> bool:
        """Whether a series with no instance yet would leave `inactive` on this sample."""
        if self.where and self.excludes(fields):
            return False
        return conditions.holds(self.rule, value, conditions.numeric(value), firing=False)
