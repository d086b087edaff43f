"""The report's data: KPI definitions (ids, units, meaning) and the rows computed for them.

The same definitions feed the open-data metadata, the HTML report and the README section.
Percentages are rounded to 4 decimals, hours to 4, utilisation to 2 (rounding happens once,
when a row is made; the HTML shows 2 decimals).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from gateway.reports.incidents import Incident
from gateway.reports.language import Language, text
from gateway.reports.timeline import Timeline, Totals

CITY = "city"
HOUR_NS = 3600 * 10**9


class KpiDefinition(NamedTuple):
    unit: str
    description: str


KPIS: dict[str, KpiDefinition] = {
    "uplink_availability_pct": KpiDefinition(
        "%",
        "Time the school's uplink was up / (time up + time down), school days only (holidays "
        "excluded). Down when the core switch reports every uplink interface down or no IPv4 "
        "probe of the site answers. Time without data (edumon not running, or a sample gap "
        "longer than max_sample_gap_s) is unknown and counts as neither up nor down.",
    ),
    "p95_uplink_util_pct": KpiDefinition(
        "%",
        "95th percentile (nearest rank) of the maximum in/out utilisation over the site's "
        "core-switch uplinks in each resolution_s bucket; city: all sites' buckets together.",
    ),
    "max_uplink_util_pct": KpiDefinition("%", "Highest such per-bucket utilisation."),
    "uplink_capacity_mbps": KpiDefinition(
        "Mbit/s", "Highest speed of the site's core-switch uplink interfaces in the period."
    ),
    "schools_on_10g_pct": KpiDefinition(
        "%", "Schools whose uplink capacity is at least 10 Gbit/s / schools with known capacity."
    ),
    "healthy_wifi_classrooms_pct": KpiDefinition(
        "%",
        "Share of classrooms with healthy Wi-Fi. An hour is healthy in a classroom when all "
        "of its access points' radios reported and their hourly averages stayed within the "
        "limits (by default: channel busy at most 70 %, at most 15 % of frames resent, noise "
        "floor at most -85 dBm); a classroom has healthy Wi-Fi when at least 95 % of the hours "
        "in which its school's Wi-Fi reported were healthy.",
    ),
    "ipv6_reachability_pct": KpiDefinition(
        "%", "Time any IPv6 probe of the site answered / known time (like uplink availability)."
    ),
    "exhibit_availability_pct": KpiDefinition(
        "%",
        "Science centre: sum over exhibits of time up / (time up + down), during opening hours "
        "only. An exhibit's 'offline' status (MQTT Last Will) holds until it reports again.",
    ),
    "sensor_completeness_pct": KpiDefinition(
        "%",
        "Classroom sensor samples received while edumon was running / samples expected in that "
        "time (one per sensor_interval_s per inventory sensor), at most 100.",
    ),
    "incidents": KpiDefinition(
        "count",
        "Network pages (alerts of severity page) that started firing in the period; an AP, "
        "exhibit, sensor or probe alert that began during its site's core switch or uplink "
        "alert is part of that incident. Warnings and information are counted apart (report).",
    ),
    "open_incidents": KpiDefinition("count", "Of those, still firing at the end of the period."),
    "mean_time_to_recover_min": KpiDefinition(
        "min",
        "Mean time from start to recovery over the network pages that resolved; an uplink or "
        "core switch incident lasts as long as the site's uplink outage (the timeline's down "
        "time), not until the alert's next poll and keep_firing_for.",
    ),
}

COLUMNS: dict[str, str] = {
    "period": "Report period (YYYY-MM for a calendar month, else first..last day)",
    "site": "Site id from the city inventory, or 'city' for the city-wide figure",
    "site_name": "Site name",
    "kpi": "KPI id (see the kpis section)",
    "value": "The KPI's value in its unit; empty when nothing was known",
    "unit": "Unit of value",
    "up_h": "Time-based KPIs: hours counted as up (or healthy)",
    "down_h": "Time-based KPIs: hours counted as down (or unhealthy)",
    "unknown_h": "Time-based KPIs: counted hours without data (edumon or the source was silent);"
    " city: the hours in which edumon knew nothing of any site",
    "excluded_h": "Time-based KPIs: hours not counted (holidays, closing hours)",
}


@dataclass(frozen=True)
class KpiRow:
    site: str
    kpi: str
    value: float | None
    up_h: float | None = None
    down_h: float | None = None
    unknown_h: float | None = None
    excluded_h: float | None = None

    @property
    def unit(self) -> str:
        return KPIS[self.kpi].unit

    @classmethod
    def timed(cls, site: str, kpi: str, totals: Totals) -> KpiRow:
        def hours(ns: int) -> float:
            return round(ns / HOUR_NS, 4)

        return cls(
            site,
            kpi,
            totals.up_pct(),
            hours(totals.up_ns),
            hours(totals.down_ns),
            hours(totals.unknown_ns),
            hours(totals.excluded_ns),
        )


@dataclass
class Report:
    period: str
    start_ns: int
    end_ns: int
    site_names: dict[str, str]
    school_ids: list[str] = field(default_factory=list)  # sites of kind school
    partial: bool = False  # only some sites (--site): the city rows cover just those
    timezone: str = "UTC"  # times in the report are local to the city
    language: Language = "en"
    rows: list[KpiRow] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    uplink_timelines: dict[str, Timeline] = field(default_factory=dict)
    uplink_counted: dict[str, Timeline] = field(default_factory=dict)  # school days etc.

    def label(self, site: str) -> str:
        if site == CITY:
            return text("selected" if self.partial else "city", self.language)
        return self.site_names.get(site, site)

    def value(self, site: str, kpi: str) -> float | None:
        return next((r.value for r in self.rows if (r.site, r.kpi) == (site, kpi)), None)

    def row(self, site: str, kpi: str) -> KpiRow:
        return next(r for r in self.rows if (r.site, r.kpi) == (site, kpi))
