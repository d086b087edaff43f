"""Stand-ins for two producers being built in parallel: the alert engine's `alert` points and
the KPI reporter's `kpi` points, written in exactly the shape of their contracts.

alert: tags alertname, severity (page|warning|info), team (network|science), site and device
       when the alert has them; fields firing (bool), value (float, when any).
kpi:   tags kpi, site (a site id or `city`), period (YYYY-MM); field value (float); the
       point's time is the period's start.

Replace these with the real producers once they are merged.
"""

from __future__ import annotations

import datetime as dt
import time

from gateway.lineprotocol import LineEncoder
from gateway.sample import Sample
from gateway.servers import InfluxDB1

KPIS = (
    "uplink_availability_pct",
    "p95_uplink_util_pct",
    "schools_on_10g_pct",
    "healthy_wifi_classrooms_pct",
    "ipv6_reachability_pct",
    "exhibit_availability_pct",
    "sensor_completeness_pct",
)


def alert_samples(now_ns: int) -> list[Sample]:
    """One page firing, one warning that fired and resolved, one science alert firing."""
    second = 1_000_000_000
    uplink = {"alertname": "UplinkSaturated", "severity": "page", "team": "network"}
    uplink |= {"site": "vsk-1", "device": "vsk-1-core"}
    co2 = {"alertname": "ClassroomCO2High", "severity": "warning", "team": "network"}
    co2 |= {"site": "vsk-4", "device": "vsk-4-env-101"}
    exhibit = {"alertname": "ExhibitDown", "severity": "warning", "team": "science"}
    exhibit |= {"site": "vizium", "device": "vizium-lightning"}
    return [
        Sample("alert", uplink, {"firing": True, "value": 97.5}, now_ns - 60 * second),
        Sample("alert", co2, {"firing": True, "value": 1650.0}, now_ns - 50 * second),
        Sample("alert", co2, {"firing": False, "value": 900.0}, now_ns - 20 * second),
        Sample("alert", exhibit, {"firing": True}, now_ns - 10 * second),
    ]


def kpi_samples(sites: list[str], today: dt.date) -> list[Sample]:
    """Every KPI for the city and each site, for this month and the previous one."""
    this_month = today.replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    samples = []
    for n, month in enumerate((last_month, this_month)):
        at = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)
        period = f"{month.year:04d}-{month.month:02d}"
        for k, kpi in enumerate(KPIS):
            for s, site in enumerate(["city", *sites]):
                value = 99.0 - 0.5 * n - 0.1 * k - 0.05 * s
                tags = {"kpi": kpi, "site": site, "period": period}
                samples.append(Sample("kpi", tags, {"value": value}, int(at.timestamp() * 1e9)))
    return samples


def write_contract_points(influxdb: InfluxDB1, db: str, sites: list[str]) -> None:
    samples = alert_samples(time.time_ns()) + kpi_samples(sites, dt.datetime.now(dt.UTC).date())
    encoder = LineEncoder()
    influxdb.write("\n".join(encoder.encode(sample) for sample in samples), db=db)
