"""The HTML report: one self-contained file (charts are PNGs embedded as base64, no scripts,
nothing fetched), readable by a person and printable, in `reports.language`.

Every chart has an alt text that states its figures and a table of the same figures below it;
bar axes start at 0; counts print as integers, durations in h and min, times in the city's
time zone."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import datetime
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from gateway.reports.language import Language, kpi_definition, kpi_name, text
from gateway.reports.model import CITY, HOUR_NS, KPIS, Report
from gateway.reports.timeline import Timeline, combine, first_where_second

COLOURS = {"up": "#2e8b57", "down": "#d1342f", "unknown": "#b0b0b0", "not counted": "#dfe8f5"}
STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 70em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th:first-child, td:first-child { text-align: left; white-space: nowrap; }
.note { color: #555; font-size: 0.9em; }
img { max-width: 100%; }
"""
Rows = Sequence[tuple[str, ...]]


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
    parts = [
        f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'>"
        f"<title>{escape(title)} {escape(report.period)}</title>"
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}: {escape(report.period)}</h1>",
        f"<p class='note'>{escape(period)} {escape(text('unknown_note', lang))}</p>",
        f"<h2>{text('availability', lang)}</h2>",
        *_availability(report, sites),
        f"<h2>{text('timeline', lang)}</h2>",
        *_timeline(report, sites),
        f"<h2>{text('utilisation', lang)}</h2>",
        *_utilisation(report, sites),
        f"<h2>{text('all_kpis', lang)}</h2>",
        _kpi_table(report, [*sites, CITY]),
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


def _availability(report: Report, sites: list[str]) -> list[str]:
    lang = report.language
    shown = [s for s in [*sites, CITY] if report.value(s, "uplink_availability_pct") is not None]
    rows = [report.row(s, "uplink_availability_pct") for s in shown]
    labels = [report.label(s) for s in shown]
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(shown) + 1.2))
    bars = ax.barh(labels, [row.value or 0.0 for row in rows], color=COLOURS["up"])
    cells: list[tuple[str, ...]] = []
    for bar, label, row in zip(bars, labels, rows, strict=True):
        down, unknown = duration(_s(row.down_h)), duration(_s(row.unknown_h))
        note = (
            f"{percent(row.value)}  ({text('down_h', lang)} {down}, "
            f"{text('unknown_h', lang)} {unknown})"
        )
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + note, va="center")
        cells.append((label, percent(row.value), down, unknown))
    ax.set_xlim(0, 175)  # from 0; the room right of 100 % holds the labels
    ax.set_xticks(range(0, 101, 20))
    ax.invert_yaxis()
    ax.set_xlabel(text("availability_axis", lang))
    fig.tight_layout()
    summary = "; ".join(f"{label} {value}" for label, value, *_ in cells)
    head = (text("site", lang), "%", text("down_h", lang), text("unknown_h", lang))
    return [
        _img(fig, text("alt_availability", lang, summary=summary)),
        _details(lang, head, cells),
    ]


def _timeline(report: Report, sites: list[str]) -> list[str]:
    lang = report.language
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(sites) + 1.4))
    span_h = (report.end_ns - report.start_ns) / HOUR_NS
    cells: list[tuple[str, ...]] = []
    for y, site in enumerate(sites):
        ax.broken_barh([(0, span_h)], (y - 0.35, 0.7), color=COLOURS["not counted"])
        counted = report.uplink_counted.get(site, Timeline())
        state = combine(
            [report.uplink_timelines.get(site, Timeline()), counted], first_where_second
        )
        for name, timeline in (("unknown", counted), ("up", state), ("down", state)):
            bars = [
                (_hours_in(report, s), (min(e, report.end_ns) - max(s, report.start_ns)) / HOUR_NS)
                for s, e, value in timeline.segments
                if value is (name != "down") and e > report.start_ns and s < report.end_ns
            ]
            ax.broken_barh(bars, (y - 0.35, 0.7), color=COLOURS[name])
        totals = state.totals(report.start_ns, report.end_ns, counted)
        cells.append(
            (
                report.label(site),
                duration(totals.down_ns / 1e9),
                duration(totals.unknown_ns / 1e9),
            )
        )
    ax.set_yticks(range(len(sites)), [report.label(s) for s in sites])
    ax.set_xlim(0, span_h)
    ax.invert_yaxis()
    ax.set_xlabel(text("days_axis", lang))
    ticks = list(range(0, int(span_h) + 1, 24 * max(1, int(span_h) // (24 * 6))))
    ax.set_xticks(ticks, [str(h // 24) for h in ticks])
    ax.legend(
        handles=[Patch(color=c, label=text(n, lang)) for n, c in COLOURS.items()],
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        frameon=False,
        ncol=4,
    )
    fig.tight_layout()
    summary = "; ".join(f"{label} {down}, {unknown}" for label, down, unknown in cells)
    head = (text("site", lang), text("down_h", lang), text("unknown_h", lang))
    return [_img(fig, text("alt_timeline", lang, summary=summary)), _details(lang, head, cells)]


def _hours_in(report: Report, time_ns: int) -> float:
    return (max(time_ns, report.start_ns) - report.start_ns) / HOUR_NS


def _utilisation(report: Report, sites: list[str]) -> list[str]:
    lang = report.language
    shown = [s for s in sites if report.value(s, "p95_uplink_util_pct") is not None]
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(shown) + 1.3))
    ys = range(len(shown))
    p95 = [report.value(s, "p95_uplink_util_pct") or 0.0 for s in shown]
    peak = [report.value(s, "max_uplink_util_pct") or 0.0 for s in shown]
    ax.barh([y - 0.2 for y in ys], p95, height=0.4, label=text("p95", lang), color="#3b6ea8")
    ax.barh([y + 0.2 for y in ys], peak, height=0.4, label=text("max", lang), color="#9dbde0")
    ax.set_yticks(list(ys), [report.label(s) for s in shown])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(text("util_axis", lang))
    ax.legend(loc="lower right")
    fig.tight_layout()
    cells = [
        (report.label(s), percent(a), percent(b)) for s, a, b in zip(shown, p95, peak, strict=True)
    ]
    summary = "; ".join(f"{label} {a} / {b}" for label, a, b in cells)
    head = (text("site", lang), text("p95", lang), text("max", lang))
    return [_img(fig, text("alt_utilisation", lang, summary=summary)), _details(lang, head, cells)]


def _img(fig: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f"<p><img alt='{escape(alt)}' src='data:image/png;base64,{data}'></p>"


def _details(lang: Language, head: tuple[str, ...], rows: Rows) -> str:
    """The chart's figures as a table, for screen readers, printing and copying."""
    summary = text("table", lang)
    return f"<details><summary>{escape(summary)}</summary>{_table(head, rows)}</details>"


def _table(head: tuple[str, ...], rows: Rows) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{header}</tr>{body}</table>"


def _kpi_table(report: Report, sites: list[str]) -> str:
    head = (text("site", report.language), *(kpi_name(k, report.language) for k in KPIS))
    rows = [
        (report.label(site), *(formatted(report.value(site, kpi), KPIS[kpi].unit) for kpi in KPIS))
        for site in sites
    ]
    return _table(head, rows)


def _incident_table(report: Report, zone: ZoneInfo) -> str:
    lang = report.language
    if not report.incidents:
        return f"<p>{escape(text('no_incidents', lang))}</p>"
    rows = [
        (
            i.alertname,
            i.severity,
            report.label(i.site) if i.site else "-",
            i.device or "-",
            local_time(i.started_ns, zone),
            text("open", lang) if i.recover_s is None else duration(i.recover_s),
        )
        for i in report.incidents
    ]
    keys = ("alert", "severity", "site", "device", "started", "recovered_in")
    return _table(tuple(text(k, lang) for k in keys), rows)


def formatted(value: float | None, unit: str) -> str:
    """A KPI value as the council reads it: counts and speeds as integers, durations in h and
    min, percentages with two decimals."""
    if value is None:
        return "-"
    if unit == "count":
        return f"{round(value):d}"
    if unit == "Mbit/s":
        return f"{round(value):,d}".replace(",", "\u202f") + " Mbit/s"
    if unit == "min":
        return duration(value * 60)
    return percent(value)


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} %"


def duration(seconds: float) -> str:
    """`45 min`, `2 h 05 min`, `48 h 0 min`."""
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h 0 min"


def _s(hours: float | None) -> float:
    return (hours or 0.0) * 3600


def local_time(time_ns: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(time_ns / 1e9, zone).strftime("%Y-%m-%d %H:%M %Z")
