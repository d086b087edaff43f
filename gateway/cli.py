"""`edumon` command line: run, check-config, status, kpi, stack up, demo, sim, dashboards."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from dashboards.cli import add_commands as add_dashboard_commands
from gateway.config import ConfigError, EdumonConfig, check_config, load_config
from gateway.kpi import cli as kpi_cli

log = logging.getLogger("edumon")

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "city.yaml"


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _load_or_exit(path: str) -> EdumonConfig:
    try:
        return load_config(path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.service import Service
    from gateway.spool import SpoolError

    config = _load_or_exit(args.config)
    _setup_logging(args.log_level or config.service.log_level)
    try:
        service = Service(config, http_listen=args.listen)
    except SpoolError as error:
        print(f"edumon: {error}", file=sys.stderr)
        return 2
    asyncio.run(service.run())
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    problems = check_config(args.config)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {args.config}", file=sys.stderr)
        return 1
    print(f"{args.config}: OK")
    return 0


def _http_listen(path: Path) -> str:
    """The service's address from its config, without needing its secrets."""
    import yaml

    from gateway.config import ServiceSection

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return ServiceSection.model_validate(data.get("service") or {}).http_listen


def cmd_status(args: argparse.Namespace) -> int:
    from rich.console import Console

    from gateway.status_view import fetch_status, render_status, watch

    url = args.url or f"http://{_http_listen(Path(args.config))}"
    try:
        if args.watch:
            watch(url, args.watch)
        else:
            Console().print(render_status(fetch_status(url)))
    except OSError as error:
        print(f"edumon status: cannot read {url}/status: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def cmd_stack_up(args: argparse.Namespace) -> int:
    from gateway.stack import stack_up

    _setup_logging(args.log_level or "info")
    return stack_up(Path(args.state_dir))


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway.demo import run_demo

    _setup_logging(args.log_level or "info")
    return run_demo(Path(args.config), Path(args.state_dir), duration_s=args.duration)


def cmd_sim_snmp(args: argparse.Namespace) -> int:
    from simulators.snmp.agent import SnmpFleet
    from simulators.snmp.run import community_from_env, inventory_fleet, numbered_fleet, serve
    from simulators.snmp.scenario import Scenario

    _setup_logging(args.log_level or "info")
    community = community_from_env(args.community_env)
    if args.config:
        switches = inventory_fleet(_load_or_exit(args.config), seed=args.seed)
    else:
        switches = numbered_fleet(
            args.switches, args.host, args.base_port, seed=args.seed, old_every=args.old_every
        )
    trap_to = None
    if args.trap_to:
        host, _, port = args.trap_to.rpartition(":")
        trap_to = (host.strip("[]"), int(port))
    first, last = switches[0], switches[-1]
    print(
        f"{len(switches)} switches on udp {first[1]}:{first[2]} .. {last[1]}:{last[2]}", flush=True
    )
    scenario = Scenario.load(Path(args.scenario)) if args.scenario else None
    fleet = SnmpFleet(switches, community, trap_receiver=trap_to)
    asyncio.run(serve(fleet, args.duration, scenario))
    return 0


def cmd_sim_mqtt(args: argparse.Namespace) -> int:
    from simulators.mqtt.inventory import fleet_from_config

    _setup_logging(args.log_level or "info")
    fleet = fleet_from_config(_load_or_exit(args.config), args.period)
    print(
        f"{len(fleet.devices)} access points and exhibits publishing to {fleet.host}:{fleet.port}"
    )
    asyncio.run(fleet.run())
    return 0


def cmd_sim_lorawan(args: argparse.Namespace) -> int:
    from simulators.lorawan.inventory import network_from_config

    _setup_logging(args.log_level or "info")
    network = network_from_config(_load_or_exit(args.config))
    print(f"{len(network.sensors)} LoRaWAN sensors publishing to {network.host}:{network.port}")
    asyncio.run(network.run(rounds=args.rounds, period_s=args.period))
    return 0


def cmd_sim_history(args: argparse.Namespace) -> int:
    from simulators.history.generator import write_history
    from simulators.history.scenario import HistoryScenario

    _setup_logging(args.log_level or "info")
    scenario = HistoryScenario.load(Path(args.scenario))
    written = asyncio.run(write_history(_load_or_exit(args.config), scenario))
    print(", ".join(f"{count} {name}" for name, count in sorted(written.items())))
    return 0


def cmd_kpi(args: argparse.Namespace) -> int:
    return kpi_cli.run(args, _load_or_exit(args.config))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edumon", description=__doc__)
    parser.add_argument("--log-level", help="debug, info, warning, error")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the service")
    run.add_argument("-c", "--config", required=True)
    run.add_argument("--listen", help="override service.http_listen (host:port)")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser(
        "check-config", help="validate a config; print file:line: field: problem"
    )
    check.add_argument("config")
    check.set_defaults(func=cmd_check_config)

    status = sub.add_parser("status", help="on-call view: sites, firing alerts, exhibits, edumon")
    where = status.add_mutually_exclusive_group(required=True)
    where.add_argument("-c", "--config", help="the running service's config (its http_listen)")
    where.add_argument("--url", help="edumon's HTTP address, e.g. http://127.0.0.1:9108")
    status.add_argument("--watch", type=float, metavar="SECONDS", help="redraw every N seconds")
    status.set_defaults(func=cmd_status)

    stack = sub.add_parser("stack", help="local InfluxDB, Mosquitto and Alertmanager")
    stack_sub = stack.add_subparsers(dest="stack_command", required=True)
    up = stack_sub.add_parser("up", help="start them as child processes until Ctrl-C")
    up.add_argument("--state-dir", default="state/stack")
    up.set_defaults(func=cmd_stack_up)

    sim = sub.add_parser("sim", help="device simulators")
    sim_sub = sim.add_subparsers(dest="sim_command", required=True)
    snmp = sim_sub.add_parser("snmp", help="a fleet of SNMP switches")
    snmp.add_argument("--switches", type=int, default=10)
    snmp.add_argument("--host", default="127.0.0.1")
    snmp.add_argument("--base-port", type=int, default=16100)
    snmp.add_argument("--config", help="serve every switch of this inventory instead")
    snmp.add_argument("--community-env", default="EDUMON_SNMP_COMMUNITY")
    snmp.add_argument("--old-every", type=int, default=0, help="every Nth switch: 32-bit counters")
    snmp.add_argument("--trap-to", help="host:port to send linkDown/linkUp/coldStart traps to")
    snmp.add_argument("--seed", type=int, default=1)
    snmp.add_argument(
        "--scenario", help="YAML of faults and timed events (simulators/snmp/scenario.py)"
    )
    snmp.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    snmp.set_defaults(func=cmd_sim_snmp)

    mqtt = sim_sub.add_parser("mqtt", help="the inventory's access points and exhibits over MQTT")
    mqtt.add_argument("--config", required=True)
    mqtt.add_argument("--period", type=float, default=10.0, help="seconds between messages")
    mqtt.set_defaults(func=cmd_sim_mqtt)
    lorawan = sim_sub.add_parser(
        "lorawan", help="the inventory's LoRaWAN sensors via network servers"
    )
    lorawan.add_argument("--config", required=True)
    lorawan.add_argument("--period", type=float, default=60.0, help="seconds between uplinks")
    lorawan.add_argument("--rounds", type=int, default=10**9)
    lorawan.set_defaults(func=cmd_sim_lorawan)
    history = sim_sub.add_parser(
        "history", help="write a period of simulated history with outages (simulators/history)"
    )
    history.add_argument("--config", required=True)
    history.add_argument("--scenario", required=True)
    history.set_defaults(func=cmd_sim_history)

    kpi = sub.add_parser("kpi", help="KPI/SLA report, open data and the kpi measurement")
    kpi.set_defaults(func=cmd_kpi)
    kpi_cli.add_arguments(kpi, str(EXAMPLE_CONFIG))

    demo = sub.add_parser("demo", help="stack + simulators + service with the example city")
    demo.add_argument("-c", "--config", default=str(EXAMPLE_CONFIG))
    demo.add_argument("--state-dir", default="state/demo")
    demo.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    demo.set_defaults(func=cmd_demo)
    add_dashboard_commands(sub, EXAMPLE_CONFIG)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.func
    return command(args)


if __name__ == "__main__":
    raise SystemExit(main())
