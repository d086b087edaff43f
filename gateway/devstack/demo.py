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
from pathlib import Path

from gateway.config import EdumonConfig, load_config
from gateway.devstack.stack import LocalStack
from gateway.sections import AlertmanagerSection
from gateway.service import Service

log = logging.getLogger(__name__)

DEMO_GATEWAY_TCP_PORT = 18443
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


def run_demo(config_path: Path, state_dir: Path, *, duration_s: float | None = None) -> int:
    env = demo_environment()
    os.environ.update({name: env[name] for name in DEMO_SECRET_VARIABLES})  # the simulators' too
    config = load_config(config_path, env)
    with LocalStack(state_dir / "stack") as stack:
        for name, url in stack.urls.items():
            print(f"{name:13} {url}")
        config = point_at_stack(config, stack, state_dir)
        service = Service(config)
        print(
            f"edumon        http://{config.service.http_listen}/healthz  (Ctrl-C stops everything)"
        )
        asyncio.run(_run(service, duration_s))
    return 0


async def _run(service: Service, duration_s: float | None) -> None:
    from simulators.lorawan.inventory import network_from_config
    from simulators.mqtt.inventory import fleet_from_config
    from simulators.snmp.run import city_fleet

    config = service.config
    fleet = city_fleet(config, os.environ["EDUMON_SNMP_COMMUNITY"].encode(), seed=1)
    await fleet.start()
    # the schools' gateways answer HTTPS on this port in the example city (a TCP probe target)
    gateways = await asyncio.start_server(_accept_and_close, "127.0.0.1", DEMO_GATEWAY_TCP_PORT)
    devices = asyncio.create_task(fleet_from_config(config, period_s=10).run())
    sensors = asyncio.create_task(network_from_config(config).run(rounds=10**9, period_s=60))
    stop = asyncio.Event()
    if duration_s is not None:
        asyncio.get_running_loop().call_later(duration_s, stop.set)
    try:
        await service.run(stop)
    finally:
        for task in (devices, sensors):
            task.cancel()
        await asyncio.gather(devices, sensors, return_exceptions=True)
        fleet.close()
        gateways.close()


async def _accept_and_close(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()
