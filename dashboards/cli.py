"""`edumon dashboards build|push` (registered by gateway.cli)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from dashboards import BUILD_DIR, FOLDER

NEEDS_EXTRA = "edumon dashboards needs pip install 'edumon[dashboards]'"


def cmd_build(args: argparse.Namespace) -> int:
    import yaml
    from pydantic import ValidationError

    try:
        from dashboards.build import build
    except ImportError as error:
        print(f"{NEEDS_EXTRA} ({error})", file=sys.stderr)
        return 2

    try:
        written = build(Path(args.out), Path(args.config))
    except (OSError, yaml.YAMLError, ValidationError) as error:
        print(f"edumon: cannot build dashboards from {args.config}: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    try:
        from dashboards.build import dashboard_models
        from dashboards.push import InfluxSource, PushError, push, secret_from_env
    except ImportError as error:
        print(f"{NEEDS_EXTRA} ({error})", file=sys.stderr)
        return 2

    try:
        token = secret_from_env(args.token_env, os.environ, "the Grafana API token")
        password = ""
        if args.influxdb_password_env:
            password = secret_from_env(
                args.influxdb_password_env, os.environ, "the InfluxDB password for Grafana"
            )
        source = InfluxSource(
            args.influxdb_url, args.influxdb_database, args.influxdb_user, password
        )
        pushed = asyncio.run(
            push(
                args.url,
                token,
                dashboard_models(),
                source,
                folder_title=args.folder,
                folder_uid=args.folder_uid,
            )
        )
    except PushError as error:
        print(f"edumon: {error}", file=sys.stderr)
        return 1
    for dashboard in pushed:
        print(f"{dashboard.uid} version {dashboard.version} {dashboard.url}")
    return 0


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], example_config: Path
) -> None:
    dashboards = sub.add_parser("dashboards", help="Grafana dashboards and provisioning")
    commands = dashboards.add_subparsers(dest="dashboards_command", required=True)
    build = commands.add_parser("build", help="write dashboard JSON and provisioning files")
    build.add_argument(
        "--out", default=str(BUILD_DIR), help="output directory (default: %(default)s)"
    )
    build.add_argument("-c", "--config", default=str(example_config), help="sites for the map")
    build.set_defaults(func=cmd_build)
    push = commands.add_parser(
        "push", help="create or update the data source and the dashboards in a Grafana folder"
    )
    push.add_argument("--url", required=True, help="Grafana base URL")
    push.add_argument(
        "--token-env", required=True, help="environment variable holding the API token"
    )
    push.add_argument("--folder", default=FOLDER, help="folder title (default: %(default)s)")
    push.add_argument("--folder-uid", default=FOLDER, help="folder uid (default: %(default)s)")
    push.add_argument(
        "--influxdb-url",
        default="http://127.0.0.1:8086",
        help="InfluxDB URL as Grafana reaches it (default: %(default)s)",
    )
    push.add_argument(
        "--influxdb-database", default="edumon", help="InfluxQL database (default: %(default)s)"
    )
    push.add_argument("--influxdb-user", default="", help="read-only InfluxDB user for Grafana")
    push.add_argument(
        "--influxdb-password-env",
        default="",
        help="environment variable holding that user's password",
    )
    push.set_defaults(func=cmd_push)
