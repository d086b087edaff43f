"""One file of the profile format Datadog's network device monitoring defined, which Kentik's
ktranslate and Netdata read too (datadoghq.dev/integrations-core/tutorials/snmp/profile-format).

Only what edumon uses is checked; the format's keys that only matter to those agents
(`MIB`, `provider`, `poll_time_sec`, `description`, traps...) are passed over, so a library
maintained for them loads as it is.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

OID_TEXT = r"^\.?[0-2](\.\d+)+$"  # numeric, a leading dot allowed as the libraries write it
# an OID, a prefix ending in a wildcard, or Kentik's name after net-snmp's OID for a profile
# that `matches` on sysDescr leads to (never matched by itself)
SYSOBJECTID = r"^\.?[0-2](\.\d+)*((\.?\d*\*)|\.[\w-]*[A-Za-z][\w-]*)?$"
MetricType = Literal[
    "gauge", "rate", "monotonic_count", "monotonic_count_and_rate", "percent", "flag_stream"
]


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


def _without_dot(value: str | None) -> str | None:
    return None if value is None else value.removeprefix(".")


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _keys_as_text(value: object) -> object:
    """YAML reads `1: up` with an int key and `true: 1` with a bool one; keys are text."""
    return {_text(k): v for k, v in value.items()} if isinstance(value, dict) else value


def _all_text(value: object) -> object:
    return {_text(k): _text(v) for k, v in value.items()} if isinstance(value, dict) else value


def _none_is_empty(value: object) -> object:
    return [] if value is None else value


class Symbol(Lenient):
    """A value: a scalar (OID ending in .0 by custom, not by rule) or a table's column."""

    oid: str = Field(alias="OID", pattern=OID_TEXT)
    name: str = Field(min_length=1)
    tag: str | None = None  # Kentik: the name the metric is shipped under (CPU, MemoryUsed...)
    scale_factor: float = 1.0
    extract_value: str | None = None  # a regular expression; its first group is the value
    conversion: str | None = None  # Kentik: to_one, regexp:..., hextoip, hwaddr, hextoint...
    condition: str | None = None  # Kentik: rows kept by another column's value
    enum: dict[str, int] = Field(default_factory=dict)  # Kentik: name -> value
    mapping: dict[str, str] = Field(default_factory=dict)  # Datadog: value -> name
    metric_type: MetricType | None = None
    forced_type: MetricType | None = None
    table: str | None = None  # a column of another table (metric_tags only)

    _plain = field_validator("oid")(_without_dot)
    _mapping = field_validator("mapping", mode="before")(_all_text)
    _enum = field_validator("enum", mode="before")(_keys_as_text)


class Table(Lenient):
    oid: str | None = Field(default=None, alias="OID", pattern=OID_TEXT)
    name: str | None = None


class IndexSlice(Lenient):
    start: int = Field(ge=0)
    end: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> IndexSlice:
        if self.end < self.start:
            raise ValueError("end comes before start")
        return self


class MetricTag(Lenient):
    """A tag of a table's rows: a column (of this table, or of `table` through
    `index_transform`), one arc of the index, or a scalar (`symbol`, profile-wide tags)."""

    tag: str | None = None
    column: Symbol | None = None
    index: int | None = Field(default=None, ge=1)
    index_transform: list[IndexSlice] = Field(default_factory=list)
    table: str | None = None
    mapping: dict[str, str] = Field(default_factory=dict)
    symbol: Symbol | str | None = None
    oid: str | None = Field(default=None, alias="OID", pattern=OID_TEXT)
    match: str | None = None  # a regular expression on the value, with `tags` from its groups

    _mapping = field_validator("mapping", mode="before")(_all_text)
    _plain = field_validator("oid")(_without_dot)

    @model_validator(mode="after")
    def _one_source(self) -> MetricTag:
        sources = [k for k in ("column", "index", "symbol", "oid") if getattr(self, k)]
        if not sources:
            raise ValueError("a metric tag needs a column, an index or a symbol")
        return self


class Metric(Lenient):
    """`symbol` (one scalar), `table` + `symbols` (columns), or Kentik's `symbols` without a
    table (scalars); the old form puts a scalar's `OID` and `name` on the metric itself."""

    symbol: Symbol | None = None
    table: Table | None = None
    symbols: list[Symbol] = Field(default_factory=list)
    metric_tags: list[MetricTag] = Field(default_factory=list)
    metric_type: MetricType | None = None
    forced_type: MetricType | None = None
    oid: str | None = Field(default=None, alias="OID", pattern=OID_TEXT)
    name: str | None = None

    _lists = field_validator("symbols", "metric_tags", mode="before")(_none_is_empty)
    _plain = field_validator("oid")(_without_dot)

    @model_validator(mode="after")
    def _one_shape(self) -> Metric:
        if self.symbol is None and not self.symbols and self.oid is None:
            raise ValueError("a metric needs a symbol, symbols or an OID")
        if self.oid is not None and self.name is None:
            raise ValueError("an OID needs a name")
        return self

    def scalars(self) -> list[Symbol]:
        if self.symbol is not None:
            return [self.symbol]
        if self.oid is not None and self.name is not None:
            return [Symbol(OID=self.oid, name=self.name)]
        return [] if self.table is not None else self.symbols

    def columns(self) -> list[Symbol]:
        return self.symbols if self.table is not None and self.symbol is None else []


class Document(Lenient):
    extends: list[str] = Field(default_factory=list)
    sysobjectid: list[str] = Field(default_factory=list)
    metrics: list[Metric] = Field(default_factory=list)
    matches: dict[str, str] = Field(default_factory=dict)  # Kentik: sysDescr regex -> file
    metadata: dict[str, object] = Field(default_factory=dict)

    @field_validator("extends", "sysobjectid", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        if value is None:
            return []
        return [value] if isinstance(value, str) else value

    @field_validator("sysobjectid")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not re.match(SYSOBJECTID, pattern.strip()):
                raise ValueError(f"{pattern!r} is not a sysObjectID or a prefix ending in *")
        return [p.strip().removeprefix(".") for p in value]

    _lists = field_validator("metrics", mode="before")(_none_is_empty)
    _mapping = field_validator("matches", mode="before")(_all_text)
