"""The KPI report end to end: a month of simulated history with known outages written to a
real influxd, the report computed from it, its open data re-read, its KPIs written back, and
its HTML rendered by headless Chromium.

Every expected figure is derived from the scenario's events and the config's calendars
(tests/integration/kpi_scenario.py).
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest

from gateway.alerts.rules import load_rules
from gateway.cli import main
from gateway.config import EdumonConfig, load_config
from gateway.devstack.servers import InfluxDB1
from gateway.plugins import PLUGINS
from gateway.reports.model import Report
from gateway.reports.produce import produce
from simulators.history.generator import write_history
from tests.integration.kpi_scenario import (
    CONFIG,
    END,
    FIRST,
    HOLIDAY,
    HOUR,
    OPENING,
    PERIOD_END,
    PERIOD_START,
    SCENARIO,
    expected_incidents,
    hours,
    local_midnight,
    opening_windows,
    utc,
)
from tests.unavailable import unavailable

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ENVIRON = {"KPI_TEST_COMMUNITY": "fake-community-for-tests"}
RULES = {rule.name: rule for rule in load_rules()}


@pytest.fixture(scope="module")
def config_path(influxdb: InfluxDB1, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("kpi")
    path = tmp / "city.yaml"
    opening = json.dumps(OPENING)
    path.write_text(CONFIG.format(url=influxdb.url, state=tmp / "state", opening=opening))
    return path


@pytest.fixture(scope="module")
def config(config_path: Path) -> EdumonConfig:
    return load_config(config_path, PLUGINS, environ=ENVIRON)


@pytest.fixture(scope="module")
def history(config: EdumonConfig) -> dict[str, int]:
    return dict(asyncio.run(write_history(config, SCENARIO)))


@pytest.fixture(scope="module")
def produced(
    config: EdumonConfig, history: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Report, list[Path]]:
    out = tmp_path_factory.mktemp("reports")
    return asyncio.run(produce(config, FIRST, END, None, out))


def test_history_went_through_the_real_collectors(history: dict[str, int]) -> None:
    hourly_ticks = 720 + 1  # both ends of the month included
    inside_gap = int(hours("edumon_down")) - 1  # strictly between its bounds: 01:00..05:00
    polls = (hourly_ticks - inside_gap) * 3  # three core switches
    assert history["device"] == polls
    assert history["interface"] == polls * 50  # 48 access ports + 2 uplinks per switch
    # the real alert engine ran: every scripted incident fired, and what followed from it
    incidents = expected_incidents()
    resolves = sum(1 for *_, resolved in incidents if resolved is not None)
    assert history["alert"] > len(incidents) + resolves


def test_uplink_down_2h_in_a_30_day_month(produced: tuple[Report, list[Path]]) -> None:
    report = produced[0]
    period_h = (PERIOD_END - PERIOD_START).total_seconds() / HOUR
    assert period_h == 720
    gap_h = hours("edumon_down")
    assert gap_h == 6
    down_a = hours("uplink_down", "school-a")
    row = report.row("school-a", "uplink_availability_pct")
    assert (row.down_h, row.unknown_h, row.excluded_h) == (down_a, gap_h, 0)
    assert row.up_h == period_h - gap_h - down_a
    assert row.value == round(100 * (1 - down_a / (period_h - gap_h)), 4) == 99.7199
    assert f"{row.value:.2f}" == "99.72"

    holiday = (local_midnight(HOLIDAY[0]), local_midnight(HOLIDAY[1] + timedelta(1)))
    holiday_h = (holiday[1] - holiday[0]).total_seconds() / HOUR
    down_b = hours("uplink_down", "school-b") - hours("uplink_down", "school-b", within=holiday)
    row_b = report.row("school-b", "uplink_availability_pct")
    assert (
        (row_b.down_h, row_b.unknown_h, row_b.excluded_h)
        == (down_b, gap_h, holiday_h)
        == (1, 6, 48)
    )
    assert row_b.value == round(100 * (1 - down_b / (period_h - holiday_h - gap_h)), 4)

    city = report.row("city", "uplink_availability_pct")
    known = 3 * period_h - holiday_h - 3 * gap_h
    assert city.value == round(100 * (1 - (down_a + down_b) / known), 4)
    assert report.value("vizium", "uplink_availability_pct") == 100.0


def test_edumon_gap_is_unknown_not_up_or_down(produced: tuple[Report, list[Path]]) -> None:
    report = produced[0]
    for site in ("school-a", "school-b", "vizium"):
        assert report.row(site, "uplink_availability_pct").unknown_h == 6
        assert (
            report.row(
                site, "ipv6_reachability_pct" if site == "school-a" else "uplink_availability_pct"
            ).unknown_h
            == 6
        )
    value = report.value("school-a", "uplink_availability_pct")
    as_up, as_down = 100 * (1 - 2 / 720), 100 * (1 - 8 / 720)
    assert value is not None and abs(value - as_up) > 1e-3 and abs(value - as_down) > 0.5
    # no sample inside the gap counted as up, the timeline shows the hole
    gap_start = int(utc("2026-11-20T00:00:00").timestamp() * 1e9)
    assert report.uplink_timelines["school-a"].state_at(gap_start + HOUR * 10**9) is None


def test_exhibits_sensors_wifi_capacity_incidents(produced: tuple[Report, list[Path]]) -> None:
    report = produced[0]
    windows = opening_windows()
    open_h = sum((b - a).total_seconds() for a, b in windows) / HOUR
    gap = (utc("2026-11-20T00:00:00"), utc("2026-11-20T06:00:00"))
    assert not any(a < gap[1] and gap[0] < b for a, b in windows)  # the gap is at night
    down = sum(hours("device_offline", "vizium", within=w) for w in windows)
    assert down == 4  # the overnight and end-of-month outages fall outside opening hours
    row = report.row("vizium", "exhibit_availability_pct")
    assert (row.down_h, row.unknown_h) == (down, 0)
    assert row.value == round(100 * (1 - down / (3 * open_h)), 4)

    known_h = 720 - hours("edumon_down")
    silent = hours("sensor_silent", "school-a", "a-env-101")
    assert report.value("school-a", "sensor_completeness_pct") == round(
        100 * (1 - silent / known_h), 4
    )
    assert report.value("school-b", "sensor_completeness_pct") == 100.0

    # room 102's AP was off 48 h: healthy 1 - 48/714 = 93.3 % < 95 %; room 101 was fine
    assert report.value("school-a", "healthy_wifi_classrooms_pct") == 50.0
    assert report.value("school-b", "healthy_wifi_classrooms_pct") == 100.0
    assert report.value("city", "healthy_wifi_classrooms_pct") == round(100 * 2 / 3, 4)

    assert report.value("school-a", "uplink_capacity_mbps") == 10_000
    assert report.value("school-b", "uplink_capacity_mbps") == 1_000
    assert report.value("city", "schools_on_10g_pct") == 50.0
    p95 = report.value("school-a", "p95_uplink_util_pct")
    peak = report.value("school-a", "max_uplink_util_pct")
    assert p95 is not None and peak is not None and 0 < p95 <= peak <= 100

    expected = expected_incidents()
    assert [(i.alertname, i.site, i.started_ns // 10**9) for i in report.incidents] == [
        (name, site, fired) for name, site, fired, _ in sorted(expected, key=lambda e: e[2])
    ]
    # the incident KPIs count network pages; an uplink incident lasts its outage (the poll
    # that saw the uplink back, less the rule's keep_firing_for: outages end on the hour)
    pages = [e for e in expected if RULES[e[0]].severity == "page"]
    assert len(pages) < len(expected)  # the AP's warning and the sensor's info are apart
    assert report.value("city", "incidents") == len(pages)
    assert report.value("city", "open_incidents") == 1
    for site in ("school-a", "school-b", "vizium"):
        minutes = minutes_of(site, pages)
        assert report.value(site, "mean_time_to_recover_min") == round(
            sum(minutes) / len(minutes), 4
        )
    # e.g. school-a's 2 h outage: the alert fired at the poll that saw it and resolved 5 min
    # after the poll that saw the uplink back (125 min); the report says 120 min
    assert minutes_of("school-a", pages) == [120.0]
    assert sorted(minutes_of("school-a", expected)) == sorted([120.0, 48 * 60.0, 11 * 60 + 40.0])
    still_open = [i for i in report.incidents if i.recovered_ns is None]
    assert [(i.alertname, i.device) for i in still_open] == [("ExhibitOffline", "viz-bridge")]


def minutes_of(site: str, expected: list[tuple[str, str, int, int | None]]) -> list[float]:
    """The report's times to recover of the site's expected incidents, in minutes."""
    return [
        (r - f - (RULES[name].keep_firing_for if name == "UplinkDown" else 0)) / 60
        for name, s, f, r in expected
        if s == site and r is not None
    ]


def test_open_data_csv_equals_json_and_has_metadata(produced: tuple[Report, list[Path]]) -> None:
    report, files = produced
    folder = files[0].parent
    with (folder / "kpis.csv").open(newline="", encoding="utf-8") as handle:
        from_csv = list(csv.DictReader(handle))
    from_json = json.loads((folder / "kpis.json").read_text())["rows"]
    assert len(from_csv) == len(from_json) == len(report.rows) > 30

    def as_text(row: dict[str, Any]) -> dict[str, str]:
        return {k: "" if v is None else str(v) for k, v in row.items()}

    assert from_csv == [as_text(r) for r in from_json]
    for csv_row, json_row in zip(from_csv, from_json, strict=True):  # numbers survive the text
        if json_row["value"] is not None:
            assert float(csv_row["value"]) == json_row["value"]
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["title"] == "Test city school network KPIs, 2026-11"
    assert meta["licence"]["id"] == "CC-BY-4.0" and meta["period"]["label"] == "2026-11"
    assert meta["period"]["start"] == "2026-10-31T22:00:00+00:00"
    assert [c["name"] for c in meta["columns"]] == list(from_csv[0])
    units = {k["id"]: k["unit"] for k in meta["kpis"]}
    assert all(units[r["kpi"]] == r["unit"] for r in from_json)


def test_kpis_written_back_as_kpi_measurement(
    produced: tuple[Report, list[Path]], influxdb: InfluxDB1
) -> None:
    answer = influxdb.query(
        'SELECT "value" FROM "kpi" WHERE "kpi"=\'uplink_availability_pct\' GROUP BY "site", "period"',
        db="edumon",
    )
    series = answer["results"][0]["series"]
    got = {s["tags"]["site"]: (s["tags"]["period"], s["values"][0]) for s in series}
    start_ns = int(PERIOD_START.timestamp()) * 10**9
    assert got["school-a"] == ("2026-11", [start_ns, 99.7199])
    assert set(got) == {"school-a", "school-b", "vizium", "city"}


def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        unavailable("chromium not installed (apt install chromium)")
    return binary


def test_html_report_renders_in_headless_chromium(
    produced: tuple[Report, list[Path]], tmp_path: Path
) -> None:
    html = produced[1][0]
    text = html.read_text()
    assert "<td>99.72 %</td>" in text  # school A in the KPI table
    assert "<script" not in text and "http" not in text  # self-contained: nothing to fetch
    png = tmp_path / "report.png"
    subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            "--window-size=1200,2400",
            html.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = matplotlib.image.imread(png)
    assert image.shape[:2] == (2400, 1200)
    pixels = image[..., :3].reshape(-1, 3)
    white = (pixels > 0.97).all(axis=1).mean()
    assert 0.3 < white < 0.97  # mostly page, but with real content on it
    green = ((pixels[:, 1] > 0.45) & (pixels[:, 0] < 0.3) & (pixels[:, 2] < 0.45)).mean()
    assert green > 0.01  # the availability bars and timelines are drawn
    shutil.copy(png, Path(os.environ.get("KPI_SCREENSHOT_COPY", tmp_path / "copy.png")))


def test_cli_one_site_without_write_back(
    history: dict[str, int],
    config_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KPI_TEST_COMMUNITY", ENVIRON["KPI_TEST_COMMUNITY"])
    args = ["kpi", "--from", "2026-11-01", "--to", "2026-12-01", "--site", "school-b"]
    args += ["-c", str(config_path), "--out", str(tmp_path), "--no-write-back"]
    assert main(args) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1] == "2026-11: city uplink availability 99.85 %"
    rows = json.loads((tmp_path / "2026-11" / "kpis.json").read_text())["rows"]
    assert {r["site"] for r in rows} == {"school-b", "city"}
    city = [r for r in rows if (r["site"], r["kpi"]) == ("city", "uplink_availability_pct")]
    assert city[0]["value"] == round(100 * (1 - 1 / (720 - 48 - 6)), 4)
    assert city[0]["site_name"] == "Selected sites"
    assert main([*args[:-3], "--site", "nowhere", *args[-3:]]) == 2
