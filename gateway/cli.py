"""`edumon` command line: run, check-config, status, kpi, stack up, demo, sim, dashboards."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from dashboards.cli import add_commands as add_dashboard_commands
from gateway.cli_common import (
    example_config,
    load_or_exit,
    port_in_use,
    set_log_format,
    setup_logging,
)
from gateway.config import EdumonConfig, check_config
from gateway.config_warnings import config_warnings
from gateway.deadletter import private_state_files
from gateway.devstack.demo import run_demo
from gateway.devstack.demo_fault_cli import DEFAULT_STATE_DIR, add_fault_command
from gateway.one_poll import poll_once
from gateway.plugins import PLUGINS
from gateway.reports import cli as kpi_cli
from gateway.service import Service
from gateway.shipped import edumon_version
from gateway.storage.spool import SpoolError

log = logging.getLogger("edumon")

EXAMPLE_CONFIG = example_config()
PLUGINS_OF_THIS_RUN = tuple(PLUGINS)  # the one plugin list, handed to everything that needs it


def load(path: str) -> EdumonConfig:
    return load_or_exit(path, PLUGINS_OF_THIS_RUN)


def service_of(
    config: EdumonConfig, http_listen: str | None = None, config_path: Path | None = None
) -> Service:
    """The service; with `config_path`, SIGHUP and `POST /-/reload` read that file again."""
    return Service(config, PLUGINS_OF_THIS_RUN, http_listen=http_listen, config_path=config_path)


def cmd_run(args: argparse.Namespace) -> int:
    config = load(args.config)
    setup_logging(args.log_level or config.service.log_level)
    private_state_files()
    try:
        service = service_of(config, args.listen, Path(args.config))
    except SpoolError as error:
        print(f"edumon: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(service.run())
    except OSError as error:
        http = args.listen or config.service.http_listen
        message = port_in_use(error, {http: "edumon's HTTP server (service.http_listen)"})
        if message is None:
            raise
        print(message, file=sys.stderr)
        return 2
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    config = load(args.config)
    setup_logging(args.log_level or "warning")
    devices = args.device or ()
    return asyncio.run(
        poll_once(
            config,
            PLUGINS_OF_THIS_RUN,
            devices,
            output=args.format,
            rounds=args.rounds,
            gap_s=args.gap,
        )
    )


def cmd_check_config(args: argparse.Namespace) -> int:
    problems = check_config(args.config, PLUGINS_OF_THIS_RUN)
    for problem in problems:
        print(problem)
    for warning in config_warnings(Path(args.config)):
        print(warning)
    if problems:
        print(f"{len(problems)} problem(s) in {args.config}", file=sys.stderr)
        return 1
    print(f"{args.config}: OK")
    return 0


def _http_listen(path: Path) -> str:
    """The service's URL from its config, without needing its secrets."""
    import yaml

    from gateway.sections import ServiceSection

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    service = ServiceSection.model_validate(data.get("service") or {})
    scheme = "https" if service.http.tls_server_config else "http"
    return f"{scheme}://{service.http_listen}"


def cmd_status(args: argparse.Namespace) -> int:
    from rich.console import Console

    from gateway.status_view import fetch_status, render_status, watch

    url = args.url or _http_listen(Path(args.config))
    try:
        if args.watch:
            watch(url, args.watch, args.alertmanager)
        else:
            Console().print(render_status(fetch_status(url, args.alertmanager)))
    except OSError as error:
        print(f"edumon status: cannot read {url}/status: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def cmd_stack_up(args: argparse.Namespace) -> int:
    from gateway.devstack.stack import stack_up

    setup_logging(args.log_level or "info")
    return stack_up(Path(args.state_dir), cluster=args.cluster)


def cmd_demo(args: argparse.Namespace) -> int:
    setup_logging(args.log_level or "info")
    return run_demo(
        Path(args.config),
        Path(args.state_dir),
        PLUGINS_OF_THIS_RUN,
        service_of,
        duration_s=args.duration,
    )


def cmd_kpi(args: argparse.Namespace) -> int:
    return kpi_cli.run(args, load(args.config))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edumon", description=__doc__)
    parser.add_argument("--version", action="version", version=f"edumon {edumon_version()}")
    parser.add_argument(
        "--log-level", help="debug, info, warning, error (default: the config's, else info)"
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="log lines as text or as one JSON object each (default: %(default)s)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the service")
    run.add_argument("-c", "--config", required=True, help="the config file")
    run.add_argument("--listen", help="override service.http_listen (host:port)")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser(
        "check-config", help="validate a config; print file:line: field: problem"
    )
    check.add_argument("config", help="the config file to validate")
    check.set_defaults(func=cmd_check_config)

    test = sub.add_parser(
        "test",
        help="poll each polled target (switches, probe targets) once and print the samples; "
        "writes nothing, raises no alert; exit 1 if any target did not answer",
    )
    test.add_argument("-c", "--config", required=True, help="the config file")
    test.add_argument(
        "--device", action="append", metavar="ID", help="only this target (repeatable)"
    )
    test.add_argument(
        "--format", choices=("line", "json"), default="line", help="line protocol or JSON lines"
    )
    test.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="poll each target this often; from the second round on, rates (default: 1)",
    )
    test.add_argument(
        "--gap", type=float, default=5.0, help="seconds between rounds (default: %(default)s)"
    )
    test.set_defaults(func=cmd_test)
    for plugin in PLUGINS_OF_THIS_RUN:
        if plugin.add_commands is not None:
            plugin.add_commands(sub, load)

    status = sub.add_parser("status", help="on-call view: sites, firing alerts, exhibits, edumon")
    where = status.add_mutually_exclusive_group(required=True)
    where.add_argument("-c", "--config", help="the running service's config (its http_listen)")
    where.add_argument("--url", help="edumon's HTTP address, e.g. http://127.0.0.1:9108")
    status.add_argument("--watch", type=float, metavar="SECONDS", help="redraw every N seconds")
    status.add_argument(
        "--alertmanager",
        metavar="URL",
        help="fold in what this Alertmanager holds back (inhibited or silenced alerts)",
    )
    status.set_defaults(func=cmd_status)

    stack = sub.add_parser("stack", help="local InfluxDB, Mosquitto and Alertmanager")
    stack_sub = stack.add_subparsers(dest="stack_command", required=True)
    up = stack_sub.add_parser("up", help="start them as child processes until Ctrl-C")
    up.add_argument(
        "--state-dir",
        default="state/stack",
        help="the servers' data and ports.json (default: %(default)s)",
    )
    up.add_argument(
        "--cluster",
        action="store_true",
        help="also etcd and a second, peered Alertmanager: for two or more edumon instances",
    )
    up.set_defaults(func=cmd_stack_up)

    _add_optional_commands(sub)

    kpi = sub.add_parser("kpi", help="KPI/SLA report, open data and the kpi measurement")
    kpi.set_defaults(func=cmd_kpi)
    kpi_cli.add_arguments(kpi, str(EXAMPLE_CONFIG))

    demo = sub.add_parser("demo", help="stack + simulators + service with the example city")
    demo.add_argument(
        "-c", "--config", default=str(EXAMPLE_CONFIG), help="the city (default: the example)"
    )
    demo.add_argument(
        "--state-dir",
        default=DEFAULT_STATE_DIR,
        help="the stack's and the service's data (default: %(default)s)",
    )
    demo.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    demo.set_defaults(func=cmd_demo)
    add_fault_command(demo.add_subparsers(dest="demo_command", required=False))
    add_dashboard_commands(sub, EXAMPLE_CONFIG)
    return parser


def _add_optional_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`edumon sim ...` when the simulators are installed (the container leaves them out)."""
    try:
        from simulators.cli import add_commands
    except ImportError:
        return
    add_commands(sub, load)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    set_log_format(args.log_format)
    command: Callable[[argparse.Namespace], int] = args.func
    return command(args)


if __name__ == "__main__":
    raise SystemExit(main())
