"""KPI building blocks without a database: incidents, calendars, config errors, open data."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from gateway.config import check_config, load_config
from gateway.plugins import PLUGINS
from gateway.reports.calendar import opening_hours, period_bounds, period_label, school_days
from gateway.reports.config import OpenData, ReportsSection
from gateway.reports.incidents import incidents, root_causes
from gateway.reports.model import CITY, KpiRow, Report
from gateway.reports.numbers import duration, number, percent
from gateway.reports.opendata import PublicationRefused, write_open_data
from gateway.reports.queries import Series, quote_tag
from gateway.reports.timeline import Timeline
from gateway.reports.writeback import kpi_samples

S = 10**9


def alert(
    name: str, site: str, points: list[tuple[int, bool]], tier: str = "core", device: str = ""
) -> Series:
    tags = {"alertname": name, "severity": "page", "team": "network", "site": site}
    tags |= {"tier": tier, "device": device}
    return Series(tags, [{"time": t * S, "firing": f, "value": 1.0} for t, f in points])


def test_incidents_pair_firing_with_resolve_and_keep_open_ones() -> None:
    series = [
        alert("UplinkDown", "a", [(10, True), (20, True), (70, False), (100, True)]),
        alert("UplinkDown", "b", [(5, False), (30, True), (90, False)]),  # a stray resolve first
    ]
    found = incidents(series)
    assert [(i.site, i.started_ns // S, i.recover_s) for i in found] == [
        ("a", 10, 60.0),  # the re-sent firing at 20 changes nothing
        ("b", 30, 60.0),
        ("a", 100, None),  # open at the end of the period
    ]


def test_a_sites_outage_is_one_incident_not_one_per_device_behind_it() -> None:
    series = [
        alert("UplinkDown", "a", [(100, True), (200, False)]),
        alert("AccessPointDown", "a", [(110, True), (205, False)], "edge", "ap-101"),
        alert("ExhibitOffline", "a", [(200, True), (260, False)], "edge", "pendulum"),
        alert("AccessPointDown", "a", [(300, True), (400, False)], "edge", "ap-101"),  # later
        alert("AccessPointDown", "b", [(120, True), (130, False)], "edge", "ap-201"),  # elsewhere
        alert("TargetUnreachable", "c", [(50, True)], "edge", "gw4"),
        alert("CoreSwitchUnreachable", "c", [(40, True)], "core", "core"),  # still down
    ]
    kept = root_causes(incidents(series))
    assert [(i.alertname, i.site, i.started_ns // S) for i in kept] == [
        ("CoreSwitchUnreachable", "c", 40),
        ("UplinkDown", "a", 100),
        ("AccessPointDown", "b", 120),
        ("AccessPointDown", "a", 300),
    ]


def test_period_and_calendars_in_local_time() -> None:
    reports = ReportsSection.model_validate(
        {
            "timezone": "Europe/Riga",
            "opening_hours": {"sat": "10:00-17:00"},
            "holidays": [
                {"name": "break", "from": "2026-10-26", "to": "2026-10-27", "sites": ["x"]}
            ],
        }
    )
    start, end = period_bounds(date(2026, 10, 1), date(2026, 11, 1), reports)
    assert (end - start) // (3600 * S) == 31 * 24 + 1  # DST ends on 25 October: one hour more
    assert period_label(date(2026, 10, 1), date(2026, 11, 1)) == "2026-10"
    assert period_label(date(2026, 10, 5), date(2026, 10, 12)) == "2026-10-05..2026-10-11"
    always = Timeline([(start, end, True)])
    days = school_days(reports, "x", date(2026, 10, 1), date(2026, 11, 1))
    assert always.totals(start, end, days).excluded_ns == 48 * 3600 * S
    assert (
        school_days(reports, "y", date(2026, 10, 1), date(2026, 11, 1))
        .totals(start, end)
        .excluded_ns
        == 0
    )
    saturdays = opening_hours(reports, date(2026, 10, 1), date(2026, 11, 1))
    assert [s // S % 86400 for s, _, _ in saturdays.segments] == [7 * 3600] * 4 + [
        8 * 3600
    ]  # EEST, then EET on the 31st


@pytest.mark.parametrize(
    ("section", "line", "field", "message"),
    [
        ("  opening_hours: {mon: '18:00-10:00'}\n", 3, "reports.opening_hours.mon", "closing time"),
        (
            "  opening_hours: {monday: '10:00-18:00'}\n",
            3,
            "reports.opening_hours.monday.[key]",
            "Input should be",
        ),
        ("  timezone: Mars/Olympus\n", 3, "reports.timezone", "unknown time zone"),
        (
            "  holidays:\n    - {name: x, from: 2026-11-02, to: 2026-11-01}\n",
            4,
            "reports.holidays[0]",
            "'to' must not",
        ),
        ("  healthy_wifi: {max_retry: 3}\n", 3, "reports.healthy_wifi.max_retry", "unknown key"),
    ],
)
def test_reports_config_problems_name_line_and_field(
    tmp_path: Path, section: str, line: int, field: str, message: str
) -> None:
    path = tmp_path / "edumon.yaml"
    path.write_text("sites: []\nreports:\n" + section)
    [problem] = check_config(path, PLUGINS, {})
    assert (problem.line, problem.field) == (line, field)
    assert message in problem.message


def test_example_city_has_a_reports_section() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "city.yaml"
    env = {
        n: "test-only" for n in ("EDUMON_SNMP_COMMUNITY", "EDUMON_SNMP_AUTH", "EDUMON_SNMP_PRIV")
    }
    reports = load_config(example, PLUGINS, env).reports
    assert reports.timezone == "Europe/Riga" and reports.holidays
    assert reports.opening_window(date(2026, 11, 30)) is None  # closed on Mondays


def test_tag_values_are_quoted_for_influxql() -> None:
    assert quote_tag("it's") == "'it\\'s'"


@pytest.mark.parametrize("partial", [False, True])
def test_kpi_points_are_the_contract_and_partial_reports_leave_the_city_alone(
    partial: bool,
) -> None:
    report = Report("2026-11", 1_793_484_000 * S, 1_796_076_000 * S, {"a": "A"}, partial=partial)
    report.rows = [
        KpiRow("a", "uplink_availability_pct", 99.7199),
        KpiRow(CITY, "uplink_availability_pct", 99.7199),
        KpiRow("a", "mean_time_to_recover_min", None),  # no value: no point
    ]
    samples = kpi_samples(report)
    assert [(s.measurement, dict(s.tags), dict(s.fields), s.time_ns) for s in samples] == [
        (
            "kpi",
            {"kpi": "uplink_availability_pct", "site": site, "period": "2026-11"},
            {"value": 99.7199},
            report.start_ns,
        )
        for site in (["a"] if partial else ["a", CITY])
    ]


def test_open_data_is_refused_without_base_url_or_contact(tmp_path: Path) -> None:
    report = Report("2026-11", 0, 3600 * S, {"a": "School A"})
    unset = OpenData()
    with pytest.raises(PublicationRefused, match=r"base_url.*contact_email"):
        write_open_data(report, unset, tmp_path)
    assert not any(tmp_path.iterdir())  # nothing half-published
    ready = OpenData(base_url="https://data.example/kpi", contact_email="it@example.org")
    assert ready.publication_problems() == []
    with pytest.raises(ValueError, match="base_url"):
        OpenData(base_url="kpi/")  # relative: not a harvestable IRI


def test_one_catalog_over_every_published_period(tmp_path: Path) -> None:
    meta = OpenData(base_url="https://data.example/kpi/", contact_email="it@example.org")
    for period in ("2026-10", "2026-11", "2026-10"):  # October re-run: still one dataset
        write_open_data(Report(period, 0, 3600 * S, {"a": "School A"}), meta, tmp_path)
    catalog = json.loads((tmp_path / "catalog.jsonld").read_text(encoding="utf-8"))
    assert catalog["@id"] == "https://data.example/kpi/catalog.jsonld"
    assert [d["@id"] for d in catalog["dcat:dataset"]] == [
        "https://data.example/kpi/2026-10/",
        "https://data.example/kpi/2026-11/",
    ]
    issued = [d["dct:issued"]["@value"] for d in catalog["dcat:dataset"]]
    assert catalog["dct:issued"]["@value"] == min(issued)


def test_numbers_in_the_report_language() -> None:
    assert percent(99.7199, "lv") == "99,72 %" and percent(99.7199, "en") == "99.72 %"
    assert number(1234567, "lv") == "1\u202f234\u202f567" == number(1234567, "en")
    assert [duration(s) for s in (2700, 7500, 48 * 3600)] == [
        "0 h 45 min",
        "2 h 05 min",
        "48 h 00 min",
    ]
