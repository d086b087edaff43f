"""`edumon demo`: the local stack, the simulators and the service with the example city.

Runs the example city's simulators — the SNMP switch fleet (v2c and v3, traps), the access
points and exhibits over MQTT, the LoRaWAN sensors behind ChirpStack/TTS — against the real
local stack, with the service polling, probing and consuming all of it into InfluxDB.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from gateway.collector import Plugins
from gateway.config import EdumonConfig, load_config
from gateway.devstack.child_server import port_is_free
from gateway.devstack.demo_control import FaultControl
from gateway.devstack.demo_fault_cli import DEFAULT_STATE_DIR
from gateway.devstack.demo_faults import DemoWorld
from gateway.devstack.stack import LocalStack
from gateway.sections import AlertmanagerSection


class RunningService(Protocol):
    async def run(self, stop: asyncio.Event | None = None) -> None: ...


log = logging.getLogger(__name__)

DEMO_GATEWAY_TCP_PORT = 18443  # when the config's probe targets name no tcp_port


def gateway_port(config: EdumonConfig) -> int:
    """The port the schools' simulated gateways answer on: the probe targets' tcp_port."""
    ports = (getattr(device, "tcp_port", None) for _, device in config.devices("probe_target"))
    return next((port for port in ports if port), DEMO_GATEWAY_TCP_PORT)


DEMO_SECRET_VARIABLES = ("EDUMON_SNMP_COMMUNITY", "EDUMON_SNMP_AUTH", "EDUMON_SNMP_PRIV")


def demo_environment() -> dict[str, str]:
    """The example city's secrets: taken from the environment, else random per demo run
    (the simulators get the same values, so nothing real is ever needed or written down)."""
    env = dict(os.environ)
    for name in DEMO_SECRET_VARIABLES:
        env.setdefault(name, secrets.token_urlsafe(12))
    return env


def point_at_stack(config: EdumonConfig, stack: LocalStack, state_dir: Path) -> EdumonConfig:
    """The example config names the stack's preferred ports; use the ones it really got."""
    return config.model_copy(
        update={
            "service": config.service.model_copy(update={"state_dir": state_dir / "service"}),
            "influxdb": config.influxdb.model_copy(update={"url": stack.influxdb.url}),
            "mqtt": config.mqtt.model_copy(update={"port": stack.mosquitto.port}),
            "alertmanager": (config.alertmanager or AlertmanagerSection()).model_copy(
                update={"url": stack.alertmanager.url}
            ),
        }
    )


def busy_ports(config: EdumonConfig, stack: LocalStack) -> list[str]:
    """What the demo would listen on and cannot: one line each, naming port and component."""
    wanted = [(server.port, server.host, server.name) for server in stack.servers]
    host, _, port = config.service.http_listen.rpartition(":")
    wanted.append((int(port), host, "edumon's HTTP server (service.http_listen)"))
    wanted.append((gateway_port(config), "127.0.0.1", "the schools' simulated gateways"))
    busy = [(p, h, name) for p, h, name in wanted if not port_is_free(p, h)]
    return [
        f"edumon demo: port {p} ({h}) is already in use; {name} cannot listen there "
        "(is another demo or `edumon stack up` running?)"
        for p, h, name in busy
    ]


def how_to_reach(config: EdumonConfig, stack: LocalStack, community: str) -> list[str]:
    """The lines `edumon demo` prints: each part's address and a command to try."""
    http = f"http://{config.service.http_listen}"
    influx = stack.influxdb
    lines = [
        f"edumon        {http}/  (its pages: status, health, metrics, runbooks)",
        f"status        edumon status --url {http}",
        f"health        {http}/healthz",
        f"map           {http}/topology  (the city network as learned; `edumon status` lists"
        " failed switches and what is held behind them)",
        f"metrics       {http}/metrics",
        f"influx        influx -host {influx.host} -port {influx.port} -database "
        f"{config.influxdb.database} -execute 'SELECT last(up) FROM device GROUP BY device'",
        f"mosquitto     {stack.mosquitto.mqtt_url}",
        f"alerts        amtool alert query --alertmanager.url={stack.alertmanager.url}",
    ]
    v2c = next(
        (d for _, d in config.devices("switch") if getattr(d, "credentials", "") == "school-v2c"),
        None,
    )
    if v2c is not None:
        lines.append(
            f"snmpwalk      snmpwalk -v2c -c {community} {v2c.address}:{v2c.port} 1.3.6.1.2.1.1"
            f"  ({v2c.id})"
        )
    return lines


def run_demo(
    config_path: Path,
    state_dir: Path,
    plugins: Plugins,
    service_of: Callable[[EdumonConfig], RunningService],
    *,
    duration_s: float | None = None,
) -> int:
    """The demo with the service `service_of(config)` for the stack's config."""
    env = demo_environment()
    os.environ.update({name: env[name] for name in DEMO_SECRET_VARIABLES})  # the simulators' too
    config = load_config(config_path, plugins, env)
    stack = LocalStack(state_dir / "stack", port_fallback=False)
    busy = busy_ports(config, stack)
    if busy:
        print("\n".join(busy), file=sys.stderr)
        return 2
    with stack:
        config = point_at_stack(config, stack, state_dir)
        service = service_of(config)
        for line in how_to_reach(config, stack, env["EDUMON_SNMP_COMMUNITY"]):
            print(line, flush=True)
        for line in what_to_try(state_dir):
            print(line, flush=True)
        print("(Ctrl-C stops everything)", flush=True)
        asyncio.run(_run(service, config, state_dir, duration_s))
    return 0


def what_to_try(state_dir: Path) -> list[str]:
    """The banner's faults to try, and a word on the warnings the demo causes on purpose."""
    at = f" --state-dir {state_dir}" if str(state_dir) != DEFAULT_STATE_DIR else ""
    return [
        f"try a fault   edumon demo fault port-down --target vsk-1-core{at}"
        "   (UplinkDown; `edumon status` shows it)",
        f"              edumon demo fault exhibit-crash{at}   (ExhibitOffline)",
        f"              edumon demo fault switch-fail --target city-agg-1{at}"
        "   (one page for the aggregation switch; the schools behind it held)",
        f"              edumon demo fault list{at}  |  edumon demo fault clear{at}",
        "note          the LoRaWAN simulator sends a broken frame now and then on purpose:"
        " its dead-letter WARNINGs show edumon refusing them",
    ]


async def _run(
    service: RunningService, config: EdumonConfig, state_dir: Path, duration_s: float | None
) -> None:
    from simulators.lorawan.inventory import network_from_config
    from simulators.mqtt.inventory import fleet_from_config
    from simulators.snmp.run import city_fleet

    fleet = city_fleet(config, os.environ["EDUMON_SNMP_COMMUNITY"].encode(), seed=1)
    await fleet.start()
    # the schools' gateways answer HTTPS on this port in the example city (a TCP probe target)
    gateways = await asyncio.start_server(_accept_and_close, "127.0.0.1", gateway_port(config))
    device_fleet = fleet_from_config(config, period_s=10)
    network = network_from_config(config)
    control = FaultControl(state_dir, DemoWorld(fleet, device_fleet, network, time.time))
    tasks = [
        asyncio.create_task(device_fleet.run()),
        asyncio.create_task(network.run(rounds=10**9, period_s=60)),
        asyncio.create_task(control.run()),
    ]
    stop = asyncio.Event()
    if duration_s is not None:
        asyncio.get_running_loop().call_later(duration_s, stop.set)
    try:
        await service.run(stop)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        fleet.close()
        gateways.close()


async def _accept_and_close(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()
