"""The MQTT telemetry collector's plugin: the inventory's access points and exhibits."""

from __future__ import annotations

from collectors.mqtt.config import AccessPoint, Exhibit, TelemetrySettings
from collectors.mqtt.telemetry import SUBSCRIPTIONS, Placement, TelemetryIntake
from gateway.collector import Collector, CollectorContext, CollectorPlugin
from gateway.config import EdumonConfig
from gateway.deadletter import DeadLetterFile
from gateway.intake_health import kind_totals
from gateway.mqtt_stream import mqtt_collector

NAME = "mqtt"


def telemetry_intake(config: EdumonConfig) -> TelemetryIntake:
    aps = {
        (site.id, device.id): Placement(site.id, device.room)
        for site, device in config.devices_of(AccessPoint)
    }
    exhibits = {
        (site.id, device.id): Placement(site.id, device.zone)
        for site, device in config.devices_of(Exhibit)
    }
    dead_letters = DeadLetterFile.in_state_dir(config.service.state_dir, NAME)
    return TelemetryIntake(aps, exhibits, dead_letters, config.service.timestamps)


def open_telemetry(context: CollectorContext) -> Collector:
    config = context.config
    intake = telemetry_intake(config)
    return mqtt_collector(
        config,
        NAME,
        client_suffix="telemetry",
        topics=SUBSCRIPTIONS,
        handler=intake.handle,
        dead_letters=intake.dead_letters,
        intake_totals=lambda: kind_totals(intake.counts),
        silence_s=config.settings_of("telemetry", TelemetrySettings).silence_s,
        bounds=context.metrics.bounds,
        measurements=("wifi_ap", "exhibit"),
    )


PLUGIN = CollectorPlugin(
    name=NAME,
    open=open_telemetry,
    devices=(AccessPoint, Exhibit),
    settings_key="telemetry",
    settings=TelemetrySettings,
    device_tags=(("wifi_ap", "ap"), ("exhibit", "exhibit")),
)
