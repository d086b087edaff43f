"""The report's charts as matplotlib figures, each with its alt text and the same figures as
table rows. Every label sits inside its figure (values are tick labels of a second axis, which
the layout makes room for, never free text past the axes' edge)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from gateway.reports.language import text
from gateway.reports.model import CITY, HOUR_NS, Report
from gateway.reports.numbers import duration, percent
from gateway.reports.timeline import Timeline, combine, first_where_second

COLOURS = {"up": "#2e8b57", "down": "#d1342f", "unknown": "#b0b0b0", "not counted": "#dfe8f5"}
ZOOM_FLOOR_PCT = 99.5  # the availability axis starts here unless a site is lower


class Chart(NamedTuple):
    figure: Figure
    alt: str
    head: tuple[str, ...]
    cells: Sequence[tuple[str, ...]]
    note: str = ""


def availability(report: Report, sites: list[str]) -> Chart:
    """A dot plot on an axis from `low` (99.5 %, or lower when a site is) to 100 %, so that
    99.72 % and 100 % look different; the axis's start is said under the chart."""
    lang = report.language
    shown = [s for s in [*sites, CITY] if report.value(s, "uplink_availability_pct") is not None]
    rows = [report.row(s, "uplink_availability_pct") for s in shown]
    labels = [report.label(s) for s in shown]
    values = [row.value or 0.0 for row in rows]
    low = min(ZOOM_FLOOR_PCT, math.floor(min(values, default=100.0)))
    fig, ax = plt.subplots(figsize=(12, 0.42 * len(shown) + 1.2))
    ys = list(range(len(shown)))
    ax.hlines(ys, low, values, color="#c8d6c8", linewidth=2)
    ax.plot(values, ys, "o", color=COLOURS["up"], markersize=8)
    ax.set_xlim(low, 100 + (100 - low) * 0.02)
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.set_yticks(ys, labels)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.xaxis.set_major_formatter(lambda x, _: percent(x, lang))
    ax.set_xlabel(text("availability_axis", lang))
    ax.grid(axis="x", color="#e4e4e4")
    cells: list[tuple[str, ...]] = []
    notes = []
    for label, row in zip(labels, rows, strict=True):
        down, unknown = duration(_s(row.down_h)), duration(_s(row.unknown_h))
        cells.append((label, percent(row.value, lang), down, unknown))
        notes.append(
            f"{percent(row.value, lang)}  ({text('down_h', lang)} {down}, "
            f"{text('unknown_h', lang)} {unknown})"
        )
    values_axis = ax.twinx()
    values_axis.set_ylim(ax.get_ylim())
    values_axis.set_yticks(ys, notes)
    values_axis.tick_params(length=0)
    fig.tight_layout()
    summary = "; ".join(f"{label} {value}" for label, value, *_ in cells)
    low_text = percent(low, lang).removesuffix(" %")
    return Chart(
        fig,
        text("alt_availability", lang, summary=summary, low=low_text),
        (text("site", lang), "%", text("down_h", lang), text("unknown_h", lang)),
        cells,
        text("zoom_note", lang, low=low_text),
    )


def timeline(report: Report, sites: list[str]) -> Chart:
    lang = report.language
    fig, ax = plt.subplots(figsize=(12, 0.45 * len(sites) + 1.4))
    span_h = (report.end_ns - report.start_ns) / HOUR_NS
    cells: list[tuple[str, ...]] = []
    for y, site in enumerate(sites):
        ax.broken_barh([(0, span_h)], (y - 0.35, 0.7), color=COLOURS["not counted"])
        counted = report.uplink_counted.get(site, Timeline())
        state = combine(
            [report.uplink_timelines.get(site, Timeline()), counted], first_where_second
        )
        for name, part in (("unknown", counted), ("up", state), ("down", state)):
            bars = [
                (_hours_in(report, s), (min(e, report.end_ns) - max(s, report.start_ns)) / HOUR_NS)
                for s, e, value in part.segments
                if value is (name != "down") and e > report.start_ns and s < report.end_ns
            ]
            ax.broken_barh(bars, (y - 0.35, 0.7), color=COLOURS[name])
        totals = state.totals(report.start_ns, report.end_ns, counted)
        cells.append(
            (report.label(site), duration(totals.down_ns / 1e9), duration(totals.unknown_ns / 1e9))
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
    return Chart(fig, text("alt_timeline", lang, summary=summary), head, cells)


def _hours_in(report: Report, time_ns: int) -> float:
    return (max(time_ns, report.start_ns) - report.start_ns) / HOUR_NS


def utilisation(report: Report, sites: list[str]) -> Chart:
    lang = report.language
    shown = [s for s in sites if report.value(s, "p95_uplink_util_pct") is not None]
    fig, ax = plt.subplots(figsize=(12, 0.4 * len(shown) + 1.3))
    ys = range(len(shown))
    p95 = [report.value(s, "p95_uplink_util_pct") or 0.0 for s in shown]
    peak = [report.value(s, "max_uplink_util_pct") or 0.0 for s in shown]
    ax.barh([y - 0.2 for y in ys], p95, height=0.4, label=text("p95", lang), color="#3b6ea8")
    ax.barh([y + 0.2 for y in ys], peak, height=0.4, label=text("max", lang), color="#9dbde0")
    ax.set_yticks(list(ys), [report.label(s) for s in shown])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(lambda x, _: f"{x:.0f} %")
    ax.set_xlabel(text("util_axis", lang))
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, ncol=2)
    fig.tight_layout()
    cells = [
        (report.label(s), percent(a, lang), percent(b, lang))
        for s, a, b in zip(shown, p95, peak, strict=True)
    ]
    summary = "; ".join(f"{label} {a} / {b}" for label, a, b in cells)
    head = (text("site", lang), text("p95", lang), text("max", lang))
    return Chart(fig, text("alt_utilisation", lang, summary=summary), head, cells)


def _s(hours: float | None) -> float:
    return (hours or 0.0) * 3600
