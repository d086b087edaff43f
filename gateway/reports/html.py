"""The HTML report: one self-contained file (charts are PNGs embedded as base64, no scripts,
nothing fetched), readable by a person and printable."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Patch

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


def write_html(report: Report, title: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report, title), encoding="utf-8")
    return path


def render(report: Report, title: str) -> str:
    sites = list(report.site_names)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)} {escape(report.period)}</title>"
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}: {escape(report.period)}</h1>",
        f"<p class='note'>{_utc(report.start_ns)} to {_utc(report.end_ns)}. Unknown time "
        "(edumon or a source was not reporting) is counted neither as up nor as down.</p>",
        "<h2>Uplink availability</h2>",
        _img(_availability_chart(report, sites)),
        _img(_timeline_chart(report, sites)),
        "<h2>Uplink utilisation</h2>",
        _img(_utilisation_chart(report, sites)),
        "<h2>All KPIs</h2>",
        _kpi_table(report, [*sites, CITY]),
        "<h2>Incidents</h2>",
        _incident_table(report),
        "<h2>Definitions</h2><dl>",
        *(
            f"<dt><b>{escape(k)}</b> ({escape(d.unit)})</dt><dd>{escape(d.description)}</dd>"
            for k, d in KPIS.items()
        ),
        "</dl></body></html>",
    ]
    return "\n".join(parts)


def _availability_chart(report: Report, sites: list[str]) -> Figure:
    shown = [s for s in [*sites, CITY] if report.value(s, "uplink_availability_pct") is not None]
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(shown) + 1.2))
    values = [report.value(s, "uplink_availability_pct") or 0.0 for s in shown]
    bars = ax.barh([report.label(s) for s in shown], values, color=COLOURS["up"])
    for bar, site in zip(bars, shown, strict=True):
        row = report.row(site, "uplink_availability_pct")
        note = f"{row.value:.2f} %  (down {row.down_h:g} h, unknown {row.unknown_h:g} h)"
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + note, va="center")
    low = max(0.0, min(values, default=100.0) - 0.5)
    ax.set_xlim(low, 100 + (100 - low) * 1.6)
    ax.set_xticks([t for t in ax.get_xticks() if low <= t <= 100])
    ax.invert_yaxis()
    ax.set_xlabel("uplink availability, % of known time")
    fig.tight_layout()
    return fig


def _timeline_chart(report: Report, sites: list[str]) -> Figure:
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(sites) + 1.4))
    span_h = (report.end_ns - report.start_ns) / HOUR_NS
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
    ax.set_yticks(range(len(sites)), [report.label(s) for s in sites])
    ax.set_xlim(0, span_h)
    ax.invert_yaxis()
    ax.set_xlabel("days into the period")
    ax.set_xticks([h for h in range(0, int(span_h) + 1, 24 * 5)])
    ax.set_xticklabels([str(int(h // 24)) for h in range(0, int(span_h) + 1, 24 * 5)])
    ax.legend(
        handles=[Patch(color=c, label=n) for n, c in COLOURS.items()],
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        frameon=False,
        ncol=4,
    )
    fig.tight_layout()
    return fig


def _hours_in(report: Report, time_ns: int) -> float:
    return (max(time_ns, report.start_ns) - report.start_ns) / HOUR_NS


def _utilisation_chart(report: Report, sites: list[str]) -> Figure:
    shown = [s for s in sites if report.value(s, "p95_uplink_util_pct") is not None]
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(shown) + 1.3))
    ys = range(len(shown))
    p95 = [report.value(s, "p95_uplink_util_pct") or 0.0 for s in shown]
    peak = [report.value(s, "max_uplink_util_pct") or 0.0 for s in shown]
    ax.barh([y - 0.2 for y in ys], p95, height=0.4, label="p95", color="#3b6ea8")
    ax.barh([y + 0.2 for y in ys], peak, height=0.4, label="max", color="#9dbde0")
    ax.set_yticks(list(ys), [report.label(s) for s in shown])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("uplink utilisation, %")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def _img(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f"<p><img alt='chart' src='data:image/png;base64,{data}'></p>"


def _kpi_table(report: Report, sites: list[str]) -> str:
    head = "".join(
        f"<th>{escape(kpi.replace('_', ' '))} ({escape(spec.unit)})</th>"
        for kpi, spec in KPIS.items()
    )
    body = []
    for site in sites:
        cells = "".join(f"<td>{_number(report.value(site, kpi))}</td>" for kpi in KPIS)
        body.append(f"<tr><td>{escape(report.label(site))}</td>{cells}</tr>")
    return f"<table><tr><th>site</th>{head}</tr>{''.join(body)}</table>"


def _incident_table(report: Report) -> str:
    if not report.incidents:
        return "<p>No incidents in this period.</p>"
    rows = []
    for i in report.incidents:
        recover = "open" if i.recover_s is None else f"{i.recover_s / 60:.1f} min"
        cells = (i.alertname, i.severity, i.team, i.site or "-", i.device or "-")
        rows.append(
            "<tr>"
            + "".join(f"<td>{escape(c)}</td>" for c in cells)
            + f"<td>{_utc(i.started_ns)}</td><td>{recover}</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("alert", "severity", "team", "site", "device", "started", "time to recover")
    )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _utc(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M UTC")
