"""`edumon kpi`: compute the period's KPIs from InfluxDB, write the HTML report and the
open-data files, and write the KPIs back as the `kpi` measurement."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path

from gateway.config import EdumonConfig
from gateway.kpi.compute import build_report
from gateway.kpi.html import write_html
from gateway.kpi.model import Report
from gateway.kpi.opendata import write_open_data
from gateway.kpi.queries import InfluxQuery, QueryError
from gateway.kpi.writeback import WriteBackError, write_back
from gateway.service import influx_target

HTML_NAME = "report.html"


def add_arguments(parser: argparse.ArgumentParser, default_config: str) -> None:
    parser.add_argument(
        "--from",
        dest="first",
        type=date.fromisoformat,
        required=True,
        help="first day of the period (local date, YYYY-MM-DD)",
    )
    parser.add_argument(
        "--to",
        dest="end",
        type=date.fromisoformat,
        required=True,
        help="the day after the period (exclusive)",
    )
    parser.add_argument("--site", action="append", help="only this site (repeatable)")
    parser.add_argument("-c", "--config", default=default_config)
    parser.add_argument("--out", default="reports", help="directory for the report files")
    parser.add_argument(
        "--no-write-back", action="store_true", help="do not write the kpi measurement"
    )


async def produce(
    config: EdumonConfig,
    first: date,
    end: date,
    sites: list[str] | None,
    out_dir: Path,
    *,
    write: bool = True,
) -> tuple[Report, list[Path]]:
    """Compute the report and write every output; (report, files written)."""
    target = influx_target(config)
    query = InfluxQuery(target)
    try:
        report = await build_report(config, query, first, end, sites)
    finally:
        await query.close()
    period_dir = out_dir / report.period
    meta = config.reports.open_data
    files = [write_html(report, meta.title, period_dir / HTML_NAME)]
    files += write_open_data(report, meta, period_dir)
    if write:
        await write_back(report, target)
    return report, files


def run(args: argparse.Namespace, config: EdumonConfig) -> int:
    if args.end <= args.first:
        print("edumon kpi: --to must be after --from", file=sys.stderr)
        return 2
    unknown = set(args.site or []) - {s.id for s in config.sites}
    if unknown:
        print(f"edumon kpi: unknown site(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    try:
        report, files = asyncio.run(
            produce(
                config,
                args.first,
                args.end,
                args.site,
                Path(args.out),
                write=not args.no_write_back,
            )
        )
    except (QueryError, WriteBackError) as error:
        print(f"edumon kpi: {error}", file=sys.stderr)
        return 1
    for path in files:
        print(path)
    city = report.value("city", "uplink_availability_pct")
    if city is not None:
        print(f"{report.period}: city uplink availability {city:.2f} %")
    return 0
