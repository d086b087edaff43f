"""Compute the period's KPIs from InfluxDB, write the HTML report and the open-data files,
and write the KPIs back as the `kpi` measurement."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from gateway.config import EdumonConfig
from gateway.reports.compute import BUILD_STEPS, build_report
from gateway.reports.html import write_html
from gateway.reports.model import Report
from gateway.reports.opendata import PublicationRefused, write_open_data
from gateway.reports.queries import InfluxQuery
from gateway.reports.writeback import write_back
from gateway.storage.influx_http import influx_target

HTML_NAME = "report.html"
STEPS = BUILD_STEPS + 2


async def produce(
    config: EdumonConfig,
    first: date,
    end: date,
    sites: list[str] | None,
    out_dir: Path,
    *,
    write: bool = True,
    on_step: Callable[[], None] = lambda: None,
) -> tuple[Report, list[Path]]:
    """Compute the report and write every output; (report, files written). `on_step` after
    each of STEPS steps (a progress bar)."""
    meta = config.reports.open_data
    if problems := meta.publication_problems():  # before the work, not after it
        raise PublicationRefused("cannot publish open data: " + "; ".join(problems))
    target = influx_target(config.influxdb)
    query = InfluxQuery(target)
    try:
        report = await build_report(config, query, first, end, sites, on_step)
    finally:
        await query.close()
    title = meta.title_in(report.language)
    files = [write_html(report, title, out_dir / report.period / HTML_NAME)]
    on_step()
    files += write_open_data(report, meta, out_dir)
    if write:
        await write_back(report, target)
    on_step()
    return report, files
