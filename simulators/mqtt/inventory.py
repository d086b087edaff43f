"""Simulated MQTT devices for every access point and exhibit of an inventory."""

from __future__ import annotations

from collectors.mqtt.config import AccessPoint, Exhibit
from gateway.config import EdumonConfig
from simulators.mqtt.devices import DeviceFleet, SimDevice


def fleet_from_config(config: EdumonConfig, period_s: float) -> DeviceFleet:
    devices = [
        SimDevice(site.id, device.id, "ap", device.room)
        for site, device in config.devices_of(AccessPoint)
    ]
    devices += [
        SimDevice(site.id, device.id, "exhibit", device.zone)
        for site, device in config.devices_of(Exhibit)
    ]
    return DeviceFleet(config.mqtt.host, config.mqtt.port, devices, period_s)
