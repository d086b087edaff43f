"""The HTML report: one self-contained file (charts are PNGs embedded as base64, no scripts,
nothing fetched), readable by a person and printable, in `reports.language`.

A headline box comes first (city availability, healthy Wi-Fi, network pages, the least
available school). Every chart has an alt text that states its figures and a table of the same
figures below it; every table sits in a box that scrolls sideways on a narrow page, so the page
itself never does. Numbers are written the language's way (gateway/reports/numbers.py),
durations in one format, times in the city's time zone."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import datetime
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

import matplotlib.pyplot as plt

from gateway.reports import charts
from gateway.reports.alert_words import alert_label
from gateway.reports.language import Language, kpi_definition, kpi_name, text
from gateway.reports.model import CITY, KPIS, Report
from gateway.reports.numbers import duration, number, percent

STYLE = """
body { font-family: sans-serif; margin: 2em auto; padding: 0 1.5em; color: #222;
       max-width: 76em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 0.8em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.4em; text-align: right; }
th { vertical-align: bottom; max-width: 7em; hyphens: auto; }
td { white-space: nowrap; }
th:first-child, td:first-child { text-align: left; white-space: normal; min-width: 9em; }
.note { color: #555; font-size: 0.9em; }
img { max-width: 100%; height: auto; }
.headline { display: grid; grid-template-columns: repeat(auto-fit, minmax(14em, 1fr));
            gap: 0.8em; margin: 1em 0; }
.headline div { border: 1px solid #b8cbe0; background: #f3f7fc; border-radius: 6px;
                padding: 0.7em 1em; }
.headline b { display: block; font-size: 1.7em; margin: 0.15em 0; }
.headline span { color: #555; font-size: 0.85em; }
"""
Rows = Sequence[tuple[str, ...]]
SEVERITIES = ("page", "warning", "info")


def write_html(report: Report, title: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report, title), encoding="utf-8")
    return path


def render(report: Report, title: str) -> str:
    sites, lang = list(report.site_names), report.language
    zone = ZoneInfo(report.timezone)
    period = text(
        "period",
        lang,
        start=local_time(report.start_ns, zone),
        end=local_time(report.end_ns, zone),
        zone=report.timezone,
    )
    availability = charts.availability(report, sites)
    parts = [
        f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)} {escape(report.period)}</title>"
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}: {escape(report.period)}</h1>",
        f"<p class='note'>{escape(period)} {escape(text('unknown_note', lang))}</p>",
        headline(report),
        f"<h2>{text('availability', lang)}</h2>",
        _chart(availability, lang),
        f"<h2>{text('timeline', lang)}</h2>",
        _chart(charts.timeline(report, sites), lang),
        f"<h2>{text('utilisation', lang)}</h2>",
        _chart(charts.utilisation(report, sites), lang),
        f"<h2>{text('all_kpis', lang)}</h2>",
        _kpi_table(report, [*sites, CITY]),
        f"<h2>{text('by_severity', lang)}</h2>",
        _severity_table(report),
        f"<h2>{text('incidents', lang)}</h2>",
        _incident_table(report, zone),
        f"<h2>{text('definitions', lang)}</h2><dl>",
        *(
            f"<dt><b>{escape(kpi_name(k, lang))}</b></dt><dd>{escape(kpi_definition(k, lang))}</dd>"
            for k in KPIS
        ),
        "</dl></body></html>",
    ]
    return "\n".join(parts)


def headline(report: Report) -> str:
    """The four figures a council asks for first."""
    lang = report.language
    schools = [
        (value, site)
        for site in report.school_ids
        if (value := report.value(site, "uplink_availability_pct")) is not None
    ]
    worst = min(schools, default=None)
    mttr = report.value(CITY, "mean_time_to_recover_min")
    open_pages = report.value(CITY, "open_incidents") or 0
    boxes = [
        (kpi_name("uplink_availability_pct", lang), report.value(CITY, "uplink_availability_pct")),
        (
            kpi_name("healthy_wifi_classrooms_pct", lang),
            report.value(CITY, "healthy_wifi_classrooms_pct"),
        ),
    ]
    cards = [
        f"<div>{escape(name)}<b>{escape(percent(value, lang))}</b></div>" for name, value in boxes
    ]
    pages_note = text(
        "pages_note",
        lang,
        open=number(open_pages, lang),
        mttr="-" if mttr is None else duration(mttr * 60),
    )
    cards.append(
        f"<div>{escape(text('pages', lang))}"
        f"<b>{escape(number(report.value(CITY, 'incidents') or 0, lang))}</b>"
        f"<span>{escape(pages_note)}</span></div>"
    )
    if worst is not None:
        cards.append(
            f"<div>{escape(text('worst_school', lang))}<b>{escape(percent(worst[0], lang))}</b>"
            f"<span>{escape(report.label(worst[1]))}</span></div>"
        )
    return (
        f"<section class='headline' aria-label='{escape(text('headline', lang))}'>"
        + "".join(cards)
        + "</section>"
    )


def _chart(chart: charts.Chart, lang: Language) -> str:
    buffer = io.BytesIO()
    chart.figure.savefig(buffer, format="png", dpi=90)
    plt.close(chart.figure)
    data = base64.b64encode(buffer.getvalue()).decode()
    note = f"<p class='note'>{escape(chart.note)}</p>" if chart.note else ""
    summary = escape(text("table", lang))
    return (
        f"<p><img alt='{escape(chart.alt)}' src='data:image/png;base64,{data}'></p>{note}"
        f"<details><summary>{summary}</summary>{_table(chart.head, chart.cells)}</details>"
    )


def _table(head: tuple[str, ...], rows: Rows) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<div class='scroll'><table><tr>{header}</tr>{body}</table></div>"


def _kpi_table(report: Report, sites: list[str]) -> str:
    lang = report.language
    head = (text("site", lang), *(kpi_name(k, lang) for k in KPIS))
    rows = [
        (
            report.label(site),
            *(formatted(report.value(site, kpi), KPIS[kpi].unit, lang) for kpi in KPIS),
        )
        for site in sites
    ]
    return _table(head, rows)


def _severity_table(report: Report) -> str:
    """City-wide incidents, open ones and mean time to recover per severity: the network
    pages apart from warnings and information."""
    lang = report.language
    rows = []
    for severity in SEVERITIES:
        found = [i for i in report.incidents if i.severity == severity]
        recovered = [i.recover_s for i in found if i.recover_s is not None]
        mean = duration(sum(recovered) / len(recovered)) if recovered else "-"
        still_open = len(found) - len(recovered)
        rows.append(
            (text(severity, lang), number(len(found), lang), number(still_open, lang), mean)
        )
    head = ("severity", "count", "open", "recovered_in")
    return _table(tuple(text(k, lang) for k in head), rows)


def _incident_table(report: Report, zone: ZoneInfo) -> str:
    lang = report.language
    if not report.incidents:
        return f"<p>{escape(text('no_incidents', lang))}</p>"
    rows = [
        (
            alert_label(i.alertname, lang),
            text(i.severity, lang) if i.severity in SEVERITIES else i.severity,
            report.label(i.site) if i.site else "-",
            i.device or "-",
            local_time(i.started_ns, zone),
            text("open", lang) if i.recover_s is None else duration(i.recover_s),
        )
        for i in report.incidents
    ]
    keys = ("alert", "severity", "site", "device", "started", "recovered_in")
    return _table(tuple(text(k, lang) for k in keys), rows)


def formatted(value: float | None, unit: str, lang: Language) -> str:
    """A KPI value as the council reads it: counts and speeds as integers, durations in h and
    min, percentages with two decimals."""
    if value is None:
        return "-"
    if unit == "count":
        return number(value, lang)
    if unit == "Mbit/s":
        return number(value, lang) + " Mbit/s"
    if unit == "min":
        return duration(value * 60)
    return percent(value, lang)


def local_time(time_ns: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(time_ns / 1e9, zone).strftime("%Y-%m-%d %H:%M %Z")
