"""Simulated MQTT devices for every access point and exhibit of an inventory."""

from __future__ import annotations

from gateway.config import EdumonConfig
from gateway.inventory import AccessPoint, Exhibit
from simulators.mqtt.devices import DeviceFleet, SimDevice


def fleet_from_config(config: EdumonConfig, period_s: float) -> DeviceFleet:
    devices = [
        SimDevice(site.id, device.id, "ap", device.room)
        for site, device in config.devices("access_point")
        if isinstance(device, AccessPoint)
    ]
    devices += [
        SimDevice(site.id, device.id, "exhibit", device.zone)
        for site, device in config.devices("exhibit")
        if isinstance(device, Exhibit)
    ]
    return DeviceFleet(config.mqtt.host, config.mqtt.port, devices, period_s)
