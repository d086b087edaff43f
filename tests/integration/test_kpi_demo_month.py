"""The demo city's month (examples/history-2026-11.yaml, cut to four days and four sites so
that it generates in seconds, plus an edumon outage) through the real history generator into
a real influxd, its report rendered by headless Chromium and read back as a council would.

The healthy-Wi-Fi figure is recomputed here from the raw `wifi_ap` points, not from the
report's queries; the formatting rules (integers, durations in h/min, the city's time zone,
the city's own unknown hours, alt texts and table fallbacks, Latvian) are checked on the HTML
Chromium rendered."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import subprocess
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.config import EdumonConfig, load_config
from gateway.devstack.servers import InfluxDB1, free_port
from gateway.plugins import PLUGINS
from gateway.reports.html import render
from gateway.reports.model import Report
from gateway.reports.produce import STEPS, produce
from simulators.history.generator import write_history
from simulators.history.scenario import HistoryScenario
from tests.dashboards.simulated_city import EXAMPLE_CITY, SECRET_VARIABLES
from tests.integration.test_kpi_report import chromium

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DEMO_MONTH = EXAMPLE_CITY.parent / "history-2026-11.yaml"
SITES = ("vsk-1", "vsk-2", "vsk-3", "vizium")  # vsk-2's room 102 AP is off 3-5 Nov
FIRST, END = date(2026, 11, 3), date(2026, 11, 6)  # Tuesday to Thursday, Riga
EDUMON_DOWN = ("2026-11-04T00:00:00Z", "2026-11-04T03:00:00Z")  # 3 h of the whole city
DB = "demo_month"


def demo_config(tmp_path: Path, influxdb: InfluxDB1) -> EdumonConfig:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE_CITY.read_text(encoding="utf-8"))
    data["sites"] = [site for site in data["sites"] if site["id"] in SITES]
    data["lorawan"]["codec_dir"] = str(EXAMPLE_CITY.parent / data["lorawan"]["codec_dir"])
    for site in data["sites"]:
        for device in site["devices"]:
            if device["kind"] == "switch":
                device["port"] = free_port(device["address"])
    data["service"] = {"state_dir": str(tmp_path / "state")}
    data["influxdb"] = {"url": influxdb.url, "database": DB}
    data.pop("alertmanager", None)
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_config(
        path, PLUGINS, {name: secrets.token_urlsafe(12) for name in SECRET_VARIABLES}
    )


def demo_days() -> HistoryScenario:
    month: dict[str, Any] = yaml.safe_load(DEMO_MONTH.read_text(encoding="utf-8"))
    start, end = "2026-11-02T22:00:00Z", "2026-11-05T22:00:00Z"
    events = [
        {**e, "from": max(str(e["from"]), start), "to": min(str(e["to"]), end)}
        for e in month["events"]
        if e.get("site", SITES[0]) in SITES and str(e["from"]) < end and str(e["to"]) > start
    ]
    events.append({"kind": "edumon_down", "from": EDUMON_DOWN[0], "to": EDUMON_DOWN[1]})
    return HistoryScenario.model_validate(month | {"start": start, "end": end, "events": events})


STEPS_SEEN: Counter[str] = Counter()  # the progress bars' advances, per command


@pytest.fixture(scope="module")
def produced(
    influxdb: InfluxDB1, tmp_path_factory: pytest.TempPathFactory
) -> tuple[EdumonConfig, Report, list[Path]]:
    tmp = tmp_path_factory.mktemp("demo-month")
    influxdb.create_database(DB)
    config = demo_config(tmp, influxdb)
    asyncio.run(write_history(config, demo_days(), lambda: STEPS_SEEN.update(["history"])))
    report, files = asyncio.run(
        produce(
            config,
            FIRST,
            END,
            None,
            tmp / "reports",
            write=False,
            on_step=lambda: STEPS_SEEN.update(["kpi"]),
        )
    )
    return config, report, files


def test_progress_bars_reach_their_totals(
    produced: tuple[EdumonConfig, Report, list[Path]],
) -> None:
    assert {"history": demo_days().ticks, "kpi": STEPS} == STEPS_SEEN


def independent_healthy_wifi(influxdb: InfluxDB1, report: Report, config: EdumonConfig) -> float:
    """From the raw points: hourly means per radio, a room's hour healthy when all its radios
    reported within the limits, a room healthy in >= 95 % of its school's reported hours;
    classrooms are the schools' rooms (not the science centre's halls)."""
    limits = config.reports.healthy_wifi
    schools = {site.id for site in config.sites if site.kind == "school"}
    answer = influxdb.query(
        'SELECT "channel_util_pct", "retry_pct", "noise_dbm" FROM "wifi_ap" '
        f"WHERE \"band\" != 'all' AND time >= {report.start_ns} AND time < {report.end_ns} "
        'GROUP BY "site", "room", "ap", "band"',
        db=DB,
    )
    sums: dict[tuple[str, str, str], dict[int, list[list[float]]]] = defaultdict(dict)
    for series in answer["results"][0]["series"]:
        tags = series["tags"]
        if tags["site"] not in schools:
            continue
        radio = (tags["site"], tags["room"], f"{tags['ap']}/{tags['band']}")
        for t, *values in series["values"]:
            sums[radio].setdefault(t // (3600 * 10**9), []).append(values)
    school_hours: dict[str, set[int]] = defaultdict(set)
    rooms: dict[tuple[str, str], dict[str, dict[int, bool]]] = defaultdict(dict)
    for (site, room, radio), by_hour in sums.items():
        school_hours[site] |= set(by_hour)
        rooms[(site, room)][radio] = {
            hour: all(
                sum(column) / len(column) <= limit
                for column, limit in zip(
                    zip(*samples, strict=True),
                    (limits.max_channel_util_pct, limits.max_retry_pct, limits.max_noise_dbm),
                    strict=True,
                )
            )
            for hour, samples in by_hour.items()
        }
    healthy = 0
    for (site, _room), radios in rooms.items():
        hours = school_hours[site]
        good = sum(all(r.get(h, False) for r in radios.values()) for h in hours)
        healthy += 100 * good >= limits.min_healthy_share_pct * len(hours)
    return round(100 * healthy / len(rooms), 4)


def rendered(html: Path, tmp_path: Path) -> str:
    """The DOM headless Chromium built from the file (and a screenshot, to be sure it drew)."""
    common = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    common += ["--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}"]
    png = tmp_path / "report.png"
    subprocess.run(
        [*common, f"--screenshot={png}", "--window-size=1200,2400", html.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert png.stat().st_size > 10_000
    dom = subprocess.run(
        [*common, "--dump-dom", html.as_uri()], check=True, capture_output=True, timeout=120
    )
    return dom.stdout.decode()


def cells(table: str, row_label: str) -> list[str]:
    """The cells after the label of a table's row for `row_label`."""
    row = re.search(rf"<tr><td>{re.escape(row_label)}</td>(.*?)</tr>", table)
    assert row, row_label
    return re.findall(r"<td>(.*?)</td>", row.group(1))


def test_healthy_wifi_is_meaningful_and_recomputed_from_raw_points(
    produced: tuple[EdumonConfig, Report, list[Path]], influxdb: InfluxDB1
) -> None:
    config, report, _ = produced
    figure = report.value("city", "healthy_wifi_classrooms_pct")
    assert figure == independent_healthy_wifi(influxdb, report, config)
    assert figure is not None and 50 <= figure < 100  # vsk-2's room 102 was off two days


def test_the_report_reads_right_in_chromium(
    produced: tuple[EdumonConfig, Report, list[Path]], tmp_path: Path
) -> None:
    config, report, files = produced
    dom = rendered(files[0], tmp_path)
    names = {s.id: s.name for s in config.sites}
    table = dom.split("<h2>All KPIs</h2>")[1].split("</table>")[0]
    columns = re.findall(r"<th>(.*?)</th>", table)[1:]
    city = dict(zip(columns, cells(table, "City-wide"), strict=True))
    assert (
        city["Classrooms with healthy Wi-Fi"]
        == f"{report.value('city', 'healthy_wifi_classrooms_pct'):.2f} %"
    )
    assert re.fullmatch(r"\d+", city["Incidents"]) and re.fullmatch(r"\d+", city["Open incidents"])
    school = dict(zip(columns, cells(table, names["vsk-1"]), strict=True))
    assert school["Uplink capacity"] == "10\u202f000 Mbit/s"
    assert re.fullmatch(r"\d+ (h \d{2} )?min|-", city["Mean time to recover"])
    assert ".0 min" not in dom and "2.00<" not in dom
    # the city's unknown time is edumon's 3 h outage, not 3 h per site
    availability = re.search(r"<summary>.*?</summary><table>(.*?)</table>", dom, re.S)
    assert (
        availability
        and f"<td>City-wide</td><td>{report.row('city', 'uplink_availability_pct').value:.2f} %</td>"
        in availability.group(1)
    )
    assert re.search(r"<td>City-wide</td><td>[\d.]+ %</td><td>[^<]+</td><td>3 h 0 min</td>", dom)
    # incidents in the city's time zone (EET in November), durations in h and min
    assert " UTC" not in dom.split("<h2>Incidents</h2>")[1].split("<h2>")[0]
    assert "EET" in dom and "(Europe/Riga)" in dom
    # every chart: an alt text with its figures, and the same figures as a table
    alts = re.findall(r"<img alt=\"([^\"]*)\"", dom)
    assert len(alts) == 3 and len(re.findall(r"<details>", dom)) == 3
    assert all((names["vsk-2"] in alt and "%" in alt) or "min" in alt for alt in alts)
    assert 'alt="chart"' not in dom and "healthy_wifi" not in dom.split("<h2>Definitions")[1]


def test_the_report_in_latvian(
    produced: tuple[EdumonConfig, Report, list[Path]], tmp_path: Path
) -> None:
    report = produced[1]
    html = tmp_path / "lv.html"
    html.write_text(
        render(replace(report, language="lv"), "Skolu tīkla rādītāji"), encoding="utf-8"
    )
    dom = rendered(html, tmp_path)
    assert '<html lang="lv">' in dom
    for words in ("Pieslēguma pieejamība", "Klases ar labu Wi-Fi", "Visa pilsēta", "Definīcijas"):
        assert words in dom
    assert "City-wide" not in dom and "Uplink availability" not in dom


def test_open_data_has_dcat_ap_metadata(produced: tuple[EdumonConfig, Report, list[Path]]) -> None:
    _, report, files = produced
    (catalog_file,) = [f for f in files if f.name == "catalog.jsonld"]
    catalog = json.loads(catalog_file.read_text(encoding="utf-8"))
    assert catalog["@type"] == "dcat:Catalog"
    dataset = catalog["dcat:dataset"]
    assert dataset["@type"] == "dcat:Dataset" and dataset["dct:license"]["@id"].startswith(
        "https://"
    )
    period = dataset["dct:temporal"]
    start = datetime.fromisoformat(period["dcat:startDate"]["@value"])
    assert start == datetime.fromtimestamp(report.start_ns / 1e9, UTC)
    formats = {d["dcat:mediaType"]["@id"].rpartition("/")[2] for d in dataset["dcat:distribution"]}
    assert formats == {"csv", "json"}
    assert {d["dcat:downloadURL"]["@id"] for d in dataset["dcat:distribution"]} == {
        "kpis.csv",
        "kpis.json",
    }
