"""edumon notices when it is blind: a frozen broker (SIGSTOP for 150 s) and a refused login are
one IntakeDown alert in the real Alertmanager, with the shipped rules, and never a storm of
AccessPointDown/ExhibitOffline for the devices behind the broker; the devices' data flows
again soon after the broker resumes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.config import load_config
from gateway.devstack.servers import Alertmanager, InfluxDB1, Mosquitto
from gateway.plugins import PLUGINS
from gateway.service import Service
from simulators.mqtt.devices import DeviceFleet, SimDevice

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FREEZE_S = 150.0
# alerts.intake_recovery_grace_s of the test's config: three of the simulated devices'
# reconnect attempts (their backoff is at most 5 s)
GRACE_S = 15
BEHIND_THE_BROKER = ("wifi_ap", "exhibit")  # the measurements of the MQTT intake
APS = [f"vsk-1-ap-{room}" for room in range(101, 109)]
EXHIBITS = ["vizium-lightning", "vizium-gyroscope"]
LOGIN_ENV = {"EDUMON_TEST_MQTT_USER": "edumon", "EDUMON_TEST_MQTT_PASSWORD": "not-the-password"}


def city(
    tmp_path: Path, influxdb: InfluxDB1, broker: Mosquitto, am: Alertmanager, login: str
) -> Path:
    aps = "\n".join(f'      - {{kind: access_point, id: {ap}, room: "{ap[-3:]}"}}' for ap in APS)
    exhibits = "\n".join(f"      - {{kind: exhibit, id: {e}, zone: hall}}" for e in EXHIBITS)
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"""
service: {{state_dir: {tmp_path / "state"}, http_listen: "127.0.0.1:0"}}
influxdb: {{url: {influxdb.url}, database: blind, flush_interval_s: 0.2}}
mqtt: {{host: 127.0.0.1, port: {broker.port}, client_id: edumon-blind, keepalive_s: 5{login}}}
telemetry: {{silence_s: 10}}
alertmanager: {{url: {am.url}, resend_interval_s: 5}}
alerts: {{intake_recovery_grace_s: {GRACE_S}}}
sites:
  - id: vsk-1
    name: School
    devices:
{aps}
  - id: vizium
    name: Science centre
    kind: science_centre
    devices:
{exhibits}
"""
    )
    return path


@contextlib.asynccontextmanager
async def running(config: Path) -> AsyncIterator[Service]:
    service = Service(load_config(config, PLUGINS, {**os.environ, **LOGIN_ENV}), PLUGINS)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await service.started.wait()
    try:
        yield service
    finally:
        stop.set()
        await task


def component(service: Service, name: str) -> dict[str, Any]:
    components: dict[str, Any] = service.health.report()["components"]
    return dict(components[name])


def active(am: Alertmanager) -> list[str]:
    """Alert names Alertmanager holds as active, edumon's always-firing Watchdog aside."""
    return sorted(
        a["labels"]["alertname"]
        for a in am.alerts()
        if a["status"]["state"] == "active" and a["labels"]["alertname"] != "Watchdog"
    )


async def within(seconds: float, check: Any) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds} s")
        await asyncio.sleep(0.5)
    return time.monotonic() - started


async def test_a_frozen_broker_is_one_intake_alert_and_the_data_comes_back(
    tmp_path: Path, influxdb: InfluxDB1, alertmanager: Alertmanager
) -> None:
    influxdb.create_database("blind")
    with Mosquitto(tmp_path / "broker") as broker:
        devices = [SimDevice("vsk-1", ap, "ap", ap[-3:]) for ap in APS]
        devices += [SimDevice("vizium", e, "exhibit", "hall") for e in EXHIBITS]
        fleet = DeviceFleet("127.0.0.1", broker.port, devices, period_s=2.0)
        async with running(city(tmp_path, influxdb, broker, alertmanager, "")) as service:
            simulators = asyncio.create_task(fleet.run())
            await within(20, lambda: component(service, "mqtt")["status"] == "ok")
            await asyncio.sleep(6)
            assert active(alertmanager) == []

            pid = broker.pid
            assert pid is not None
            os.kill(pid, signal.SIGSTOP)
            try:
                frozen_at = time.monotonic()
                noticed = await within(30, lambda: component(service, "mqtt")["status"] == "error")
                seen: set[str] = set()
                while time.monotonic() - frozen_at < FREEZE_S:
                    seen.update(await asyncio.to_thread(active, alertmanager))
                    await asyncio.sleep(2)
                assert await asyncio.to_thread(active, alertmanager) == ["IntakeDown"]
                published_before = fleet.published
            finally:
                os.kill(pid, signal.SIGCONT)
            resumed_at = time.time()

            flowing = await within(30, lambda: fleet.published > published_before + len(devices))
            await within(30, lambda: component(service, "mqtt")["status"] == "ok")
            back = time.monotonic()
            after_resume: set[str] = set()
            # past the grace, by enough for an alert firing as it ends to reach Alertmanager
            # (edumon sends a transition at once; the rules resume <= 1 s after `ok`)
            while time.monotonic() - back < GRACE_S + 10:
                after_resume.update(await asyncio.to_thread(active, alertmanager))
                await asyncio.sleep(2)
            after_resume.update(await asyncio.to_thread(active, alertmanager))
            # and none is on its way: a device rule pending now (AccessPointDown's `for: 1m`)
            # would fire after this window
            engine = service.alerting.engine
            assert not any(engine.held(m) for m in BEHIND_THE_BROKER), "still held"
            on_the_way = sorted(
                f"{i.rule} {i.state} {i.labels}"
                for i in engine.instances.values()
                if engine.rules[i.rule].select.measurement in BEHIND_THE_BROKER
                and i.state != "inactive"
            )
            for device in devices:
                device.crashed = True
            simulators.cancel()  # nor wait out their reconnect backoff (up to 5 s)
            with contextlib.suppress(asyncio.CancelledError):
                await simulators
        stored = influxdb.query(
            f'SELECT count("clients") FROM "wifi_ap" WHERE time > {int(resumed_at * 1e9)}',
            db="blind",
        )
    print(
        f"frozen broker: mqtt error after {noticed:.1f} s; alerts during the freeze {sorted(seen)}"
        f", after the resume {sorted(after_resume)}; data flowing {flowing:.1f} s after SIGCONT"
    )
    assert noticed < 30, f"the mqtt component said error {noticed:.0f} s after the freeze"
    assert seen == {"IntakeDown"}, f"alerts during the freeze: {sorted(seen)}"
    assert after_resume <= {"IntakeDown"}, f"alerts after the resume: {sorted(after_resume)}"
    assert on_the_way == [], f"device alerts pending or firing after the grace: {on_the_way}"
    assert flowing < 30
    assert stored["results"][0]["series"][0]["values"][0][1] > 0  # data stored after resume


async def test_a_refused_login_names_the_broker_and_fires_intake_down(
    tmp_path: Path, influxdb: InfluxDB1, alertmanager: Alertmanager
) -> None:
    influxdb.create_database("blind")
    passwords = tmp_path / "passwd"
    passwords.touch()
    command = ["mosquitto_passwd", "-b", str(passwords), "edumon", "the-password"]
    await asyncio.to_thread(subprocess.run, command, check=True)
    login = ", username_env: EDUMON_TEST_MQTT_USER, password_env: EDUMON_TEST_MQTT_PASSWORD"
    with Mosquitto(tmp_path / "broker", password_file=passwords) as broker:
        async with running(city(tmp_path, influxdb, broker, alertmanager, login)) as service:
            await within(20, lambda: component(service, "mqtt")["status"] == "error")
            mqtt = component(service, "mqtt")
            assert f"127.0.0.1:{broker.port}" in mqtt["detail"]
            assert "auth" in mqtt["detail"].lower()
            assert service.health.report()["status"] == "error"
            target = f"127.0.0.1:{broker.port}"
            await within(40, lambda: intake_down_for(alertmanager, target))


def intake_down_for(am: Alertmanager, target: str) -> bool:
    return any(
        a["labels"]["alertname"] == "IntakeDown" and a["labels"].get("target") == target
        for a in am.alerts()
        if a["status"]["state"] == "active"
    )
