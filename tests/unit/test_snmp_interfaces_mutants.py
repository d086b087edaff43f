"""What the mutation run of collectors/snmp/interfaces.py found untested: row selection when
include/exclude do not match, uplinks by raw or unique name, the stored fields' exact values
and rounding, both directions discarded on a discontinuity, counters that are not numbers."""

from __future__ import annotations

from typing import Any

from collectors.snmp import ber
from collectors.snmp.interfaces import (
    CounterState,
    Port,
    Selection,
    port_names,
    ports,
    unique_names,
)
from tests.unit.test_snmp_counters import SELECT, port, rows, two_polls


def one_poll(
    interfaces: dict[int, dict[str, Any]], selection: Selection = SELECT, **options: Any
) -> list[Port]:
    table = rows(interfaces)
    return ports(selection, table, unique_names(table), CounterState(), None, 64, **options)


def test_include_and_exclude_that_match_nothing_leave_the_type_to_decide() -> None:
    interfaces = {1: port(name="xe-1"), 2: port(name="lo0", type=24)}
    selection = Selection(frozenset({6}), include=("^none$",), exclude=("^none$",))
    assert [p.ifname for p in one_poll(interfaces, selection)] == ["xe-1"]


def test_a_row_without_a_type_is_not_of_any_type() -> None:
    interfaces = {1: {k: v for k, v in port().items() if k != "type"}}
    assert one_poll(interfaces, Selection(frozenset({1}))) == []


def test_rows_after_an_excluded_one_are_still_read() -> None:
    interfaces = {1: port(name="mgmt0"), 2: port(name="xe-2")}
    selection = Selection(frozenset({6}), exclude=("^mgmt",))
    [kept] = one_poll(interfaces, selection)
    assert (kept.if_index, kept.ifname, kept.role) == (2, "xe-2", "access")


def test_uplinks_by_raw_name_by_description_or_by_unique_name() -> None:
    interfaces = {
        1: port(name="et-1", alias="to core"),  # named in the config
        2: {k: v for k, v in port(descr="Gi1/0/48").items() if k != "name"},  # no ifName
        3: port(name="dup"),
        4: port(name="dup"),  # the config names this one by its unique name
        5: port(name="xe-5", alias="Uplink to the city"),  # the alias says so
    }
    selection = Selection(
        frozenset({6}), uplinks=frozenset({"et-1", "Gi1/0/48", "dup (ifIndex 4)"})
    )
    roles = {p.ifname: p.role for p in one_poll(interfaces, selection)}
    assert roles == {
        "et-1": "uplink",
        "Gi1/0/48": "uplink",
        "dup (ifIndex 3)": "access",
        "dup (ifIndex 4)": "uplink",
        "xe-5": "uplink",
    }
    no_alias_rule = Selection(frozenset({6}), uplink_alias=None)
    assert [p.role for p in one_poll({5: interfaces[5]}, no_alias_rule)] == ["access"]


def test_the_state_fields_of_an_enabled_port() -> None:
    [p] = one_poll({7: port(admin=1, oper=2)})
    assert (p.if_index, p.ifname) == (7, "xe-0/0/1")
    assert p.fields == {"oper_up": False, "admin_up": True, "speed_mbps": 10_000}


def test_a_flap_is_dated_from_now_and_never_in_the_future() -> None:
    state = CounterState()
    for last_change, uptime in ((100, 1000), (5000, 6000), (9000, 8000)):
        table = rows({1: port(last_change=last_change)})
        [p] = ports(SELECT, table, unique_names(table), state, 60, 64, uptime_ticks=uptime)
    assert p.fields["flaps"] == 2 and p.fields["last_change_s"] == 0.0
    table = rows({1: port(last_change=9500)})
    [p] = ports(SELECT, table, unique_names(table), state, 60, 64, uptime_ticks=10_000)
    assert p.fields["last_change_s"] == 5.0


def test_no_flap_is_counted_on_the_first_rated_poll() -> None:
    state = CounterState()
    table = rows({1: port(last_change=100)})
    [first] = ports(SELECT, table, unique_names(table), state, None, 64)
    table = rows({1: port(last_change=200)})
    [second] = ports(SELECT, table, unique_names(table), state, None, 64)  # not rated
    assert "flaps" not in first.fields and "flaps" not in second.fields


def test_rates_and_utilisation_are_rounded_as_stored() -> None:
    fields, _ = two_polls(
        port(),
        port(in_octets=10**12 + 1000, in_ucast=10**9 + 10, in_errors=1),
        seconds=7,
    )
    assert fields["in_bps"] == round(8000 / 7, 3) == 1142.857
    assert fields["in_util_pct"] == round(100 * 8000 / 7 / 10e9, 4) == 0.0
    fields, _ = two_polls(
        port(in_errors=0), port(in_octets=10**12 + 10**9, in_ucast=10**9 + 10**6, in_errors=1), 7
    )
    assert fields["in_bps"] == round(8e9 / 7, 3)
    assert fields["in_util_pct"] == round(100 * 8e9 / 7 / 10e9, 4) == 11.4286
    assert fields["in_errors"] == round(1 / 7, 6) == 0.142857
    assert fields["out_bps"] == 0.0 and fields["out_util_pct"] == 0.0


def test_a_discontinuity_discards_both_directions_and_counts_each() -> None:
    fields, state = two_polls(port(), port(discontinuity=4200, in_octets=10**12 + 1000))
    assert fields["in_rate_discarded"] == fields["out_rate_discarded"] == "discontinuity"
    assert state.discarded == {"discontinuity": 2}
    assert "in_bps" not in fields and "out_bps" not in fields


def test_a_refused_event_rate_is_counted_once_per_poll() -> None:
    state = CounterState()
    for errors in (10, 5, 3):  # two resets (without a speed a counter going back is one)
        table = rows({1: port(in_errors=errors, high_speed=0, speed=4_294_967_295)})
        [p] = ports(SELECT, table, unique_names(table), state, 60, 64)
    assert p.fields["in_errors_discarded"] == "reset"
    assert state.discarded == {"reset": 2}


def test_packets_without_packet_columns_are_not_checked() -> None:
    before = {k: v for k, v in port().items() if "cast" not in k}
    after = before | {"in_octets": 10**12 + 2**32}  # a +2^32 jump, nothing to check it with
    fields, _ = two_polls(before, after)
    assert fields["in_bps"] == round(2**32 * 8 / 60, 3)


def test_a_counter_that_is_not_a_number_keeps_the_value_before() -> None:
    state = CounterState()
    for poll, octets in enumerate((10**12, 10**12 + 1, 10**12 + 60_000)):
        table = rows({1: port(in_octets=octets)})
        if poll == 1:  # an agent answering text where a counter belongs
            table["in_octets"][(1,)] = ber.VarBind(b"", ber.OCTET_STRING, b"n/a")
        [p] = ports(SELECT, table, unique_names(table), state, 60, 64)
        if poll == 1:
            assert state.values[1]["in_octets"] == 10**12
    assert state.values[1]["in_octets"] == 10**12 + 60_000
    assert p.fields["in_bps"] == 8000.0  # from the last number read


def test_an_integer_encoded_counter_is_read_as_a_number() -> None:
    table = rows({1: port()})
    table["in_octets"][(1,)] = ber.VarBind(b"", ber.INTEGER, ber.encode_integer(1234))
    state = CounterState()
    ports(SELECT, table, unique_names(table), state, None, 64)
    assert state.values[1]["in_octets"] == 1234


def test_an_uplink_named_by_the_name_two_rows_share_is_both() -> None:
    interfaces = {3: port(name="dup"), 4: port(name="dup"), 5: port(name="xe-5")}
    selection = Selection(frozenset({6}), uplinks=frozenset({"dup"}), uplink_alias=None)
    roles = {p.ifname: p.role for p in one_poll(interfaces, selection)}
    assert roles == {"dup (ifIndex 3)": "uplink", "dup (ifIndex 4)": "uplink", "xe-5": "access"}


def test_port_names_map_every_name_and_description_to_the_first_row() -> None:
    table = rows({1: port(name="xe-1", descr="Ten 1"), 2: port(name="xe-2", descr="Ten 1")})
    table["name"][(3,)] = ber.VarBind(b"", ber.OCTET_STRING, b"")  # an empty name: no label
    assert port_names(table) == {"Ten 1": 1, "xe-1": 1, "xe-2": 2}


def test_keep_only_forgets_the_rows_a_device_no_longer_lists() -> None:
    state = CounterState()
    table = rows({1: port(), 2: port(name="xe-2"), 3: port(name="xe-3")})
    ports(SELECT, table, unique_names(table), state, None, 64)
    state.keep_only({2, 9})
    assert (set(state.values), set(state.last_change), set(state.oper)) == ({2}, {2}, {2})
