"""`edumon kpi`: its arguments (imported by every `edumon` start, so kept light) and its run
(gateway/reports/produce.py does the work)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path

from gateway.config import EdumonConfig


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
    parser.add_argument(
        "-c", "--config", default=default_config, help="the city (default: the example)"
    )
    parser.add_argument("--out", default="reports", help="directory for the report files")
    parser.add_argument(
        "--no-write-back", action="store_true", help="do not write the kpi measurement"
    )


def run(args: argparse.Namespace, config: EdumonConfig) -> int:
    if args.end <= args.first:
        print("edumon kpi: --to must be after --from", file=sys.stderr)
        return 2
    unknown = set(args.site or []) - {s.id for s in config.sites}
    if unknown:
        print(f"edumon kpi: unknown site(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    try:
        from gateway.reports.produce import STEPS, produce
    except ImportError as error:
        print(f"edumon kpi needs pip install 'edumon[reports]' ({error})", file=sys.stderr)
        return 2
    from gateway.cli_common import progress_bar
    from gateway.reports.opendata import PublicationRefused
    from gateway.reports.queries import QueryError
    from gateway.reports.writeback import WriteBackError

    try:
        with progress_bar(f"kpi {args.first}..{args.end}", STEPS) as advance:
            report, files = asyncio.run(
                produce(
                    config,
                    args.first,
                    args.end,
                    args.site,
                    Path(args.out),
                    write=not args.no_write_back,
                    on_step=advance,
                )
            )
    except PublicationRefused as error:
        print(f"edumon kpi: {error}", file=sys.stderr)
        return 2
    except (QueryError, WriteBackError) as error:
        print(f"edumon kpi: {error}", file=sys.stderr)
        return 1
    for path in files:
        print(path)
    city = report.value("city", "uplink_availability_pct")
    if city is not None:
        print(f"{report.period}: city uplink availability {city:.2f} %")
    return 0
