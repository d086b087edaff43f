"""The LoRaWAN collector's config: `lorawan_sensor` devices and its `lorawan:` section."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from collectors.lorawan.vendor_config import (
    DEFAULT_BUDGET_S,
    DEFAULT_MEMORY,
    DEFAULT_QUARANTINE_S,
    DEFAULT_TIME_LIMIT_S,
    Budget,
    CodecDir,
    Models,
    TimeLimit,
)
from gateway.inventory import ByteSize, DeviceBase, Interval, Section, Slug, dev_eui


class LorawanSettings(Section):
    # sensors send every few minutes; no uplink at all for this long is an intake outage
    silence_s: Interval = 900.0
    # vendor codecs (collectors/lorawan/vendor_config.py): where they are, the device models
    # decoded by them, each decode's limits, and the CPU seconds per second a model's decodes
    # may take before it is quarantined (its uplinks dead-lettered) for codec_quarantine_s
    codec_dir: CodecDir = None
    models: Models = Field(default_factory=dict)
    codec_time_limit_s: TimeLimit = DEFAULT_TIME_LIMIT_S
    codec_memory: ByteSize = DEFAULT_MEMORY
    codec_budget_s: Budget = DEFAULT_BUDGET_S
    codec_quarantine_s: Interval = DEFAULT_QUARANTINE_S


class LorawanSensor(DeviceBase):
    kind: Literal["lorawan_sensor"]
    id: Slug
    dev_eui: Annotated[str, AfterValidator(dev_eui)]
    room: str | None = None
    profile: Slug = "env-sensor"  # built in (codecs.py) or one of lorawan.models
