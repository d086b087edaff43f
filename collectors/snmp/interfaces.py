"""Interfaces as the device has them: which rows are ports, their unique names, speed, role,
flaps from ifLastChange, and rates from counters by the rules in `rates`."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, cast

from collectors.snmp import ber
from collectors.snmp.rates import Verdict, counter_delta, counter_rate, event_rate, packets_fit
from collectors.snmp.varbind_values import number, text
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
Table = Mapping[tuple[int, ...], ber.VarBind]  # row index -> varbind
Rows = Mapping[str, Table]  # column name -> rows
RowCounters = dict[str, int | None]  # one row's counters by column (None: not a number)


@dataclass(frozen=True)
class Direction:
    """The counter columns and fields of one direction of traffic."""

    name: str  # in, out
    octets: str
    # the packet columns summed, of those the table has: ucast, mcast and bcast of the
    # 64-bit ifXTable, ucast and nucast of the 32-bit ifTable
    packets: tuple[str, ...]
    bps: str
    util_pct: str


DIRECTIONS = tuple(
    Direction(
        d,
        f"{d}_octets",
        tuple(f"{d}_{kind}" for kind in ("ucast", "mcast", "bcast", "nucast")),
        f"{d}_bps",
        f"{d}_util_pct",
    )
    for d in ("in", "out")
)
COUNTERS = (  # the columns of RowCounters
    "discontinuity",
    *EVENTS,
    *(column for d in DIRECTIONS for column in (d.octets, *d.packets)),
)


@dataclass(frozen=True)
class Selection:
    """Per device, from the config: which rows and which uplinks."""

    types: frozenset[int]
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    uplinks: frozenset[str] = frozenset()
    uplink_alias: str | None = r"(?i)^uplink"


class Port(NamedTuple):
    if_index: int
    ifname: str  # unique on the device
    role: str
    fields: dict[str, FieldValue]


@dataclass
class CounterState:
    values: dict[int, dict[str, int]] = field(default_factory=dict)  # ifIndex -> its counters
    last_change: dict[int, int] = field(default_factory=dict)
    oper: dict[int, bool] = field(default_factory=dict)
    discarded: Counter[str] = field(default_factory=Counter)

    def clear(self) -> None:
        self.values.clear()
        self.last_change.clear()
        self.oper.clear()

    def keep_only(self, if_indexes: set[int]) -> None:
        """Forget rows the device no longer lists (one renumbering its ifIndexes at every
        poll would otherwise grow this without bound)."""
        for table in (self.values, self.last_change, self.oper):
            for gone in table.keys() - if_indexes:
                del table[gone]


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


def _kept(
    selection: Selection, rows: Rows, index: tuple[int, ...], labels: tuple[str, str]
) -> bool:
    """Is the row a port to keep? `labels` are its unique name and its ifAlias."""
    if selection.exclude and any(re.search(p, s) for p in selection.exclude for s in labels):
        return False
    if selection.include and any(re.search(p, s) for p in selection.include for s in labels):
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
    `seconds` 0 (the agent's clock stood still) rates nothing and keeps the counters of the
    last poll as the base of the next rates. `uptime_ticks` (the agent's sysUpTime now) dates
    the last change of a port that flapped. A column the agent lacks (ifAdminStatus on some)
    leaves its field unwritten: unknown, not false."""
    out = []
    counter_columns = [(c, rows[c]) for c in COUNTERS if c in rows]
    uplink_alias = re.compile(selection.uplink_alias) if selection.uplink_alias else None
    for index, oper in rows["oper"].items():
        name = names[index[0]]
        alias = text(rows["alias"].get(index))
        if not _kept(selection, rows, index, (name, alias)):
            continue
        raw_name = text(rows["name"].get(index)) or text(rows["descr"].get(index))
        uplink = (
            raw_name in selection.uplinks
            or name in selection.uplinks
            or bool(uplink_alias and uplink_alias.search(alias))
        )
        oper_up = number(oper) == 1
        fields: dict[str, FieldValue] = {"oper_up": oper_up}
        admin = rows["admin"].get(index)
        if admin is not None:
            fields["admin_up"] = number(admin) == 1
        speed = speed_mbps(rows, index)
        if speed is not None:
            fields["speed_mbps"] = speed
        _flaps(state, rows, index[0], oper_up, seconds, fields)
        if fields.get("flaps") and uptime_ticks is not None:
            change = int(number(rows["last_change"].get(index)) or 0)
            fields["last_change_s"] = max(0, uptime_ticks - change) / 100  # seconds before now
        counters = _row_counters(counter_columns, index)
        if seconds:
            previous = state.values.get(index[0], {})
            _rates(state, counters, previous, seconds, bits, speed, fields)
        if seconds != 0:
            _remember(state, index[0], counters)
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


def _row_counters(columns: Sequence[tuple[str, Table]], index: tuple[int, ...]) -> RowCounters:
    """A row's counters: {column: value} of the columns that have the row; None where the
    agent's value is not a number."""
    counters: RowCounters = {}
    for column, table in columns:
        varbind = table.get(index)
        if varbind is None:
            continue
        if varbind.tag in ber.UNSIGNED:  # what counters are: decoded here, not by `number`
            counters[column] = int.from_bytes(varbind.raw, "big")
        else:
            value = number(varbind)
            counters[column] = None if value is None else int(value)
    return counters


def _rates(
    state: CounterState,
    counters: RowCounters,
    previous: Mapping[str, int],
    seconds: float,
    bits: int,
    speed: float | None,
    fields: dict[str, FieldValue],
) -> None:
    """Rates from a row's counters now and at the last poll, by the rules in `rates`."""
    speed_bps = speed * 1e6 if speed else None
    discontinuity, before = counters.get("discontinuity"), previous.get("discontinuity")
    if discontinuity is not None and before is not None and discontinuity != before:
        _discard(state, Verdict.DISCONTINUITY, ("in", "out"), fields)
        return
    for direction in DIRECTIONS:
        if direction.octets not in counters:
            continue
        current = counters[direction.octets] or 0  # a non-number counts as 0 here
        last = previous.get(direction.octets)
        rate, verdict = counter_rate(last, current, seconds, bits=bits, speed_bps=speed_bps)
        if rate is not None:
            packets = _packet_delta(counters, previous, direction.packets, bits)
            octet_delta = counter_delta(last, current, bits=bits)
            if packets is not None and octet_delta is not None:
                verdict = packets_fit(octet_delta, packets, seconds, speed_bps)
                rate = rate if verdict is Verdict.OK else None
        if verdict not in (Verdict.OK, Verdict.FIRST):
            _discard(state, verdict, (direction.name,), fields)
        if rate is not None:
            fields[direction.bps] = round(rate, 3)
            if speed_bps:
                fields[direction.util_pct] = round(100 * rate / speed_bps, 4)
    for event in EVENTS:
        current_event = counters.get(event)
        if current_event is not None:
            value, verdict = event_rate(
                previous.get(event), current_event, seconds, speed_bps=speed_bps
            )
            if value is not None:
                fields[event] = round(value, 6)
            elif verdict is not Verdict.FIRST:
                state.discarded[verdict.value] += 1
                fields[f"{event}_discarded"] = verdict.value


def _packet_delta(
    counters: RowCounters, previous: Mapping[str, int], columns: Sequence[str], bits: int
) -> int | None:
    """Packets of one direction since the last poll, over the packet columns the row has;
    None when it has none or one of them cannot tell."""
    total, counted = 0, False
    for column in columns:
        if column in counters:
            delta = counter_delta(previous.get(column), counters[column] or 0, bits=bits)
            if delta is None:
                return None
            total, counted = total + delta, True
    return total if counted else None


def _discard(
    state: CounterState, verdict: Verdict, directions: Sequence[str], fields: dict[str, FieldValue]
) -> None:
    for direction in directions:
        state.discarded[verdict.value] += 1
        fields[f"{direction}_rate_discarded"] = verdict.value


def _remember(state: CounterState, if_index: int, counters: RowCounters) -> None:
    """Keep the row's counters for the next poll (a non-number keeps the value before)."""
    if None in counters.values():
        counters = {column: value for column, value in counters.items() if value is not None}
    state.values.setdefault(if_index, {}).update(cast(dict[str, int], counters))
