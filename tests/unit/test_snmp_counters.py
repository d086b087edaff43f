"""The interface and counter rules as tables: each case is two polls of one interface's rows
(the previous and the current answer) and what must be stored."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.snmp import ber
from collectors.snmp.interfaces import (
    C32_COLUMNS,
    EVENT_COLUMNS,
    HC_COLUMNS,
    STATE_COLUMNS,
    CounterState,
    Selection,
    ports,
    unique_names,
)
from gateway.sample import FieldValue

TEN_G = 10_000
SELECT = Selection(frozenset({6, 161}))
NUMBERS = {"type", "speed", "admin", "oper", "high_speed"}
TICKS = {"last_change", "discontinuity"}
TEXT = {"descr", "name", "alias"}


def varbind(column: str, value: Any, bits: int) -> ber.VarBind:
    if column in TEXT:
        return ber.VarBind(b"", ber.OCTET_STRING, str(value).encode())
    if column in NUMBERS:
        return ber.VarBind(b"", ber.INTEGER, ber.encode_integer(value))
    if column in TICKS:
        return ber.VarBind(b"", ber.TIMETICKS, ber.encode_unsigned(value))
    tag = ber.COUNTER64 if bits == 64 else ber.COUNTER32
    return ber.VarBind(b"", tag, ber.encode_unsigned(value))


def rows(
    interfaces: dict[int, dict[str, Any]], bits: int = 64
) -> dict[str, dict[tuple[int, ...], ber.VarBind]]:
    columns = {**STATE_COLUMNS, **EVENT_COLUMNS, **(HC_COLUMNS if bits == 64 else C32_COLUMNS)}
    out: dict[str, dict[tuple[int, ...], ber.VarBind]] = {name: {} for name in columns}
    for index, values in interfaces.items():
        for column, value in values.items():
            out[column][(index,)] = varbind(column, value, bits)
    return out


def port(**changes: Any) -> dict[str, Any]:
    base = {
        "name": "xe-0/0/1", "type": 6, "admin": 1, "oper": 1, "high_speed": TEN_G,
        "speed": 4_294_967_295, "last_change": 100, "discontinuity": 0,
        "in_octets": 10**12, "out_octets": 10**12, "in_ucast": 10**9, "out_ucast": 10**9,
        "in_mcast": 0, "out_mcast": 0, "in_bcast": 0, "out_bcast": 0,
    }  # fmt: skip
    return base | changes


def two_polls(
    before: dict[str, Any], after: dict[str, Any], seconds: float = 60, bits: int = 64
) -> tuple[dict[str, FieldValue], CounterState]:
    state = CounterState()
    for i, values in enumerate((before, after)):
        table = rows({1: values}, bits)
        result = ports(SELECT, table, unique_names(table), state, seconds if i else None, bits)
    return result[0].fields, state


GB = 125_000_000  # octets per second at 1 Gbit/s
RATE_CASES = {
    # name: (before, after, seconds, bits, in_bps or None, discard reason or None)
    "1 Gbit/s for a minute": (
        port(), port(in_octets=10**12 + 60 * GB, in_ucast=10**9 + 60 * GB // 1000),
        60, 64, 1e9, None,
    ),
    "net-snmp's +2^32 on a reset (octets and packets)": (
        port(), port(in_octets=10**12 + 2**32 + 500, in_ucast=10**9 + 2**32 + 3),
        60, 64, None, "above_packet_rate",
    ),
    "+2^32 on the octets alone": (
        port(), port(in_octets=10**12 + 2**32, in_ucast=10**9 + 20), 60, 64, None,
        "implausible_frames",
    ),
    "64-bit counter went back": (port(), port(in_octets=5), 60, 64, None, "reset"),
    "discontinuity time moved": (
        port(), port(discontinuity=4200, in_octets=10**12 + 1000, in_ucast=10**9 + 2), 60, 64,
        None, "discontinuity",
    ),
    "32-bit wrap on a 1G link in 30 s": (
        port(high_speed=1000, speed=10**9, in_octets=2**32 - 10 * GB, in_ucast=100, in_nucast=0),
        port(high_speed=1000, speed=10**9, in_octets=20 * GB - 10 * GB, in_ucast=100 + 20 * GB // 1000, in_nucast=0),
        30, 32, 20 * GB * 8 / 30, None,
    ),
    "32-bit wrap on a 10G link is ambiguous": (
        port(in_octets=2**32 - 1000), port(in_octets=1000), 60, 32, None, "ambiguous_wrap",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", RATE_CASES)
def test_counter_rules(case: str) -> None:
    before, after, seconds, bits, in_bps, reason = RATE_CASES[case]
    if bits == 32:
        for values in (before, after):
            values.pop("discontinuity", None)
            for key in ("in_mcast", "in_bcast", "out_mcast", "out_bcast"):
                values.pop(key, None)
    fields, state = two_polls(before, after, seconds, bits)
    assert fields.get("in_bps") == (None if in_bps is None else pytest.approx(in_bps))
    assert fields.get("in_rate_discarded") == reason
    assert set(state.discarded) == ({reason} if reason else set())  # counted by reason


SPEED_CASES = {
    # name: (ifHighSpeed or None, ifSpeed, stored speed_mbps or None)
    "ifHighSpeed wins": (10_000, 4_294_967_295, 10_000),
    "no ifHighSpeed, ifSpeed at its ceiling: unknown": (None, 4_294_967_295, None),
    "no ifHighSpeed, 100M": (None, 100_000_000, 100),
    "ifHighSpeed 0, ifSpeed 1G": (0, 1_000_000_000, 1000),
}


@pytest.mark.parametrize("case", SPEED_CASES)
def test_speed(case: str) -> None:
    high, speed, expected = SPEED_CASES[case]
    values = port(speed=speed, in_octets=10**12 + 10**6, in_ucast=10**9 + 1000)
    if high is None:
        del values["high_speed"]
    else:
        values["high_speed"] = high
    before = values | {"in_octets": 10**12, "in_ucast": 10**9}
    fields, _ = two_polls(before, values)
    assert fields.get("speed_mbps") == expected
    assert ("in_util_pct" in fields) == (expected is not None)


NAME_CASES = {
    "ifName": ({1: {"name": "Gi0/1", "descr": "GigabitEthernet0/1"}}, {1: "Gi0/1"}),
    "no ifName: ifDescr": ({1: {"descr": "port 1"}}, {1: "port 1"}),
    "neither: the ifIndex": ({1275593728: {"descr": ""}}, {1275593728: "ifIndex 1275593728"}),
    "a name two rows share gets the ifIndex": (
        {7: {"name": "ManagementEthernet 0/0"}, 8: {"name": "ManagementEthernet 0/0"}, 9: {"name": "Te 0/1"}},
        {7: "ManagementEthernet 0/0 (ifIndex 7)", 8: "ManagementEthernet 0/0 (ifIndex 8)", 9: "Te 0/1"},
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", NAME_CASES)
def test_unique_names(case: str) -> None:
    interfaces, expected = NAME_CASES[case]
    table = rows({i: {"oper": 1, **values} for i, values in interfaces.items()})
    assert unique_names(table) == expected


FLAP_CASES = {
    # name: (oper before, ifLastChange before, oper after, ifLastChange after, flaps)
    "nothing happened": (1, 100, 1, 100, 0),
    "a 2 s flap inside the interval": (1, 100, 1, 5300, 2),
    "went down": (1, 100, 2, 5300, 1),
}


@pytest.mark.parametrize("case", FLAP_CASES)
def test_flaps_from_last_change(case: str) -> None:
    oper1, change1, oper2, change2, flaps = FLAP_CASES[case]
    fields, _ = two_polls(
        port(oper=oper1, last_change=change1), port(oper=oper2, last_change=change2)
    )
    assert fields["flaps"] == flaps


ROLE_CASES = {
    # name: (port, selection, role or None when not kept)
    "10G without config is access": (port(), SELECT, "access"),
    "named in the config": (port(), Selection(frozenset({6}), uplinks=frozenset({"xe-0/0/1"})), "uplink"),
    "ifAlias says uplink": (port(alias="Uplink to core"), SELECT, "uplink"),
    "Junos logical unit is left out": (port(name="xe-0/0/1.0", type=53), SELECT, None),
    "unless included": (port(name="ae0.0", type=53), Selection(frozenset({6}), include=("^ae0\\.0$",)), "access"),
    "excluded by alias": (port(alias="lab - ignore"), Selection(frozenset({6}), exclude=("ignore",)), None),
}  # fmt: skip


@pytest.mark.parametrize("case", ROLE_CASES)
def test_selection_and_role(case: str) -> None:
    values, selection, role = ROLE_CASES[case]
    table = rows({1: values})
    kept = ports(selection, table, unique_names(table), CounterState(), None, 64)
    assert [p.role for p in kept] == ([role] if role else [])


def test_admin_down_is_stored_as_such() -> None:
    table = rows({1: port(admin=2, oper=2)})
    (kept,) = ports(SELECT, table, unique_names(table), CounterState(), None, 64)
    assert kept.fields["admin_up"] is False and kept.fields["oper_up"] is False


def test_a_flap_is_dated_by_the_agents_clock() -> None:
    state, uptime = CounterState(), 6000  # the agent's sysUpTime at the second poll
    for values, seconds in ((port(last_change=100), None), (port(last_change=5300), 60.0)):
        table = rows({1: values})
        (kept,) = ports(SELECT, table, unique_names(table), state, seconds, 64, uptime)
    assert kept.fields["flaps"] == 2 and kept.fields["last_change_s"] == 7.0


def test_no_admin_status_column_is_unknown_not_false() -> None:
    """Aruba CX and FortiSwitch agents have no ifAdminStatus: `admin_up` is not written."""
    values = port(oper=2)
    values.pop("admin")
    table = rows({1: values})
    (kept,) = ports(SELECT, table, unique_names(table), CounterState(), None, 64)
    assert "admin_up" not in kept.fields and kept.fields["oper_up"] is False


EVENT_CASES = {
    # name: (ifInErrors before, after, seconds, link Mbit/s, in_errors or None, reason or None)
    "10 errors in a minute": (500, 1100, 60, 1000, 10.0, None),
    "a wrap that fits the link": (2**32 - 60, 60, 60, 1000, 2.0, None),
    # 2^32 - 497 errors in 60 s would be 71,582,780 errors/s on a link carrying 1.49 M frames/s
    "reset without a discontinuity column": (500, 3, 60, 1000, None, "reset"),
    "reset, link speed unknown": (500, 3, 60, None, None, "reset"),
    "more errors than the link carries frames": (0, 10**9, 60, 100, None, "above_packet_rate"),
}


@pytest.mark.parametrize("case", EVENT_CASES)
def test_error_and_discard_counters_follow_the_octets_rules(case: str) -> None:
    before, after, seconds, mbps, in_errors, reason = EVENT_CASES[case]
    speed = {"high_speed": mbps, "speed": mbps * 10**6} if mbps else {"high_speed": 0}
    if mbps is None:
        speed["speed"] = 4_294_967_295
    values = [port(in_errors=e, **speed) for e in (before, after)]
    for v in values:
        v.pop("discontinuity")  # a 32-bit device has no ifCounterDiscontinuityTime
    fields, state = two_polls(*values, seconds=seconds)
    assert fields.get("in_errors") == (None if in_errors is None else pytest.approx(in_errors))
    assert fields.get("in_errors_discarded") == reason
    assert dict(state.discarded) == ({reason: 1} if reason else {})


def test_a_standing_clock_rates_nothing_and_keeps_the_base() -> None:
    """sysUpTime stood still between two polls: no rate, and the next rate runs from the
    last poll that had time, over the agent's whole interval."""
    state = CounterState()
    polls = ((10**12, None), (10**12 + 30 * GB, 0.0), (10**12 + 60 * GB, 60.0))
    stored = []
    for octets, seconds in polls:
        table = rows({1: port(in_octets=octets, in_ucast=10**9 + (octets - 10**12) // 1000)})
        (kept,) = ports(SELECT, table, unique_names(table), state, seconds, 64)
        stored.append(kept.fields.get("in_bps"))
    assert stored == [None, None, pytest.approx(1e9)]
    assert not state.discarded
