"""LoRaWAN uplinks of the inventory's sensors, from the network servers' MQTT integrations
(ChirpStack v4, The Things Stack v3) on edumon's broker, run by the service."""

from __future__ import annotations

from collectors.lorawan.intake import LorawanIntake
from collectors.lorawan.samples import SensorInfo
from gateway.collector import CollectorEmit
from gateway.config import EdumonConfig
from gateway.deadletter import DeadLetterFile
from gateway.inventory import LorawanSensor
from gateway.mqtt_consumer import MqttConsumer, settings_from_config, shared

TOPICS = ("application/+/device/+/event/up", "v3/+/devices/+/up")


def lorawan_intake(config: EdumonConfig) -> LorawanIntake:
    sensors = {
        device.dev_eui: SensorInfo(site.id, device.id, device.room or "", device.profile)
        for site, device in config.devices("lorawan_sensor")
        if isinstance(device, LorawanSensor)
    }
    dead_letters = DeadLetterFile.in_state_dir(config.service.state_dir, "lorawan")
    return LorawanIntake(sensors, dead_letters)


async def run_lorawan(config: EdumonConfig, emit: CollectorEmit) -> None:
    intake = lorawan_intake(config)
    consumer = MqttConsumer(
        "lorawan",
        settings_from_config(config, "lorawan"),
        shared(config, TOPICS),
        lambda topic, payload, retained: intake.handle(topic, payload),
    )
    await consumer.run(emit)
