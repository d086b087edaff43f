"""The schema of a device profile (collectors/snmp/profiles/*.yaml): what a device family
answers and how edumon reads it. Every OID is numeric (Debian ships no MIB files).

A profile matches by sysObjectID prefix and/or a sysDescr pattern (both must hold when both
are given), and may extend another one: the child's `device` and `identity` sources replace
the parent's for the same field, its `optics`, `units` and `metrics` add to the parent's, and
`sensors`, `entity` and `interfaces` replace the parent's when given.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from collectors.snmp.discovery.poe_profile import PoeProfile

NUMERIC_OID = r"^[0-2](\.\d+)+$"
DeviceField = Literal[
    "cpu_pct", "mem_pct", "temp_c", "fans_failed", "psus_failed", "sensors_failed"
]
Threshold = Literal["low_alarm", "low_warn", "high_warn", "high_alarm"]
OPTIC_VALUES = ("rx_dbm", "tx_dbm", "temp_c", "bias_ma", "voltage_v")
THRESHOLD_SUFFIXES: tuple[str, ...] = get_args(Threshold)
OPTIC_FIELDS = OPTIC_VALUES + tuple(
    f"{value}_{suffix}" for value in OPTIC_VALUES for suffix in THRESHOLD_SUFFIXES
)
Oid = str
Aggregate = Literal["mean", "max", "min", "sum", "first"]
# the unit a sensor reports, after its scale: what it becomes in an optics series
SensorUnit = Literal["celsius", "volts", "amperes", "watts", "dbm", "other"]
PowerUnit = Literal["dbm", "mw", "w"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from None
    return value


class Match(Strict):
    sysobjectid: list[str] = Field(default_factory=list)
    sysdescr: str | None = None

    @field_validator("sysobjectid")
    @classmethod
    def _numeric(cls, value: list[str]) -> list[str]:
        for prefix in value:
            if not re.match(NUMERIC_OID, prefix):
                raise ValueError(f"{prefix!r} is not a numeric OID")
        return value

    _pattern = field_validator("sysdescr")(_regex)


class Source(Strict):
    """One way to read a device value; exactly one of oid, used, sensors.

    `oid` ending in `.0` is read with GET, any other is walked as a table column; rows may be
    picked by a `label` column matching `label_pattern`. `used` with `free` or `total` gives
    a percentage (so does `free` with `total`). `value_pattern` takes the number out of a
    text value (its first group). `sensors` aggregates the device's non-transceiver sensors
    of that unit (`label_pattern` then applies to the sensor's entPhysicalName or Descr).
    `ok` turns the rows into a count of rows whose value is not in it (fans, PSUs), leaving
    out rows whose value is in `ignore` (not present). `invalid` raw values are no reading
    (besides the conventions every agent's values go through: profile_reader.reading).
    A percentage's rows may be in `units` (hrStorageAllocationUnits) and have the `used` of
    the rows whose label matches `less_pattern` taken off (the buffers and cache that net-snmp
    and every Linux-based network OS count in the RAM's hrStorageUsed).
    """

    oid: Oid | None = Field(default=None, pattern=NUMERIC_OID)
    used: Oid | None = Field(default=None, pattern=NUMERIC_OID)
    free: Oid | None = Field(default=None, pattern=NUMERIC_OID)
    total: Oid | None = Field(default=None, pattern=NUMERIC_OID)
    sensors: SensorUnit | None = None
    label: Oid | None = Field(default=None, pattern=NUMERIC_OID)
    label_pattern: str | None = None
    value_pattern: str | None = None
    scale: float = 1.0
    aggregate: Aggregate = "mean"
    ok: list[int] | None = None
    ignore: list[int] = Field(default_factory=list)
    invalid: list[int] = Field(default_factory=list)  # raw values that mean "no reading"
    units: Oid | None = Field(default=None, pattern=NUMERIC_OID)  # a column multiplying each row
    less_pattern: str | None = None  # rows (by label) whose `used` is not really in use

    _pattern = field_validator("label_pattern", "value_pattern", "less_pattern")(_regex)

    @model_validator(mode="after")
    def _one_kind(self) -> Source:
        ratio = [k for k in ("used", "free", "total") if getattr(self, k) is not None]
        kinds = [k for k in ("oid", "sensors") if getattr(self, k) is not None]
        if len(kinds) + bool(ratio) != 1:
            raise ValueError("give exactly one of oid, sensors, or two of used, free, total")
        if ratio and len(ratio) != 2:
            raise ValueError("a percentage needs two of used, free, total")
        labelled = self.label is not None or self.sensors is not None
        if (self.label is not None and self.label_pattern is None) or (
            self.label_pattern is not None and not labelled
        ):
            raise ValueError("label and label_pattern go together (sensors: label_pattern only)")
        if self.less_pattern is not None and (self.used is None or self.label is None):
            raise ValueError("less_pattern needs used and label")
        return self

    def oids(self) -> list[Oid]:
        columns = (self.oid, self.used, self.free, self.total, self.label, self.units)
        return [o for o in columns if o]


class SensorTable(Strict):
    """A table of typed sensors indexed by entPhysicalIndex (ENTITY-SENSOR-MIB and the vendor
    tables of the same shape). Thresholds are columns in the sensor's raw units."""

    type: Oid = Field(pattern=NUMERIC_OID)
    scale: Oid | None = Field(default=None, pattern=NUMERIC_OID)
    precision: Oid | None = Field(default=None, pattern=NUMERIC_OID)
    value: Oid = Field(pattern=NUMERIC_OID)
    thresholds: dict[Threshold, Oid] = Field(default_factory=dict)
    invalid: list[int] = Field(default_factory=list)  # raw values that mean "no reading"
    status: Oid | None = Field(default=None, pattern=NUMERIC_OID)  # a value only when ok(1)


class OpticColumn(Strict):
    oid: Oid = Field(pattern=NUMERIC_OID)
    scale: float = 1.0
    unit: PowerUnit = "dbm"  # for power columns: what the value is after `scale`
    invalid: list[int] = Field(default_factory=list)  # raw values that mean "no reading"
    lane: int | None = Field(default=None, ge=1)  # a column per lane (DELL-NETWORKING-IF-...)


class Presence(Strict):
    """A column saying whether a module sits in the cage: rows whose value is not in
    `values` are empty cages, whose readings (zeros, floors) mean nothing."""

    oid: Oid = Field(pattern=NUMERIC_OID)
    values: list[int] = Field(min_length=1)


class OpticsTable(Strict):
    """Per-transceiver readings in columns, indexed by ifIndex or entPhysicalIndex; with
    `lanes`, the last index arc is the lane (or each column names its `lane`). With `kinds`,
    each row is one reading and the last index arc says which (e.g. 1 temperature .. 5 rx
    power); `fields` then names the columns `value` and the thresholds (`high_alarm`...).
    With `present`, the rows of empty cages are left out."""

    index: Literal["ifindex", "entity"]
    lanes: bool = False
    kinds: dict[int, Literal["rx_dbm", "tx_dbm", "temp_c", "bias_ma", "voltage_v"]] = Field(
        default_factory=dict
    )
    fields: dict[str, OpticColumn] = Field(min_length=1)
    present: Presence | None = None

    @model_validator(mode="after")
    def _known(self) -> OpticsTable:
        known = ("value", *THRESHOLD_SUFFIXES) if self.kinds else OPTIC_FIELDS
        for name in self.fields:
            if name not in known:
                raise ValueError(f"unknown optics field {name!r} (known: {_known_text(known)})")
        if self.kinds and self.lanes:
            raise ValueError("kinds and lanes do not go together")
        if (self.kinds or self.lanes) and any(c.lane for c in self.fields.values()):
            raise ValueError("a column's lane goes with neither kinds nor lanes")
        return self


def _known_text(known: tuple[str, ...]) -> str:
    if known == OPTIC_FIELDS:
        suffixes = ", ".join(f"_{t}" for t in THRESHOLD_SUFFIXES)
        return f"{', '.join(OPTIC_VALUES)}, each also with {suffixes}"
    return ", ".join(known)


class Entity(Strict):
    """How ENTITY-MIB rows lead to ports: an entity is a port when entAliasMappingTable maps it
    to an ifIndex, or when `port_name` (on entPhysicalName, else entPhysicalDescr) yields an
    ifName or ifDescr. A sensor belongs to the port it is contained in."""

    port_name: str = r"^(.+)$"
    lane: str = r"(?i)\blane\s*(\d+)"
    rx: str = r"(?i)\brx\b|receive"

    _patterns = field_validator("port_name", "lane", "rx")(_regex)


class Interfaces(Strict):
    types: list[int] = Field(min_length=1)  # ifType values kept by default
    include: list[str] = Field(default_factory=list)  # ifName patterns kept whatever ifType

    @field_validator("include")
    @classmethod
    def _regexes(cls, values: list[str]) -> list[str]:
        for value in values:
            _regex(value)
        return values


class MetricTag(Strict):
    """A tag of a `snmp_metric` series: one arc of the row's index (`index`, from 1), or a
    column's value at the row (`column`; at the row's index cut to `index_slices`, each an
    inclusive 0-based (start, end) arc range, when the column is another table's); `mapping`
    renames the values."""

    tag: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")
    column: Oid | None = Field(default=None, pattern=NUMERIC_OID)
    index: int | None = Field(default=None, ge=1)
    index_slices: list[tuple[int, int]] = Field(default_factory=list)
    mapping: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_kind(self) -> MetricTag:
        if (self.column is None) == (self.index is None):
            raise ValueError("give exactly one of column, index")
        return self


class ExtraMetric(Strict):
    """A value beyond the schema, stored in measurement `snmp_metric` (one series per row of a
    column; a scalar's OID ends in `.0`); `mapping` turns a text value into its number."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")
    oid: Oid = Field(pattern=NUMERIC_OID)
    scale: float = 1.0
    value_pattern: str | None = None
    mapping: dict[str, float] = Field(default_factory=dict)
    tags: list[MetricTag] = Field(default_factory=list)

    _pattern = field_validator("value_pattern")(_regex)


IdentityField = Literal["vendor", "model", "serial", "os_version"]


class IdentitySource(Strict):
    """A text about the device for its `device` series: a fixed `value`, or a scalar `oid`'s
    text (the first group of `pattern` when given)."""

    value: str | None = None
    oid: Oid | None = Field(default=None, pattern=NUMERIC_OID)
    pattern: str | None = None

    _pattern = field_validator("pattern")(_regex)

    @model_validator(mode="after")
    def _one_kind(self) -> IdentitySource:
        if (self.value is None) == (self.oid is None):
            raise ValueError("give exactly one of value, oid")
        return self


class Profile(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    extends: str | None = None
    match: Match = Field(default_factory=Match)
    device: dict[DeviceField, list[Source]] = Field(default_factory=dict)
    units: dict[int, SensorUnit] = Field(default_factory=dict)  # sensor type code -> unit
    sensors: list[SensorTable] = Field(default_factory=list)
    optics: list[OpticsTable] = Field(default_factory=list)
    entity: Entity | None = None
    interfaces: Interfaces | None = None
    metrics: list[ExtraMetric] = Field(default_factory=list)  # stored as snmp_metric
    identity: dict[IdentityField, list[IdentitySource]] = Field(default_factory=dict)
    poe: PoeProfile | None = None  # what the vendor adds to POWER-ETHERNET-MIB
    # where the profile came from (set by the loader, never by a file): "shipped", "user"
    # (an edumon profile in snmp.profile_dirs) or "ecosystem" (Datadog/Kentik format), its file
    _origin: str = PrivateAttr(default="shipped")
    _file: str = PrivateAttr(default="")
