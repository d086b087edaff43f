"""The KPIs back into InfluxDB as the `kpi` measurement, for the KPI dashboard.

One point per (kpi, site) with a value: tags kpi, site (a site id or `city`), period; field
value (float); time = the period's start. Writing the same period again overwrites the same
points (same series and time), so a report can be re-run. A report of some sites only
(`--site`) writes no `city` points: its city rows are not the city's.
"""

from __future__ import annotations

from gateway.reports.model import CITY, Report
from gateway.sample import Sample
from gateway.storage.influx_http import InfluxHttp, InfluxTarget
from gateway.storage.lineprotocol import LineEncoder


class WriteBackError(RuntimeError):
    """InfluxDB did not take the KPI points."""


def kpi_samples(report: Report) -> list[Sample]:
    return [
        Sample(
            "kpi",
            {"kpi": row.kpi, "site": row.site, "period": report.period},
            {"value": float(row.value)},
            report.start_ns,
        )
        for row in report.rows
        if row.value is not None and not (report.partial and row.site == CITY)
    ]


async def write_back(report: Report, target: InfluxTarget) -> int:
    """Write the report's KPIs; the number of points written."""
    payload, count, rejected = LineEncoder().encode_batch(kpi_samples(report))
    if rejected:
        raise WriteBackError(f"cannot encode KPI point: {rejected[0][1]}")
    http = InfluxHttp(target)
    try:
        response = await http.post(payload, gzipped=False)
    finally:
        await http.close()
    if not 200 <= response.status < 300:
        raise WriteBackError(f"{target.describe()}: HTTP {response.status}: {response.body[:300]}")
    return count
