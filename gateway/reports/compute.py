"""Compute the report: every KPI per site and for the city, from InfluxDB (see model.KPIS).

City-wide figures pool the underlying time or samples of the selected sites (they are not
averages of the sites' percentages): availability = sum of up time / sum of known time, p95
over all polls, classrooms and sensors counted together.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import date

from gateway.config import EdumonConfig
from gateway.inventory import Site
from gateway.reports.calendar import opening_hours, period_bounds, period_label, school_days
from gateway.reports.config import HealthyWifi
from gateway.reports.incidents import Incident, incidents, root_causes, timed_by_outage
from gateway.reports.model import CITY, HOUR_NS, KpiRow, Report
from gateway.reports.queries import InfluxQuery
from gateway.reports.sources import Sources, Window
from gateway.reports.timeline import NO_TIME, Timeline, Totals
from gateway.reports.wifi import healthy_rooms

TEN_GBIT_MBPS = 10_000
PAGE = "page"


# how many times build_report calls `on_step` (a progress bar's total)
BUILD_STEPS = 7


async def build_report(
    config: EdumonConfig,
    query: InfluxQuery,
    first: date,
    end: date,
    sites: list[str] | None,
    on_step: Callable[[], None] = lambda: None,
) -> Report:
    reports = config.reports
    chosen = [s for s in config.sites if sites is None or s.id in sites]
    start_ns, end_ns = period_bounds(first, end, reports)
    window = Window(start_ns, end_ns, int(reports.max_sample_gap_s * 1e9), reports.resolution_s)
    names = {s.id: s.name for s in chosen}
    report = Report(
        period_label(first, end),
        start_ns,
        end_ns,
        names,
        [s.id for s in chosen if s.kind == "school"],
        partial=sites is not None,
        timezone=reports.timezone,
        language=reports.language,
    )
    source = Sources(query, window)
    await source.load_coverage()
    on_step()
    schools = [s for s in chosen if s.kind == "school"]
    calendars = {s.id: school_days(reports, s.id, first, end) for s in schools}

    uplinks = await source.uplinks({s.id: _core_switches(s) for s in chosen})
    report.uplink_timelines = {s.id: uplinks.get(s.id, Timeline()) for s in chosen}
    whole = Timeline([(start_ns, end_ns, True)])
    report.uplink_counted = {s.id: calendars.get(s.id, whole) for s in chosen}
    _timed(
        report,
        "uplink_availability_pct",
        {
            s.id: report.uplink_timelines[s.id].totals(
                start_ns, end_ns, report.uplink_counted[s.id]
            )
            for s in chosen
        },
    )
    on_step()
    await _utilisation(report, source, chosen, schools)
    on_step()
    ipv6 = await source.probes("ipv6")
    _timed(
        report,
        "ipv6_reachability_pct",
        {s.id: ipv6[s.id].totals(start_ns, end_ns) for s in chosen if s.id in ipv6},
    )
    await _exhibits(report, source, chosen, opening_hours(reports, first, end))
    on_step()
    await _wifi(report, source, schools, reports.healthy_wifi)
    on_step()
    await _sensors(report, source, chosen, reports.sensor_interval_s)
    on_step()
    found = [
        i
        for i in root_causes(incidents(await source.alerts()))
        if not i.site or i.site in report.site_names
    ]
    report.incidents = timed_by_outage(found, _down_runs(report.uplink_timelines))
    _incident_rows(report)
    on_step()
    _city_unknown_hours(report, source.coverage.totals(start_ns, end_ns).unknown_ns)
    return report


def _city_unknown_hours(report: Report, nothing_known_ns: int) -> None:
    """The city's unknown time is the time edumon knew nothing of any site (its own outages),
    not the sum of the sites' unknown hours."""
    hours = round(nothing_known_ns / HOUR_NS, 4)
    report.rows = [
        replace(row, unknown_h=hours) if row.site == CITY and row.unknown_h is not None else row
        for row in report.rows
    ]


def _core_switches(site: Site) -> set[str]:
    """The switches whose uplinks are the site's uplink: the core ones, else all."""
    switches = [d for d in site.devices if d.kind == "switch"]
    core = {d.id for d in switches if getattr(d, "role", None) == "core"}
    return core or {d.id for d in switches}


def _timed(report: Report, kpi: str, per_site: dict[str, Totals]) -> None:
    city = NO_TIME
    for site, totals in per_site.items():
        report.rows.append(KpiRow.timed(site, kpi, totals))
        city += totals
    if per_site:
        report.rows.append(KpiRow.timed(CITY, kpi, city))


async def _utilisation(
    report: Report, source: Sources, sites: list[Site], schools: list[Site]
) -> None:
    peaks: dict[str, dict[int, float]] = defaultdict(dict)  # site -> bucket -> max util
    capacity: dict[str, int] = {}
    devices = set().union(*(_core_switches(s) for s in sites))
    for series in await source.uplink_utilisation(devices):
        site = series.tags["site"]
        if site not in report.site_names:
            continue
        for row in series.rows:
            t = row["time"]
            if not report.start_ns <= t < report.end_ns:
                continue
            for name in ("in_util_pct", "out_util_pct"):
                if isinstance(value := row.get(name), int | float):
                    peaks[site][t] = max(peaks[site].get(t, 0.0), float(value))
            if isinstance(speed := row.get("speed_mbps"), int | float):
                capacity[site] = max(capacity.get(site, 0), int(speed))
    for site in sorted(peaks):
        values = list(peaks[site].values())
        report.rows.append(KpiRow(site, "p95_uplink_util_pct", _p95(values)))
        report.rows.append(KpiRow(site, "max_uplink_util_pct", round(max(values), 2)))
    if peaks:
        pooled = [v for per_poll in peaks.values() for v in per_poll.values()]
        report.rows.append(KpiRow(CITY, "p95_uplink_util_pct", _p95(pooled)))
        report.rows.append(KpiRow(CITY, "max_uplink_util_pct", round(max(pooled), 2)))
    for site, mbps in sorted(capacity.items()):
        report.rows.append(KpiRow(site, "uplink_capacity_mbps", float(mbps)))
    known = [capacity[s.id] for s in schools if s.id in capacity]
    if known:
        share = 100 * sum(m >= TEN_GBIT_MBPS for m in known) / len(known)
        report.rows.append(KpiRow(CITY, "schools_on_10g_pct", round(share, 4)))


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[math.ceil(0.95 * len(ordered)) - 1], 2)


async def _exhibits(
    report: Report, source: Sources, sites: list[Site], open_hours: Timeline
) -> None:
    per_site: dict[str, Totals] = {}
    for site in (s.id for s in sites if s.kind == "science_centre"):
        for timeline in await source.exhibits({site}):
            totals = timeline.totals(report.start_ns, report.end_ns, open_hours)
            per_site[site] = per_site.get(site, NO_TIME) + totals
    _timed(report, "exhibit_availability_pct", per_site)


async def _wifi(report: Report, source: Sources, schools: list[Site], limits: HealthyWifi) -> None:
    ids = {s.id for s in schools}
    counts = {
        site: tally
        for site, tally in healthy_rooms(await source.wifi_hours(), limits).items()
        if site in ids
    }
    for site, (healthy, rooms) in sorted(counts.items()):
        report.rows.append(
            KpiRow(site, "healthy_wifi_classrooms_pct", round(100 * healthy / rooms, 4))
        )
    if counts:
        healthy, rooms = (sum(c[i] for c in counts.values()) for i in (0, 1))
        report.rows.append(
            KpiRow(CITY, "healthy_wifi_classrooms_pct", round(100 * healthy / rooms, 4))
        )


async def _sensors(report: Report, source: Sources, sites: list[Site], interval_s: float) -> None:
    """Only samples in edumon's known time count (by the bucket they fall in), and the expected
    number is that known time / interval per env-sensor of the inventory."""
    known = source.coverage.totals(report.start_ns, report.end_ns)
    expected_each = known.up_ns / (interval_s * 1e9)
    received = await source.sensor_counts()
    covered = source.coverage
    per_site: dict[str, tuple[int, float]] = {}
    for site in sites:
        sensors = [
            d.id
            for d in site.devices
            if d.kind == "lorawan_sensor" and getattr(d, "profile", None) == "env-sensor"
        ]
        if not sensors or not expected_each:
            continue
        got = sum(
            count
            for d in sensors
            for t, count in received.get((site.id, d), [])
            if report.start_ns <= t < report.end_ns and covered.state_at(t) is True
        )
        per_site[site.id] = (got, expected_each * len(sensors))
    for site_id, (got, expected) in per_site.items():
        report.rows.append(KpiRow(site_id, "sensor_completeness_pct", _completeness(got, expected)))
    if per_site:
        all_got = sum(v[0] for v in per_site.values())
        all_expected = sum(v[1] for v in per_site.values())
        report.rows.append(
            KpiRow(CITY, "sensor_completeness_pct", _completeness(all_got, all_expected))
        )


def _completeness(received: float, expected: float) -> float:
    return round(min(100.0, 100 * received / expected), 4)


def _down_runs(timelines: dict[str, Timeline]) -> dict[str, list[tuple[int, int]]]:
    """Each site's uplink outages: its timeline's down segments, adjacent ones joined."""
    runs: dict[str, list[tuple[int, int]]] = {}
    for site, timeline in timelines.items():
        joined: list[tuple[int, int]] = []
        for start, end, up in timeline.segments:
            if up:
                continue
            if joined and joined[-1][1] == start:
                start = joined.pop()[0]
            joined.append((start, end))
        runs[site] = joined
    return runs


def _incident_rows(report: Report) -> None:
    """The incident KPIs count network pages (severity `page`): warnings and information
    (an AP off for two days, a silent sensor) are in the report's per-severity table, not in
    the time to recover the on-call staff are measured by."""
    by_site: dict[str, list[Incident]] = defaultdict(list)
    pages = [i for i in report.incidents if i.severity == PAGE]
    for incident in pages:
        if incident.site:
            by_site[incident.site].append(incident)
    for site in [*report.site_names, CITY]:
        found = pages if site == CITY else by_site.get(site, [])
        recovered = [i.recover_s for i in found if i.recover_s is not None]
        report.rows.append(KpiRow(site, "incidents", float(len(found))))
        report.rows.append(KpiRow(site, "open_incidents", float(len(found) - len(recovered))))
        mean = round(sum(recovered) / len(recovered) / 60, 4) if recovered else None
        report.rows.append(KpiRow(site, "mean_time_to_recover_min", mean))
