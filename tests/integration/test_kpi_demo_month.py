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
import os
import re
import secrets
import shutil
import subprocess
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyshacl
import pytest
import yaml
from matplotlib.figure import Figure
from matplotlib.text import Text
from rdflib import Graph
from rdflib.namespace import SH

from gateway.config import EdumonConfig, load_config
from gateway.devstack.servers import InfluxDB1, free_port
from gateway.plugins import PLUGINS
from gateway.reports import charts
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
# the month's 45 min vsk-3 outage of 18 Nov, between two hourly core-switch polls
UPLINK_DOWN = ("2026-11-05T12:00:00Z", "2026-11-05T12:45:00Z")
DB = "demo_month"
SHAPES = Path(__file__).parents[1] / "shapes" / "dcat-ap-3.ttl"


def demo_config(tmp_path: Path, influxdb: InfluxDB1) -> EdumonConfig:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE_CITY.read_text(encoding="utf-8"))
    data["sites"] = [site for site in data["sites"] if site["id"] in SITES]
    data.pop("topology")  # its roots are in city-net, not one of these four sites
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
    events.append(
        {"kind": "uplink_down", "site": "vsk-3", "from": UPLINK_DOWN[0], "to": UPLINK_DOWN[1]}
    )
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


PAGE_WIDTH = 1280
MEASURE = (
    "<script>addEventListener('load', () => document.body.insertAdjacentHTML('beforeend',"
    " `<pre id='measured'>${document.documentElement.scrollWidth}"
    " ${document.documentElement.scrollHeight}</pre>`))</script>"
)
SCREENSHOTS = Path(os.environ["KPI_SCREENSHOT_DIR"]) if "KPI_SCREENSHOT_DIR" in os.environ else None


def rendered(html: Path, tmp_path: Path) -> tuple[str, int]:
    """The DOM headless Chromium built from the report at 1280 px, and the page's scroll width
    there (read by a copy of the page with a measuring script: the report has none); a
    full-page screenshot at 1280 px, kept in $KPI_SCREENSHOT_DIR when it is set."""
    common = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    common += ["--disable-background-networking", "--disable-component-update"]
    common += ["--disable-sync", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}"]
    measuring = tmp_path / f"measure-{html.name}"
    measuring.write_text(html.read_text(encoding="utf-8") + MEASURE, encoding="utf-8")
    size = f"--window-size={PAGE_WIDTH},900"
    measured = _chromium(common, size, "--dump-dom", measuring.as_uri())
    found = re.search(r"<pre id=\"measured\">(\d+) (\d+)</pre>", measured)
    assert found, "the measuring script did not run"
    width, height = int(found[1]), int(found[2])
    png = tmp_path / f"{html.stem}.png"
    _chromium(common, f"--window-size={PAGE_WIDTH},{height}", f"--screenshot={png}", html.as_uri())
    assert png.stat().st_size > 10_000
    if SCREENSHOTS is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(png, SCREENSHOTS / png.name)
    return _chromium(common, size, "--dump-dom", html.as_uri()), width


def _chromium(*args: str | list[str]) -> str:
    command = [a for arg in args for a in ([arg] if isinstance(arg, str) else arg)]
    return subprocess.run(command, check=True, capture_output=True, timeout=120).stdout.decode()


def labels_outside(figure: Figure) -> list[str]:
    """The texts of a chart that reach past its image (matplotlib's own extents)."""
    figure.canvas.draw()
    box = figure.bbox
    outside = []
    for artist in figure.findobj(Text):
        if not (artist.get_visible() and artist.get_text()):
            continue
        extent = artist.get_window_extent()
        inside = box.x0 - 0.5 <= extent.x0 and extent.x1 <= box.x1 + 0.5
        if not (inside and box.y0 - 0.5 <= extent.y0 and extent.y1 <= box.y1 + 0.5):
            outside.append(artist.get_text())
    return outside


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
    dom, width = rendered(files[0], tmp_path)
    assert width <= PAGE_WIDTH  # every table fits, or scrolls inside its own box
    names = {s.id: s.name for s in config.sites}
    # the headline: city availability, healthy Wi-Fi, pages, the least available school
    headline = dom.split('<section class="headline"')[1].split("</section>")[0]
    city_availability = report.value("city", "uplink_availability_pct")
    assert f"<b>{city_availability:.2f} %</b>" in headline
    assert "Classrooms with healthy Wi-Fi" in headline and "Network pages" in headline
    assert "Least available school" in headline
    table = dom.split("<h2>All KPIs</h2>")[1].split("</table>")[0]
    columns = re.findall(r"<th>(.*?)</th>", table)[1:]
    city = dict(zip(columns, cells(table, "City-wide"), strict=True))
    assert (
        city["Classrooms with healthy Wi-Fi"]
        == f"{report.value('city', 'healthy_wifi_classrooms_pct'):.2f} %"
    )
    assert re.fullmatch(r"\d+", city["Network pages"]) and re.fullmatch(r"\d+", city["Open pages"])
    school = dict(zip(columns, cells(table, names["vsk-1"]), strict=True))
    assert school["Uplink capacity"] == "10\u202f000 Mbit/s"
    # one duration format everywhere: H h MM min
    durations = re.findall(r"<td>(\d+ (?:h|min)[^<]*)</td>", dom)
    assert durations and all(re.fullmatch(r"\d+ h \d{2} min", d) for d in durations), durations
    assert ".0 min" not in dom and "2.00<" not in dom
    # the city's unknown time is edumon's 3 h outage, not 3 h per site
    availability = re.search(
        r"<summary>.*?</summary><div class=\"scroll\"><table>(.*?)</table>", dom, re.S
    )
    assert (
        availability and f"<td>City-wide</td><td>{city_availability:.2f} %</td>" in availability[1]
    )
    assert re.search(r"<td>City-wide</td><td>[\d.]+ %</td><td>[^<]+</td><td>3 h 00 min</td>", dom)
    # incidents in the city's time zone (EET in November); pages apart from warnings
    incidents = dom.split("<h2>Incidents</h2>")[1].split("<h2>")[0]
    assert " UTC" not in incidents and "EET" in dom and "(Europe/Riga)" in dom
    severities = dom.split("<h2>Incidents by severity</h2>")[1].split("</table>")[0]
    assert cells(severities, "page (network, on call)")[0] == city["Network pages"]
    assert "AccessPointDown: a Wi-Fi access point is off" in incidents
    # every chart: an alt text with its figures, and the same figures as a table
    alts = re.findall(r"<img alt=\"([^\"]*)\"", dom)
    assert len(alts) == 3 and len(re.findall(r"<details>", dom)) == 3
    assert all((names["vsk-2"] in alt and "%" in alt) or "min" in alt for alt in alts)
    assert "The axis starts at 99.50 %" in dom or "The axis starts at" in dom
    assert 'alt="chart"' not in dom and "healthy_wifi" not in dom.split("<h2>Definitions")[1]


def test_incidents_last_as_long_as_the_outage_the_chart_shows(
    produced: tuple[EdumonConfig, Report, list[Path]], influxdb: InfluxDB1
) -> None:
    """vsk-3's uplink down for 45 min between two hourly polls of its core switch: the alert
    fires on one poll and resolves on the next + keep_firing_for (1 h 05 min), the report's
    incident lasts the 45 min the timeline shows, and so does every core incident."""
    report = produced[1]
    answer = influxdb.query(
        'SELECT "firing" FROM "alert" WHERE "alertname" = \'UplinkDown\'', db=DB
    )
    raw = [(t, firing) for t, firing in answer["results"][0]["series"][0]["values"]]
    assert [firing for _, firing in raw] == [True, False]
    assert raw[1][0] - raw[0][0] == 65 * 60 * 10**9  # the next poll at 13:00 + keep_firing_for 5m
    (outage,) = [i for i in report.incidents if i.alertname == "UplinkDown"]
    assert outage.site == "vsk-3" and outage.recover_s == 45 * 60
    assert report.value("city", "mean_time_to_recover_min") == 45
    for incident in report.incidents:
        if incident.tier != "core" or incident.recovered_ns is None:
            continue
        timeline = report.uplink_timelines[incident.site]
        down = timeline.duration(False, incident.started_ns, incident.recovered_ns)
        assert down == incident.recovered_ns - incident.started_ns


def test_no_chart_label_leaves_its_image(
    produced: tuple[EdumonConfig, Report, list[Path]],
) -> None:
    report = produced[1]
    for language in ("en", "lv"):
        translated = replace(report, language=language)
        sites = list(report.site_names)
        for chart in (charts.availability, charts.timeline, charts.utilisation):
            figure = chart(translated, sites).figure
            assert labels_outside(figure) == [], (chart.__name__, language)


def test_the_report_in_latvian(
    produced: tuple[EdumonConfig, Report, list[Path]], tmp_path: Path
) -> None:
    config, report, _ = produced
    html = tmp_path / "report-lv.html"
    title = config.reports.open_data.title_in("lv")
    html.write_text(render(replace(report, language="lv"), title), encoding="utf-8")
    dom, width = rendered(html, tmp_path)
    assert width <= PAGE_WIDTH
    assert '<html lang="lv">' in dom and "Ventspils skolu tīkla rādītāji" in dom
    for words in ("Pieslēguma pieejamība", "Klases ar labu Wi-Fi", "Visa pilsēta", "Definīcijas"):
        assert words in dom
    assert '<section class="headline"' in dom and "Skola ar zemāko pieejamību" in dom
    for english in ("City-wide", "Uplink availability", ">page<", ">warning<", ">info<"):
        assert english not in dom
    assert "brīdinājums" in dom and "AccessPointDown: Wi-Fi piekļuves punkts nedarbojas" in dom
    # Latvian numbers: decimal comma, thin-space thousands
    city = report.value("city", "uplink_availability_pct")
    assert f"{city:.2f} %".replace(".", ",") in dom
    assert not re.search(r"\d\.\d+ %", dom) and "10\u202f000 Mbit/s" in dom


def dcat_ap_violations(catalog: dict[str, Any]) -> set[str]:
    """The paths of the DCAT-AP 3 shapes (tests/shapes/dcat-ap-3.ttl) the catalog violates."""
    graph = Graph().parse(data=json.dumps(catalog), format="json-ld")
    shapes = Graph().parse(SHAPES, format="turtle")
    conforms, results, _ = pyshacl.validate(graph, shacl_graph=shapes)
    paths = set(results.objects(None, SH.resultPath))
    assert conforms == (not paths)
    return {graph.namespace_manager.normalizeUri(p) for p in paths}


def test_open_data_is_one_dcat_ap_3_catalog(
    produced: tuple[EdumonConfig, Report, list[Path]],
) -> None:
    config, report, files = produced
    (catalog_file,) = [f for f in files if f.name == "catalog.jsonld"]
    assert catalog_file.parent == files[0].parent.parent  # above the periods, over them all
    catalog = json.loads(catalog_file.read_text(encoding="utf-8"))
    assert dcat_ap_violations(catalog) == set()
    base = config.reports.open_data.base_url
    assert catalog["@id"] == f"{base}/catalog.jsonld"
    assert catalog["dct:spatial"]["@id"] == "https://sws.geonames.org/454310/"
    (dataset,) = catalog["dcat:dataset"]
    start = datetime.fromisoformat(dataset["dct:temporal"]["dcat:startDate"]["@value"])
    assert start == datetime.fromtimestamp(report.start_ns / 1e9, UTC)
    assert {d["dcat:downloadURL"]["@id"] for d in dataset["dcat:distribution"]} == {
        f"{base}/{report.period}/kpis.csv",
        f"{base}/{report.period}/kpis.json",
    }
    # without a contact point the catalog is refused by the shapes
    del catalog["dcat:contactPoint"]
    assert dcat_ap_violations(catalog) == {"dcat:contactPoint"}
    del dataset["dcat:contactPoint"]
    assert dcat_ap_violations(catalog) == {"dcat:contactPoint"}
