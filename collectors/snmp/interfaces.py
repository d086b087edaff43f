"""Interfaces as the device has them: which rows are ports, their unique names, speed, role,
flaps from ifLastChange, and rates from counters by the rules in `rates`."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from collectors.snmp import ber
from collectors.snmp.profile_reader import number, text
from collectors.snmp.rates import Verdict, counter_delta, counter_rate, event_rate, packets_fit
from gateway.sample import FieldValue

IF = "1.3.6.1.2.1.2.2.1."  # ifEntry
IFX = "1.3.6.1.2.1.31.1.1.1."  # ifXEntry
STATE_COLUMNS = {
    "descr": IF + "2",  # ifDescr
    "type": IF + "3",  # ifType
    "speed": IF + "5",  # ifSpeed
    "admin": IF + "7",  # ifAdminStatus
    "oper": IF + "8",  # ifOperStatus
    "last_change": IF + "9",  # ifLastChange
    "name": IFX + "1",  # ifName
    "high_speed": IFX + "15",  # ifHighSpeed
    "alias": IFX + "18",  # ifAlias
}
EVENT_COLUMNS = {
    "in_discards": IF + "13",  # ifInDiscards
    "in_errors": IF + "14",  # ifInErrors
    "out_discards": IF + "19",  # ifOutDiscards
    "out_errors": IF + "20",  # ifOutErrors
}
HC_COLUMNS = {
    "in_octets": IFX + "6",  # ifHCInOctets
    "out_octets": IFX + "10",  # ifHCOutOctets
    "in_ucast": IFX + "7",  # ifHCInUcastPkts
    "in_mcast": IFX + "8",  # ifHCInMulticastPkts
    "in_bcast": IFX + "9",  # ifHCInBroadcastPkts
    "out_ucast": IFX + "11",  # ifHCOutUcastPkts
    "out_mcast": IFX + "12",  # ifHCOutMulticastPkts
    "out_bcast": IFX + "13",  # ifHCOutBroadcastPkts
    "discontinuity": IFX + "19",  # ifCounterDiscontinuityTime
}
C32_COLUMNS = {
    "in_octets": IF + "10",  # ifInOctets
    "out_octets": IF + "16",  # ifOutOctets
    "in_ucast": IF + "11",  # ifInUcastPkts
    "in_nucast": IF + "12",  # ifInNUcastPkts
    "out_ucast": IF + "17",  # ifOutUcastPkts
    "out_nucast": IF + "18",  # ifOutNUcastPkts
}
SPEED_UNKNOWN = 4_294_967_295  # ifSpeed's ceiling: the real speed is in ifHighSpeed, or unknown
EVENTS = tuple(EVENT_COLUMNS)
Rows = Mapping[str, Mapping[tuple[int, ...], ber.VarBind]]  # column name -> rows


@dataclass(frozen=True)
class Selection:
    """Per device, from the config: which rows and which uplinks."""

    types: frozenset[int]
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    uplinks: frozenset[str] = frozenset()
    uplink_alias: str | None = r"(?i)^uplink"


@dataclass(frozen=True)
class Port:
    if_index: int
    ifname: str  # unique on the device
    role: str
    fields: dict[str, FieldValue]


@dataclass
class CounterState:
    values: dict[tuple[int, str], int] = field(default_factory=dict)
    last_change: dict[int, int] = field(default_factory=dict)
    oper: dict[int, bool] = field(default_factory=dict)
    discarded: Counter[str] = field(default_factory=Counter)

    def clear(self) -> None:
        self.values.clear()
        self.last_change.clear()
        self.oper.clear()


def unique_names(rows: Rows) -> dict[int, str]:
    """ifName, else ifDescr, else `ifIndex N`; a name two rows share gets its ifIndex added."""
    names = {}
    for index in rows["oper"]:
        names[index[0]] = (
            text(rows["name"].get(index)) or text(rows["descr"].get(index)) or f"ifIndex {index[0]}"
        )
    seen = Counter(names.values())
    return {i: n if seen[n] == 1 else f"{n} (ifIndex {i})" for i, n in names.items()}


def port_names(rows: Rows) -> dict[str, int]:
    """Every ifName and ifDescr -> ifIndex, for the entities that name their port."""
    out: dict[str, int] = {}
    for column in ("descr", "name"):
        for index, varbind in rows[column].items():
            if label := text(varbind):
                out.setdefault(label, index[0])
    return out


def _kept(selection: Selection, rows: Rows, index: tuple[int, ...], name: str) -> bool:
    labels = (name, text(rows["alias"].get(index)))
    if any(re.search(p, label) for p in selection.exclude for label in labels):
        return False
    if any(re.search(p, label) for p in selection.include for label in labels):
        return True
    return int(number(rows["type"].get(index)) or 0) in selection.types


def speed_mbps(rows: Rows, index: tuple[int, ...]) -> float | None:
    high = number(rows["high_speed"].get(index))
    if high:
        return high
    speed = number(rows["speed"].get(index))
    if speed is None or speed == SPEED_UNKNOWN:
        return None
    return speed / 1e6


def ports(
    selection: Selection,
    rows: Rows,
    names: Mapping[int, str],
    state: CounterState,
    seconds: float | None,
    bits: int,
    uptime_ticks: int | None = None,
) -> list[Port]:
    """The kept rows with their fields; rates when `seconds` (agent time since the last poll).
    `uptime_ticks` (the agent's sysUpTime now) dates the last change of a port that flapped."""
    out = []
    for index, oper in rows["oper"].items():
        name = names[index[0]]
        if not _kept(selection, rows, index, name):
            continue
        raw_name = text(rows["name"].get(index)) or text(rows["descr"].get(index))
        alias = text(rows["alias"].get(index))
        uplink = (
            raw_name in selection.uplinks
            or name in selection.uplinks
            or bool(selection.uplink_alias and re.search(selection.uplink_alias, alias))
        )
        oper_up = number(oper) == 1
        fields: dict[str, FieldValue] = {
            "oper_up": oper_up,
            "admin_up": number(rows["admin"].get(index)) == 1,
        }
        speed = speed_mbps(rows, index)
        if speed is not None:
            fields["speed_mbps"] = speed
        _flaps(state, rows, index[0], oper_up, seconds, fields)
        if fields.get("flaps") and uptime_ticks is not None:
            change = int(number(rows["last_change"].get(index)) or 0)
            fields["last_change_s"] = max(0, uptime_ticks - change) / 100  # seconds before now
        if seconds:
            _rates(state, rows, index, seconds, bits, speed, fields)
        _remember(state, rows, index)
        out.append(Port(index[0], name, "uplink" if uplink else "access", fields))
    return out


def _flaps(
    state: CounterState,
    rows: Rows,
    if_index: int,
    oper_up: bool,
    seconds: float | None,
    fields: dict[str, FieldValue],
) -> None:
    """Changes since the last poll: ifLastChange moved while the state stayed means it went
    away and came back (at least 2 changes); a different state, at least 1."""
    change = number(rows["last_change"].get((if_index,)))
    if change is None:
        return
    previous, was_up = state.last_change.get(if_index), state.oper.get(if_index)
    if seconds and previous is not None and was_up is not None:
        fields["flaps"] = 0 if change == previous else (1 if was_up != oper_up else 2)
    state.last_change[if_index] = int(change)
    state.oper[if_index] = oper_up


def _rates(
    state: CounterState,
    rows: Rows,
    index: tuple[int, ...],
    seconds: float,
    bits: int,
    speed: float | None,
    fields: dict[str, FieldValue],
) -> None:
    speed_bps = speed * 1e6 if speed else None
    discontinuity = number(rows.get("discontinuity", {}).get(index))
    before = state.values.get((index[0], "discontinuity"))
    if discontinuity is not None and before is not None and discontinuity != before:
        _discard(state, Verdict.DISCONTINUITY, ("in", "out"), fields)
        return
    for direction in ("in", "out"):
        octets = rows[f"{direction}_octets"].get(index)
        if octets is None:
            continue
        current = int(number(octets) or 0)
        previous = state.values.get((index[0], f"{direction}_octets"))
        rate, verdict = counter_rate(previous, current, seconds, bits=bits, speed_bps=speed_bps)
        if rate is not None:
            packets = _packet_delta(state, rows, index, direction, bits)
            octet_delta = counter_delta(previous, current, bits=bits)
            if packets is not None and octet_delta is not None:
                verdict = packets_fit(octet_delta, packets, seconds, speed_bps)
                rate = rate if verdict is Verdict.OK else None
        if verdict not in (Verdict.OK, Verdict.FIRST):
            _discard(state, verdict, (direction,), fields)
        if rate is not None:
            fields[f"{direction}_bps"] = round(rate, 3)
            if speed_bps:
                fields[f"{direction}_util_pct"] = round(100 * rate / speed_bps, 4)
    for event in EVENTS:
        current_event = number(rows[event].get(index))
        if current_event is not None:
            previous_event = state.values.get((index[0], event))
            value = event_rate(previous_event, int(current_event), seconds, bits=32)
            if value is not None:
                fields[event] = round(value, 6)


def _packet_delta(
    state: CounterState, rows: Rows, index: tuple[int, ...], direction: str, bits: int
) -> int | None:
    columns = [c for c in _packet_columns(direction) if c in rows and index in rows[c]]
    if not columns:
        return None
    total = 0
    for column in columns:
        delta = counter_delta(
            state.values.get((index[0], column)), int(number(rows[column][index]) or 0), bits=bits
        )
        if delta is None:
            return None
        total += delta
    return total


def _packet_columns(direction: str) -> tuple[str, ...]:
    return tuple(f"{direction}_{kind}" for kind in ("ucast", "mcast", "bcast", "nucast"))


def _discard(
    state: CounterState, verdict: Verdict, directions: Sequence[str], fields: dict[str, FieldValue]
) -> None:
    for direction in directions:
        state.discarded[verdict.value] += 1
        fields[f"{direction}_rate_discarded"] = verdict.value


def _remember(state: CounterState, rows: Rows, index: tuple[int, ...]) -> None:
    counters = ("in_octets", "out_octets", "discontinuity", *EVENTS)
    for column in (*counters, *_packet_columns("in"), *_packet_columns("out")):
        value = number(rows.get(column, {}).get(index))
        if value is not None:
            state.values[(index[0], column)] = int(value)
