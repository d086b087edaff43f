"""Read what a profile declares from one agent, and turn its device sources into fields.

Scalars (OIDs ending in `.0`) come in one GET; table columns are walked together with
GETBULK (a column that ends early stops being asked for).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from collectors.snmp import ber
from collectors.snmp.client import SnmpTransport, walk_columns
from collectors.snmp.profile_model import Profile, Source
from collectors.snmp.varbind_values import number, text
from gateway.plausible import Refused, cannot_be_negative, refusal
from gateway.sample import FieldValue

Index = tuple[int, ...]
Table = dict[Index, ber.VarBind]
ENTITY = "1.3.6.1.2.1.47.1."
ENT_DESCR = ENTITY + "1.1.1.2"  # entPhysicalDescr
ENT_CONTAINED_IN = ENTITY + "1.1.1.4"  # entPhysicalContainedIn
ENT_NAME = ENTITY + "1.1.1.7"  # entPhysicalName
ENT_CLASS = ENTITY + "1.1.1.5"  # entPhysicalClass: powerSupply(6), fan(7), sensor(8)...
ENT_ALIAS = ENTITY + "3.2.1.2"  # entAliasMappingIdentifier (index: entPhysicalIndex.logical)
# scalars per GET and columns per GETBULK walk: an ecosystem profile may name a hundred, more
# than some agents take in one request (tooBig, or no answer at all)
GET_AT_ONCE = 24
WALK_AT_ONCE = 24
ENTITY_COLUMNS = (ENT_DESCR, ENT_CONTAINED_IN, ENT_CLASS, ENT_NAME, ENT_ALIAS)


@dataclass
class Walked:
    """Everything read for a profile: {OID text: {index: varbind}}; a scalar's index is ()."""

    tables: dict[str, Table] = field(default_factory=dict)

    def column(self, oid: str | None) -> Table:
        return self.tables.get(oid, {}) if oid else {}


def oids_of(profile: Profile) -> tuple[list[str], list[str]]:
    """(scalars, table columns) the profile reads, each once."""
    wanted: list[str] = []
    for sources in profile.device.values():
        wanted += [oid for source in sources if source.sensors is None for oid in source.oids()]
    for sensor in profile.sensors:
        columns = (sensor.type, sensor.scale, sensor.precision, sensor.status)
        wanted += [o for o in columns if o is not None]
        wanted += [sensor.value, *sensor.thresholds.values()]
    wanted += [column.oid for table in profile.optics for column in table.fields.values()]
    for metric in profile.metrics:
        wanted += [metric.oid, *(tag.column for tag in metric.tags if tag.column)]
    wanted += [s.oid for sources in profile.identity.values() for s in sources if s.oid]
    wanted += [table.present.oid for table in profile.optics if table.present]
    if profile.sensors or any(table.index == "entity" for table in profile.optics):
        wanted += ENTITY_COLUMNS
    unique = list(dict.fromkeys(wanted))
    return [o for o in unique if o.endswith(".0")], [o for o in unique if not o.endswith(".0")]


async def read(
    transport: SnmpTransport,
    profile: Profile,
    max_repetitions: int,
    known: dict[str, Table] | None = None,
) -> Walked:
    """Everything the profile declares; columns in `known` (e.g. ENTITY-MIB's, which change
    only with the hardware) are taken from it instead of the agent."""
    walked = Walked(dict(known or {}))
    scalars, columns = oids_of(profile)
    for start in range(0, len(scalars), GET_AT_ONCE):
        some = scalars[start : start + GET_AT_ONCE]
        varbinds = await transport.get([ber.encode_oid(o) for o in some])
        for oid, varbind in zip(some, varbinds, strict=False):
            if varbind.tag not in ber.EXCEPTIONS:
                walked.tables[oid] = {(): varbind}
    encoded = {ber.encode_oid(o): o for o in columns if o not in walked.tables}
    asked = list(encoded)
    for start in range(0, len(asked), WALK_AT_ONCE):
        rows = await walk_columns(transport, asked[start : start + WALK_AT_ONCE], max_repetitions)
        for column, table in rows.items():
            walked.tables[encoded[column]] = table
    return walked


# Raw values agents answer for "no reading" (handled here for every profile; a profile's
# `invalid:` adds its own): a 16-bit register's all-ones, the extremes of 32-bit ones, and -1
# where the field cannot be negative. Text without a number ("N/A", "") is no number at all
# (varbind_values.number); an optical power at or below the -40 dBm floor is no light to
# measure, not a reading; an empty cage is told by a table's presence column.
NO_READING = frozenset({65535.0, 2.0**31 - 1, -(2.0**31), 2.0**32 - 1})
POWER_FLOOR_DBM = -40.0


def reading(raw: float | None, field: str, invalid: Collection[int] = ()) -> float | None:
    """`raw` as read for `field`, or None when it is one of the agents' "no reading"."""
    if raw is None or raw in NO_READING or raw in invalid:
        return None
    if raw == -1 and cannot_be_negative(field):
        return None
    return raw


def aggregate(values: Sequence[float], how: str) -> float | None:
    if not values:
        return None
    if how == "max":
        return max(values)
    if how == "min":
        return min(values)
    if how == "sum":
        return sum(values)
    if how == "first":
        return values[0]
    return sum(values) / len(values)


def device_fields(
    profile: Profile,
    walked: Walked,
    chassis: dict[str, list[tuple[str, float]]],
    refused: list[Refused],
) -> dict[str, FieldValue]:
    """cpu_pct, mem_pct, temp_c...: for each, the first source that yields a value.
    `chassis` is {unit: [(sensor label, value)]} of the sensors that are not a transceiver's.
    A value outside the field's plausible range is left out and added to `refused`."""
    out: dict[str, FieldValue] = {}
    for name, sources in profile.device.items():
        for source in sources:
            value = _value(name, source, walked, chassis, refused)
            if value is not None:
                out[name] = value
                break
    return out


def _value(
    name: str,
    source: Source,
    walked: Walked,
    chassis: dict[str, list[tuple[str, float]]],
    refused: list[Refused],
) -> FieldValue | None:
    if source.sensors is not None:
        values = [v for label, v in chassis.get(source.sensors, []) if _picked(source, label)]
        return _aggregate(name, source, values, refused)
    labels = walked.column(source.label)
    first = source.oid or source.used or source.free
    rows = [i for i in walked.column(first) if _picked(source, labels, i)]
    if source.oid is None:
        percent = _percent(name, source, walked, rows, labels)
        return None if percent is None else _aggregate(name, source, [percent], refused)
    column = walked.column(source.oid)
    values = [
        v
        for i in rows
        if (v := reading(number(column[i], source.value_pattern), name, source.invalid)) is not None
    ]
    if source.ok is not None:
        states = [int(v) for v in values if int(v) not in source.ignore]
        return sum(state not in source.ok for state in states) if states else None
    return _aggregate(name, source, [v * source.scale for v in values], refused)


def _aggregate(
    name: str, source: Source, values: Sequence[float], refused: list[Refused]
) -> float | None:
    """The plausible values aggregated (the implausible ones added to `refused`)."""
    kept = []
    for value in values:
        why = refusal(name, value)
        if why is None:
            kept.append(value)
        else:
            refused.append(why)
    result = aggregate(kept, source.aggregate)
    return None if result is None else round(result, 3)


def _percent(
    name: str, source: Source, walked: Walked, rows: list[Index], labels: Table
) -> float | None:
    """100 * used / total over the picked rows, from two of used, free and total (each row in
    its `units`), less the `used` of the rows `less_pattern` picks."""
    used = total = 0.0
    for index in rows:
        values = {
            part: _in_units(source, walked, getattr(source, part), index, name)
            for part in ("used", "free", "total")
            if getattr(source, part) is not None
        }
        if None in values.values():
            continue
        u, f, t = values.get("used"), values.get("free"), values.get("total")
        used += u if u is not None else (t or 0) - (f or 0)
        total += t if t is not None else (u or 0) + (f or 0)
    if source.less_pattern is not None and source.used is not None:
        less = sum(
            _in_units(source, walked, source.used, index, name) or 0
            for index in walked.column(source.used)
            if re.search(source.less_pattern, text(labels.get(index)))
        )
        # more buffers and cache than RAM in use: this agent's RAM row leaves them out already
        # (AOS-CX: 24 % used, 28 % cached), so nothing is taken off
        used = used - less if less < used else used
    return 100 * max(used, 0) / total if total > 0 else None


def _in_units(source: Source, walked: Walked, column: str, index: Index, name: str) -> float | None:
    value = reading(number(walked.column(column).get(index)), name)
    if value is None or source.units is None:
        return value
    units = number(walked.column(source.units).get(index))
    return None if units is None else value * units


def _picked(source: Source, labels: Table | str, index: Index = ()) -> bool:
    if source.label_pattern is None:
        return True
    label = labels if isinstance(labels, str) else _label(labels.get(index))
    return re.search(source.label_pattern, label) is not None


def _label(varbind: ber.VarBind | None) -> str:
    """A label column's text; an integer one (entPhysicalClass) as its number."""
    if varbind is not None and varbind.tag == ber.INTEGER:
        return str(int(number(varbind) or 0))
    return text(varbind)
