"""A part of the example city (three schools and the science centre) run for real: the SNMP
fleet, the MQTT access points and exhibits, the LoRaWAN sensors and the probes, all through
the edumon service into a real InfluxDB, with short intervals (polls and probes every 2 s,
devices every 0.5 s) so that some 25 seconds are enough.

Faults make the alert engine write real `alert` points: vsk-1's core switch is silent for a
while (an alert that fires and resolves), vsk-5's access switch stays silent and an exhibit
crashes (two alerts still firing at the end). The switches answer LLDP, forwarding and PoE
tables of a city network wired from vsk-4's core, so discovery writes `poe` and the topology
`link` points. The KPI reporter then computes the month so far
and writes its `kpi` points back."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

import gateway.service
from gateway.config import EdumonConfig, load_config
from gateway.devstack.servers import InfluxDB1, Mosquitto, free_port
from gateway.plugins import PLUGINS
from gateway.reports.produce import produce
from gateway.service import Service
from simulators.lorawan.inventory import network_from_config
from simulators.mqtt.inventory import fleet_from_config
from simulators.snmp.run import city_fleet
from tests.alert_rules import rules_with

EXAMPLE_CITY = Path(__file__).resolve().parents[2] / "examples" / "city.yaml"
SITES = ("vsk-1", "vsk-4", "vsk-5", "vizium")  # v2c, v3, an IPv6 core switch, exhibits
SECRET_VARIABLES = ("EDUMON_SNMP_COMMUNITY", "EDUMON_SNMP_AUTH", "EDUMON_SNMP_PRIV")


def city_config(tmp_path: Path, influxdb: InfluxDB1, mosquitto: Mosquitto, db: str) -> EdumonConfig:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE_CITY.read_text(encoding="utf-8"))
    data["sites"] = [site for site in data["sites"] if site["id"] in SITES]
    data["lorawan"]["codec_dir"] = str(EXAMPLE_CITY.parent / data["lorawan"]["codec_dir"])
    for site in data["sites"]:
        for device in site["devices"]:
            if device["kind"] == "switch":
                device["port"] = free_port(device["address"])
    # the science centre's TCP probe target is edumon's own HTTP port (examples/city.yaml)
    http_port = free_port()
    data["service"] = {
        "state_dir": str(tmp_path / "state"),
        "http_listen": f"127.0.0.1:{http_port}",
    }
    for device in data["sites"][-1]["devices"]:
        if device["kind"] == "probe_target" and device.get("tcp_port") == 9108:
            device["tcp_port"] = http_port
    data["influxdb"] = {"url": influxdb.url, "database": db, "flush_interval_s": 0.5}
    data["mqtt"] |= {"port": mosquitto.port}
    # traps on ::1: FLAPPED, the one switch there, sends them from its own address
    trap_listen = f"[::1]:{free_port('::1')}"
    data["snmp"] |= {
        "trap_listen": trap_listen,
        "interval_s": 2,
        "timeout_s": 1.5,
        "discovery_interval_s": 2,
    }
    # the simulated city network (simulators/snmp/wiring.py) from vsk-4's core: the others'
    # cores link to it, VIZIUM's APs and exhibits on PoE ports of its switch; link points
    # every 2 s for the network dashboard
    data["topology"] = {"roots": ["vsk-4-core"], "link_interval_s": 2}
    data["probes"] = {"interval_s": 2}
    data.pop("alertmanager", None)
    # the switch alerts' timings fit for half a minute
    quick = {"for": "0s", "keep_firing_for": "2s"}
    changes = {"CoreSwitchUnreachable": quick, "SwitchUnreachable": quick}
    data["alerts"] = {"rules_file": str(rules_with(tmp_path / "rules.yaml", changes))}
    # the KPIs of half a minute: read in 2 s buckets, on any day of the year
    data["reports"] |= {"resolution_s": 2, "max_sample_gap_s": 10, "holidays": []}
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    fake_secrets = {name: secrets.token_urlsafe(12) for name in SECRET_VARIABLES}
    return load_config(path, PLUGINS, fake_secrets)


SILENT_A_WHILE, SILENT, CRASHED = "vsk-1-core", "vsk-5-access-1", "vizium-lightning"
FLAPPED = ("vsk-5-core", 3)  # an access port down and up again, with traps (the only
# switch on ::1, so the trap receiver can tell its traps by their sender)


async def run_city(config: EdumonConfig, seconds: float) -> None:
    """Service + simulators for `seconds`, with the faults above, then everything written is
    in the database."""
    community = config.credentials.snmp["school-v2c"].secret("community")
    assert community is not None
    fleet = city_fleet(config, community.get_secret_value().encode(), seed=7)
    await fleet.start()
    service = Service(config, PLUGINS)
    stop = asyncio.Event()
    runner = asyncio.create_task(service.run(stop))
    await service.started.wait()
    mqtt_devices = fleet_from_config(config, period_s=0.5)
    devices = asyncio.create_task(mqtt_devices.run())
    sensors = asyncio.create_task(network_from_config(config).run(rounds=10**6, period_s=1.0))
    try:
        await asyncio.sleep(3)
        fleet.flap(*FLAPPED, up=False)
        await asyncio.sleep(2)
        fleet.flap(*FLAPPED, up=True)
        fleet[SILENT_A_WHILE].faults.silent = True
        await asyncio.sleep(5)
        fleet[SILENT_A_WHILE].faults.silent = False
        fleet[SILENT].faults.silent = True
        mqtt_devices[CRASHED].crash()
        await asyncio.sleep(seconds - 10)
        assert await service.writer.drain(10)
    finally:
        for task in (devices, sensors):
            task.cancel()
        await asyncio.gather(devices, sensors, return_exceptions=True)
        stop.set()
        await runner
        fleet.close()


def fill_from_simulators(
    tmp_path: Path, influxdb: InfluxDB1, mosquitto: Mosquitto, db: str, seconds: float
) -> EdumonConfig:
    influxdb.create_database(db)
    config = city_config(tmp_path, influxdb, mosquitto, db)
    with pytest.MonkeyPatch.context() as patch:  # the writer reports itself every 2 s
        patch.setattr(gateway.service, "SELF_METRICS_INTERVAL_S", 2.0)
        asyncio.run(run_city(config, seconds))
    today = dt.datetime.now(dt.UTC).date()
    first = today.replace(day=1)
    asyncio.run(produce(config, first, today + dt.timedelta(days=1), None, tmp_path / "kpi"))
    return config
