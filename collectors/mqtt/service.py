"""MQTT telemetry of the inventory's access points and exhibits, run by the service."""

from __future__ import annotations

from pathlib import Path

from collectors.mqtt.consumer import MqttConsumer, MqttSettings
from collectors.mqtt.telemetry import SUBSCRIPTIONS, Placement, TelemetryIntake
from gateway.collector import CollectorEmit
from gateway.config import EdumonConfig
from gateway.deadletter import DeadLetterFile
from gateway.inventory import AccessPoint, Exhibit


def mqtt_settings(config: EdumonConfig, client_suffix: str) -> MqttSettings:
    mqtt = config.mqtt
    return MqttSettings(
        mqtt.host,
        mqtt.port,
        client_id=f"{mqtt.client_id}-{client_suffix}",
        username=mqtt.username.get_secret_value() if mqtt.username else None,
        password=mqtt.password.get_secret_value() if mqtt.password else None,
        tls=mqtt.tls,
    )


def subscriptions(config: EdumonConfig, topics: tuple[str, ...]) -> list[str]:
    group = config.mqtt.shared_group
    return [f"$share/{group}/{topic}" for topic in topics] if group else list(topics)


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
    dead_letters = DeadLetterFile(Path(config.service.state_dir) / "deadletter" / "mqtt.jsonl")
    return TelemetryIntake(aps, exhibits, dead_letters)


async def run_telemetry(config: EdumonConfig, emit: CollectorEmit) -> None:
    intake = telemetry_intake(config)
    consumer = MqttConsumer(
        "mqtt",
        mqtt_settings(config, "telemetry"),
        subscriptions(config, SUBSCRIPTIONS),
        intake.handle,
    )
    await consumer.run(emit)
