"""MQTT telemetry of the inventory's access points and exhibits, run by the service."""

from __future__ import annotations

from collectors.mqtt.telemetry import SUBSCRIPTIONS, Placement, TelemetryIntake
from gateway.collector import CollectorEmit
from gateway.config import EdumonConfig
from gateway.deadletter import DeadLetterFile
from gateway.inventory import AccessPoint, Exhibit
from gateway.mqtt_consumer import MqttConsumer, settings_from_config, shared


def telemetry_intake(config: EdumonConfig) -> TelemetryIntake:
    aps = {
        (site.id, device.id): Placement(site.id, device.room)
        for site, device in config.devices("access_point")
        if isinstance(device, AccessPoint)
    }
    exhibits = {
        (site.id, device.id): Placement(site.id, device.zone)
        for site, device in config.devices("exhibit")
        if isinstance(device, Exhibit)
    }
    dead_letters = DeadLetterFile.in_state_dir(config.service.state_dir, "mqtt")
    return TelemetryIntake(aps, exhibits, dead_letters)


async def run_telemetry(config: EdumonConfig, emit: CollectorEmit) -> None:
    intake = telemetry_intake(config)
    consumer = MqttConsumer(
        "mqtt",
        settings_from_config(config, "telemetry"),
        shared(config, SUBSCRIPTIONS),
        intake.handle,
    )
    await consumer.run(emit)
