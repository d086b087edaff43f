"""`edumon sim snmp|mqtt|lorawan|history` (registered by gateway.cli)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path
from typing import Any

from gateway.cli_common import progress_bar, setup_logging
from gateway.collector import ConfigLoader


def cmd_sim_snmp(args: argparse.Namespace) -> int:
    from simulators.snmp.agent import SnmpFleet
    from simulators.snmp.run import community_from_env, inventory_fleet, numbered_fleet, serve
    from simulators.snmp.scenario import Scenario

    setup_logging(args.log_level or "info")
    community = community_from_env(args.community_env)
    if args.config:
        switches = inventory_fleet(args.load_config(args.config), seed=args.seed)
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

    setup_logging(args.log_level or "info")
    fleet = fleet_from_config(args.load_config(args.config), args.period)
    print(
        f"{len(fleet.devices)} access points and exhibits publishing to {fleet.host}:{fleet.port}"
    )
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops the devices
        asyncio.run(fleet.run())
    return 0


def cmd_sim_lorawan(args: argparse.Namespace) -> int:
    from simulators.lorawan.inventory import network_from_config

    setup_logging(args.log_level or "info")
    network = network_from_config(args.load_config(args.config))
    print(f"{len(network.sensors)} LoRaWAN sensors publishing to {network.host}:{network.port}")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops the network server
        asyncio.run(network.run(rounds=args.rounds, period_s=args.period))
    return 0


def cmd_sim_history(args: argparse.Namespace) -> int:
    from simulators.history.generator import write_history
    from simulators.history.scenario import HistoryScenario

    setup_logging(args.log_level or "info")
    scenario = HistoryScenario.load(Path(args.scenario))
    config = args.load_config(args.config)
    with progress_bar("history", scenario.ticks) as advance:
        written = asyncio.run(write_history(config, scenario, advance))
    print(", ".join(f"{count} {name}" for name, count in sorted(written.items())))
    return 0


def add_commands(sub: Any, load_config: ConfigLoader) -> None:
    """Add `sim` and its sub-commands to edumon's sub-parsers; they read configs with
    `load_config`."""
    sim = sub.add_parser("sim", help="device simulators")
    sim.set_defaults(load_config=load_config)
    sim_sub = sim.add_subparsers(dest="sim_command", required=True)
    snmp = sim_sub.add_parser("snmp", help="a fleet of SNMP switches")
    snmp.add_argument(
        "--switches", type=int, default=10, help="how many switches (default: %(default)s)"
    )
    snmp.add_argument(
        "--host", default="127.0.0.1", help="address they listen on (default: %(default)s)"
    )
    snmp.add_argument(
        "--base-port",
        type=int,
        default=16100,
        help="UDP port of the first switch, the next ones follow (default: %(default)s)",
    )
    snmp.add_argument("--config", help="serve every switch of this inventory instead")
    snmp.add_argument(
        "--community-env",
        default="EDUMON_SNMP_COMMUNITY",
        help="environment variable holding the v2c community (default: %(default)s)",
    )
    snmp.add_argument("--old-every", type=int, default=0, help="every Nth switch: 32-bit counters")
    snmp.add_argument("--trap-to", help="host:port to send linkDown/linkUp/coldStart traps to")
    snmp.add_argument(
        "--seed", type=int, default=1, help="seed of the simulated traffic (default: %(default)s)"
    )
    snmp.add_argument(
        "--scenario", help="YAML of faults and timed events (simulators/snmp/scenario.py)"
    )
    snmp.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    snmp.set_defaults(func=cmd_sim_snmp)

    mqtt = sim_sub.add_parser("mqtt", help="the inventory's access points and exhibits over MQTT")
    mqtt.add_argument("--config", required=True, help="the config whose devices to simulate")
    mqtt.add_argument("--period", type=float, default=10.0, help="seconds between messages")
    mqtt.set_defaults(func=cmd_sim_mqtt)
    lorawan = sim_sub.add_parser(
        "lorawan", help="the inventory's LoRaWAN sensors via network servers"
    )
    lorawan.add_argument("--config", required=True, help="the config whose sensors to simulate")
    lorawan.add_argument("--period", type=float, default=60.0, help="seconds between uplinks")
    lorawan.add_argument(
        "--rounds", type=int, default=10**9, help="uplinks per sensor, then stop (default: no end)"
    )
    lorawan.set_defaults(func=cmd_sim_lorawan)
    history = sim_sub.add_parser(
        "history", help="write a period of simulated history with outages (simulators/history)"
    )
    history.add_argument(
        "--config", required=True, help="the city (its database receives the history)"
    )
    history.add_argument(
        "--scenario",
        required=True,
        help="period, steps and outages (simulators/history/scenario.py)",
    )
    history.set_defaults(func=cmd_sim_history)
