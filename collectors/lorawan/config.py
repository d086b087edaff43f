"""The LoRaWAN collector's config: `lorawan_sensor` devices and its `lorawan:` section."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator

from gateway.inventory import DeviceBase, Interval, Section, Slug, dev_eui


class LorawanSettings(Section):
    # sensors send every few minutes; no uplink at all for this long is an intake outage
    silence_s: Interval = 900.0


class LorawanSensor(DeviceBase):
    kind: Literal["lorawan_sensor"]
    id: Slug
    dev_eui: Annotated[str, AfterValidator(dev_eui)]
    room: str | None = None
    profile: Literal["env-sensor", "exhibit-node"] = "env-sensor"
