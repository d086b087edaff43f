"""Sensors and transceivers: which sensor belongs to which port (ENTITY-MIB), values in
the units the schema stores, and one optics series per transceiver port (per lane when the
transceiver has several). A sensor that no port contains (fans, PSUs, chassis) is never an
optic; it goes to the device's values instead."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from collectors.snmp import ber
from collectors.snmp.profile_model import Entity, OpticsTable, Profile, SensorTable
from collectors.snmp.profile_reader import (
    ENT_ALIAS,
    ENT_CONTAINED_IN,
    ENT_DESCR,
    ENT_NAME,
    POWER_FLOOR_DBM,
    Walked,
    reading,
)
from collectors.snmp.varbind_values import number, text
from gateway.sample import FieldValue

IF_INDEX_PREFIX = (1, 3, 6, 1, 2, 1, 2, 2, 1, 1)  # ifIndex, the target of entAliasMapping
# EntitySensorDataScale (also CISCO-ENTITY-SENSOR-MIB's): code -> power of ten
SCALE_EXPONENT = {
    code: exponent
    for code, exponent in zip(
        range(1, 18),
        (-24, -21, -18, -15, -12, -9, -6, -3, 0, 3, 6, 9, 12, 15, 18, 21, 24),
        strict=True,
    )
}
POWER_FIELDS = ("rx_dbm", "tx_dbm")
UNIT_FIELD = {"celsius": "temp_c", "volts": "voltage_v", "amperes": "bias_ma"}
Port = tuple[int, int | None]  # ifIndex, lane


@dataclass(frozen=True)
class SensorReadings:
    optics: dict[Port, dict[str, FieldValue]]
    chassis: dict[str, list[tuple[str, float]]]  # unit -> [(label, value)]


def read_sensors(profile: Profile, walked: Walked, port_names: Mapping[str, int]) -> SensorReadings:
    """`port_names`: every ifName and ifDescr of the device -> its ifIndex."""
    entity = profile.entity or Entity()
    tree = _EntityTree(walked, entity, port_names)
    optics: dict[Port, dict[str, FieldValue]] = {}
    chassis: dict[str, list[tuple[str, float]]] = {}
    for table in profile.sensors:
        for index, (unit, multiplier, value) in _sensors(profile, walked, table).items():
            place = tree.port_of(index[0])
            label = tree.label(index[0])
            if place is None:
                chassis.setdefault(unit, []).append((label, value * multiplier))
                continue
            base = UNIT_FIELD.get(unit) or ("rx_dbm" if re.search(entity.rx, label) else "tx_dbm")
            fields = optics.setdefault(place, {})
            _put(fields, base, _optic_value(unit, value * multiplier, base))
            for suffix, oid in table.thresholds.items():
                name = f"{base}_{suffix}"
                raw = reading(number(walked.column(oid).get(index)), name, table.invalid)
                if raw is not None:
                    _put(fields, name, _optic_value(unit, raw * multiplier, name))
    for optic in profile.optics:
        _read_optics_table(optic, walked, tree, optics)
    return SensorReadings(_merge_single_lanes(optics), chassis)


def _read_optics_table(
    optic: OpticsTable, walked: Walked, tree: _EntityTree, optics: dict[Port, dict[str, FieldValue]]
) -> None:
    present = walked.column(optic.present.oid) if optic.present else {}
    for index in {i for column in optic.fields.values() for i in walked.column(column.oid)}:
        flag = number(present.get(index))
        if optic.present and flag is not None and int(flag) not in optic.present.values:
            continue  # an empty cage: its zeros and floors are no readings
        if_index = index[0] if optic.index == "ifindex" else tree.port_index(index[0])
        kind = optic.kinds.get(index[-1]) if optic.kinds else None
        if if_index is None or (optic.kinds and kind is None):
            continue
        for column_name, column in optic.fields.items():
            name = column_name if kind is None else _kind_field(kind, column_name)
            raw = reading(number(walked.column(column.oid).get(index)), name, column.invalid)
            if raw is not None:
                lane = column.lane or (index[-1] if optic.lanes else None)
                _put(
                    optics.setdefault((if_index, lane), {}),
                    name,
                    power_value(raw * column.scale, column.unit, name),
                )


def _put(fields: dict[str, FieldValue], name: str, value: float | None) -> None:
    if value is not None:
        fields[name] = value


def _sensors(
    profile: Profile, walked: Walked, table: SensorTable
) -> dict[tuple[int, ...], tuple[str, float, float]]:
    """{index: (unit, multiplier from raw to the unit, raw value)} of the sensors we know."""
    out: dict[tuple[int, ...], tuple[str, float, float]] = {}
    for index, varbind in walked.column(table.value).items():
        unit = profile.units.get(int(number(walked.column(table.type).get(index)) or 0))
        if unit is None or unit == "other":
            continue
        if table.status and number(walked.column(table.status).get(index)) not in (None, 1):
            continue  # unavailable(2) or nonoperational(3): its value is no reading
        raw = reading(number(varbind), UNIT_FIELD.get(unit, "rx_dbm"), table.invalid)
        if raw is None:
            continue
        scale = number(walked.column(table.scale).get(index)) if table.scale else None
        precision = number(walked.column(table.precision).get(index)) if table.precision else 0
        exponent = SCALE_EXPONENT.get(int(scale), 0) if scale is not None else 0
        out[index] = (unit, 10.0**exponent / 10 ** max(int(precision or 0), 0), raw)
    return out


def _kind_field(kind: str, column: str) -> str:
    return kind if column == "value" else f"{kind}_{column}"


def _optic_value(unit: str, value: float, name: str) -> float | None:
    if unit == "amperes":
        return round(value * 1000, 3)  # bias in mA
    return power_value(value, "w" if unit == "watts" else "dbm", name)


def power_value(value: float, unit: str, name: str) -> float | None:
    """A power field in dBm (None when it is no reading); other fields as they are."""
    if not name.startswith(POWER_FIELDS):
        return round(value, 3)
    if unit != "dbm":
        milliwatts = value * 1000 if unit == "w" else value
        if milliwatts <= 0:
            return None  # no light or no reading: the log of zero has no value
        value = 10 * math.log10(milliwatts)
    return round(value, 3) if name not in POWER_FIELDS or value > POWER_FLOOR_DBM else None


def _merge_single_lanes(
    optics: dict[Port, dict[str, FieldValue]],
) -> dict[Port, dict[str, FieldValue]]:
    """A transceiver with one lane is one series without a lane; the module-wide values of a
    multi-lane one (temperature, voltage) stay in its series without a lane. All zeros is no
    transceiver."""
    lanes: dict[int, set[int]] = {}
    for if_index, lane in optics:
        if lane is not None:
            lanes.setdefault(if_index, set()).add(lane)
    out: dict[Port, dict[str, FieldValue]] = {}
    for (if_index, lane), fields in sorted(optics.items(), key=lambda i: (i[0][0], i[0][1] or -1)):
        key = (if_index, lane if len(lanes.get(if_index, ())) > 1 else None)
        out.setdefault(key, {}).update(fields)
    # a cage with a DAC or no module answers zeros everywhere: that is no reading
    return {key: fields for key, fields in out.items() if any(v != 0 for v in fields.values())}


class _EntityTree:
    def __init__(self, walked: Walked, entity: Entity, port_names: Mapping[str, int]) -> None:
        self._parent = {
            i[0]: int(number(v) or 0) for i, v in walked.column(ENT_CONTAINED_IN).items()
        }
        self._names = {i[0]: text(v) for i, v in walked.column(ENT_NAME).items()}
        self._descrs = {i[0]: text(v) for i, v in walked.column(ENT_DESCR).items()}
        self._lane = re.compile(entity.lane)
        self._ports: dict[int, int] = {}
        for row, varbind in walked.column(ENT_ALIAS).items():
            target = ber.value_of(varbind)
            if isinstance(target, tuple) and target[:-1] == IF_INDEX_PREFIX:
                self._ports[row[0]] = target[-1]
        pattern = re.compile(entity.port_name)
        for entity_index in {*self._names, *self._descrs} - set(self._ports):
            for label in (self._names.get(entity_index, ""), self._descrs.get(entity_index, "")):
                found = pattern.search(label) if label else None
                if found and found.group(1) in port_names:
                    self._ports[entity_index] = port_names[found.group(1)]
                    break

    def label(self, index: int) -> str:
        return self._names.get(index) or self._descrs.get(index, "")

    def _chain(self, index: int) -> list[int]:
        chain = [index]
        while (parent := self._parent.get(chain[-1], 0)) and parent not in chain:
            chain.append(parent)
        return chain

    def port_index(self, index: int) -> int | None:
        return next((self._ports[e] for e in self._chain(index) if e in self._ports), None)

    def port_of(self, index: int) -> Port | None:
        """The (ifIndex, lane) a sensor entity is contained in; None for non-port sensors."""
        if_index = self.port_index(index)
        if if_index is None:
            return None
        for e in self._chain(index):
            if e in self._ports:
                break
            found = self._lane.search(self._descrs.get(e, "")) or self._lane.search(
                self._names.get(e, "")
            )
            if found:
                return if_index, int(found.group(1))
        return if_index, None
