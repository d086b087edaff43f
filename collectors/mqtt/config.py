"""The MQTT telemetry collector's config: `access_point` and `exhibit` devices, `telemetry:`."""

from __future__ import annotations

from typing import Literal

from gateway.inventory import Address, DeviceBase, Interval, Section, Slug


class TelemetrySettings(Section):
    # no message at all for this long, while devices are expected, is an intake outage
    silence_s: Interval = 60.0


class AccessPoint(DeviceBase):
    kind: Literal["access_point"]
    id: Slug
    room: str
    address: Address | None = None


class Exhibit(DeviceBase):
    kind: Literal["exhibit"]
    id: Slug
    name: str | None = None
    zone: str
