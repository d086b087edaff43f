"""Build and run a fleet: N numbered switches, or every switch of an inventory."""

from __future__ import annotations

import asyncio
import logging
import os
import time

from collectors.snmp.config import SnmpCredential, SnmpSettings, Switch
from gateway.config import EdumonConfig
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.city import CityNetwork, unique_addresses
from simulators.snmp.scenario import Scenario, apply_faults, run_events
from simulators.snmp.switch import SimSwitch
from simulators.snmp.wifi_controller import SimWifiController
from simulators.snmp.wiring import Wiring, city_wiring

log = logging.getLogger(__name__)
DAY_S = 86400


def numbered_fleet(
    count: int, host: str, base_port: int, *, seed: int, old_every: int = 0
) -> list[tuple[SimSwitch, str, int]]:
    """`count` switches sw-0001... on consecutive ports; every `old_every`-th is 32-bit only."""
    now = time.time()
    return [
        (
            SimSwitch(
                f"sw-{n:04d}",
                seed=seed,
                uplinks=2 + n % 3,
                old=bool(old_every) and n % old_every == 0,
                boot=now - DAY_S * (1 + n % 30),
            ),
            host,
            base_port + n,
        )
        for n in range(1, count + 1)
    ]


def inventory_fleet(
    config: EdumonConfig, *, seed: int, wiring: Wiring | None = None
) -> list[tuple[SimSwitch, str, int]]:
    """One simulated switch per switch of the inventory, at its address and port, with the
    10G ports its links in `wiring` need."""
    now = time.time()
    fleet = []
    for n, (_site, device) in enumerate(config.devices_of(Switch)):
        boot = now - DAY_S * (1 + n % 30)
        switch = (
            SimWifiController(device.id, list(device.wifi.aps), seed=seed, boot=boot)
            if device.wifi is not None  # a Wi-Fi controller serving the APs its config names
            else SimSwitch(
                device.id,
                seed=seed,
                uplinks=max(
                    4 if device.role == "core" else 2, wiring.tengig[device.id] if wiring else 0
                ),
                boot=boot,
            )
        )
        fleet.append((switch, device.address, device.port))
    return fleet


def city_fleet(config: EdumonConfig, community: bytes, *, seed: int) -> SnmpFleet:
    """Every switch of the inventory as one fleet, answering the config's SNMPv3 users too,
    sending its traps to the config's trap listener (if it has one), and answering the
    discovery tables of the wiring derived from the config (simulators/snmp/city.py)."""
    from collectors.snmp.plugin import usm_user

    trap_to = None
    trap_listen = config.settings_of("snmp", SnmpSettings).trap_listen
    if trap_listen:
        host, _, port = trap_listen.rpartition(":")
        trap_to = (host.strip("[]"), int(port))
    credentials = config.credentials_of("snmp", SnmpCredential).values()
    users = [usm_user(c) for c in credentials if c.version == "3"]
    wiring = city_wiring(config)
    switches = inventory_fleet(config, seed=seed, wiring=wiring)
    fleet = SnmpFleet(switches, community, trap_receiver=trap_to, users=users)
    CityNetwork(fleet, wiring, unique_addresses(config))  # LLDP, forwarding and PoE tables
    return fleet


async def serve(
    fleet: SnmpFleet, duration_s: float | None = None, scenario: Scenario | None = None
) -> None:
    await fleet.start()
    scenario = scenario or Scenario()
    apply_faults(fleet, scenario)
    try:
        async with asyncio.timeout(duration_s):
            await asyncio.gather(run_events(fleet, scenario), asyncio.Event().wait())
    except TimeoutError:
        pass
    finally:
        fleet.close()


def community_from_env(name: str) -> bytes:
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"set the SNMP community in the environment variable {name}")
    return value.encode()
