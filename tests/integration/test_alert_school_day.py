"""A whole simulated school day on an accelerated clock, through the real collectors' parsing
and the default rule pack: a normal day raises no alert, and the same day with one fault raises
that alert and nothing else (so the quiet day is not quiet for lack of looking)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.lorawan.plugin import lorawan_intake
from collectors.mqtt.plugin import telemetry_intake
from collectors.snmp.client import UdpSockets
from collectors.snmp.plugin import snmp_targets
from collectors.snmp.poller import SnmpPoller
from gateway.alerts.engine import AlertEngine, Transition
from gateway.alerts.rules import load_rules
from gateway.config import EdumonConfig, load_config
from gateway.intake_health import CollectorHealth
from gateway.metrics import Metrics
from gateway.plugins import PLUGINS
from gateway.sample import Sample
from gateway.scheduler import PollScheduler
from simulators.lorawan.network_server import SimSensor, chirpstack_event, payload, topic_of
from simulators.mqtt.devices import SimDevice
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.switch import SimSwitch

pytestmark = pytest.mark.integration

COMMUNITY = "test-only-community"
# Monday 2026-11-30 00:00 in the traffic model's local time (UTC+2)
MONDAY = datetime(2026, 11, 29, 22, 0, tzinfo=UTC).timestamp()
STEP_S = 60
POLL_EVERY = 5  # steps: switches are polled every 5 minutes, sensors report every 10
SENSOR_EVERY = 10


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def city(tmp_path: Path, core_port: int, access_port: int) -> EdumonConfig:
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"""
service: {{state_dir: {tmp_path / "state"}}}
credentials: {{snmp: {{v2: {{version: 2c, community_env: EDUMON_TEST_COMMUNITY}}}}}}
snmp: {{interval_s: 300, timeout_s: 1, retries: 1}}
sites:
  - id: vsk-1
    name: "Ventspils 1. pamatskola"
    devices:
      - {{kind: switch, id: vsk-1-core, role: core, address: 127.0.0.2, port: {core_port}, credentials: v2}}
      - {{kind: switch, id: vsk-1-access, role: access, address: 127.0.0.3, port: {access_port}, credentials: v2}}
      - {{kind: access_point, id: vsk-1-ap-101, room: "101"}}
      - {{kind: access_point, id: vsk-1-ap-102, room: "102"}}
      - {{kind: access_point, id: vsk-1-ap-201, room: "201"}}
      - {{kind: lorawan_sensor, id: vsk-1-env-101, dev_eui: "70b3d57ed0050001", room: "101"}}
      - {{kind: lorawan_sensor, id: vsk-1-env-201, dev_eui: "70b3d57ed0050002", room: "201"}}
  - id: vizium
    name: "Zinātnes centrs VIZIUM"
    kind: science_centre
    devices:
      - {{kind: exhibit, id: vizium-tesla, zone: electricity}}
      - {{kind: exhibit, id: vizium-pendulum, zone: mechanics}}
      - {{kind: exhibit, id: vizium-planetarium, zone: space}}
"""
    )
    return load_config(path, PLUGINS, {"EDUMON_TEST_COMMUNITY": COMMUNITY})


@dataclass
class Day:
    """One variant of the day: its own engine, intakes and devices (their counters run on)."""

    overheat: str | None
    config: EdumonConfig
    clock: Clock
    transitions: list[Transition] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.engine = AlertEngine(
            load_rules(), clock=self.clock, on_transition=self.transitions.append
        )
        self.telemetry = telemetry_intake(self.config)
        self.lorawan = lorawan_intake(self.config)
        config = self.config
        self.devices = [
            SimDevice("vsk-1", ap.id, "ap", ap.room) for _, ap in config.devices("access_point")
        ]
        self.devices += [
            SimDevice("vizium", e.id, "exhibit", e.zone) for _, e in config.devices("exhibit")
        ]
        self.sensors = [
            SimSensor(s.dev_eui, s.id, s.profile, "chirpstack")
            for _, s in config.devices("lorawan_sensor")
        ]

    async def step(self, step: int) -> None:
        """Everything but the switches' polls, in the order the day is simulated."""
        now = self.clock.now
        for device in self.devices:
            device.overheating = device.name == self.overheat and now >= MONDAY + 12 * 3600
            body = json.dumps(device.payload(now, step)).encode()
            self.engine.observe(self.telemetry.handle(device.data_topic, body, retained=False))
        if step % SENSOR_EVERY == 0:
            for sensor in self.sensors:
                f_cnt = step // SENSOR_EVERY
                f_port, data = payload(sensor, f_cnt, now)
                event = chirpstack_event(sensor, f_cnt, data, f_port, gateways=2)
                self.engine.observe(
                    await self.lorawan.handle(topic_of(sensor), json.dumps(event).encode())
                )
        self.engine.tick()


async def simulate_days(tmp_path: Path, overheats: Sequence[str | None]) -> list[Day]:
    """24 h of the city at one sample round per simulated minute, once per entry of
    `overheats` (an exhibit that runs hot from 12:00, or None). The variants run side by side
    on one clock: each has its own engine, intakes and devices, and every engine sees the
    same polls of the simulated switches (the switches do not depend on the exhibits), so
    each engine gets exactly the samples a day of its own would give it."""
    clock = Clock(MONDAY)
    switches = [
        (SimSwitch("vsk-1-core", seed=1, boot=MONDAY - 30 * 86400), "127.0.0.2", 0),
        (SimSwitch("vsk-1-access", seed=2, boot=MONDAY - 30 * 86400), "127.0.0.3", 0),
    ]
    fleet = SnmpFleet(switches, COMMUNITY.encode(), clock=clock)
    await fleet.start()
    config = city(tmp_path, *(fleet.addresses[s.name][1] for s, _, _ in switches))
    days = [Day(overheat, config, clock) for overheat in overheats]

    async def emit(samples: Sequence[Sample], *, collector: str, durable: bool = False) -> None:
        for day in days:
            day.engine.observe(samples)

    poller = SnmpPoller(clock=clock)
    scheduler = PollScheduler(emit, Metrics(), CollectorHealth("snmp"))
    targets = snmp_targets(config, UdpSockets(), poller)
    try:
        for day in days:
            for device in day.devices:
                day.engine.observe(
                    day.telemetry.handle(device.status_topic, b"online", retained=True)
                )
        for step in range(24 * 60 // (STEP_S // 60)):
            clock.now = MONDAY + step * STEP_S
            if step % POLL_EVERY == 0:
                for job in targets:
                    await scheduler.poll_once(poller, job.target, job.schedule)
            for day in days:
                await day.step(step)
    finally:
        fleet.close()
    for day in days:
        assert set(day.telemetry.counts) == {"ok"} and day.lorawan.counts == {}  # none rejected
        assert day.lorawan.accepted == len(day.sensors) * 24 * 60 // SENSOR_EVERY
    return days


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> dict[str | None, Day]:
    """The normal day and the day with vizium-pendulum overheating from noon."""
    started = time.monotonic()
    overheats = [None, "vizium-pendulum"]
    simulated = asyncio.run(simulate_days(tmp_path_factory.mktemp("school-day"), overheats))
    print(f"2 x 24 h simulated in {time.monotonic() - started:.1f} s")
    return {day.overheat: day for day in simulated}


WATCHED = {
    "CoreSwitchUnreachable", "SwitchUnreachable", "UplinkDown", "UplinkSaturated",
    "InterfaceErrors", "OpticalRxLow", "DeviceRebooted", "AccessPointDown",
    "ChannelUtilisationHigh", "ExhibitOffline", "ExhibitErrors", "ExhibitOverheating",
    "ClassroomCO2High", "SensorSilent", "SensorBatteryLow", "CollectorStalled",
}  # fmt: skip


@pytest.mark.slow
def test_a_normal_school_day_raises_no_alert(days: dict[str | None, Day]) -> None:
    engine, transitions = days[None].engine, days[None].transitions
    print(f"{engine.evaluations} evaluations")
    assert [(t.instance.rule, t.instance.labels) for t in transitions] == []
    # every rule of the pack saw its data all day, so the silence means something
    assert set(engine.evaluated) >= WATCHED
    assert engine.evaluations > 50_000


@pytest.mark.slow
def test_the_same_day_with_an_overheating_exhibit_raises_just_that(
    days: dict[str | None, Day],
) -> None:
    transitions = days["vizium-pendulum"].transitions
    assert [(t.instance.rule, t.state) for t in transitions] == [("ExhibitOverheating", "firing")]
    (firing,) = transitions
    assert firing.instance.labels["exhibit"] == "vizium-pendulum"
    assert firing.at - (MONDAY + 12 * 3600) == pytest.approx(5 * 60, abs=STEP_S)  # `for: 5m`
