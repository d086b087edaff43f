"""Simulated LoRaWAN sensors for every sensor of an inventory, half of them behind ChirpStack
and half behind The Things Stack."""

from __future__ import annotations

from collectors.lorawan.config import LorawanSensor
from gateway.config import EdumonConfig
from simulators.lorawan.network_server import NetworkServerSimulator, SimSensor


def network_from_config(config: EdumonConfig) -> NetworkServerSimulator:
    sensors = [
        SimSensor(device.dev_eui, device.id, device.profile, "chirpstack" if n % 2 == 0 else "ttn")
        for n, (_site, device) in enumerate(config.devices_of(LorawanSensor))
    ]
    return NetworkServerSimulator(config.mqtt.host, config.mqtt.port, sensors)
