"""`edumon dashboards build|push` (registered by gateway.cli)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from dashboards import BUILD_DIR, FOLDER


def cmd_build(args: argparse.Namespace) -> int:
    import yaml
    from pydantic import ValidationError

    from dashboards.build import build

    try:
        written = build(Path(args.out), Path(args.config))
    except (OSError, yaml.YAMLError, ValidationError) as error:
        print(f"edumon: cannot build dashboards from {args.config}: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from dashboards.build import dashboard_models
    from dashboards.push import PushError, push, token_from_env

    try:
        token = token_from_env(args.token_env, os.environ)
        pushed = asyncio.run(
            push(
                args.url,
                token,
                dashboard_models(),
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
    build.add_argument("--out", default=str(BUILD_DIR))
    build.add_argument("-c", "--config", default=str(example_config), help="sites for the map")
    build.set_defaults(func=cmd_build)
    push = commands.add_parser("push", help="create or update them in a Grafana folder")
    push.add_argument("--url", required=True, help="Grafana base URL")
    push.add_argument(
        "--token-env", required=True, help="environment variable holding the API token"
    )
    push.add_argument("--folder", default=FOLDER, help="folder title")
    push.add_argument("--folder-uid", default=FOLDER)
    push.set_defaults(func=cmd_push)
