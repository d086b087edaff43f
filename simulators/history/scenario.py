"""A history scenario: the period to generate, sample steps, and timed events (UTC).

    start: 2026-10-31T22:00:00Z        # first tick; samples are written for start..end inclusive
    end: 2026-11-30T22:00:00Z
    step_s: 900                        # heartbeat, probes, Wi-Fi and exhibit telemetry
    snmp_step_s: 3600                  # core-switch polls (the real poller on the simulated fleet)
    sensor_interval_s: 600             # LoRaWAN classroom sensors
    uplink_mbps: {school-b-core: 1000} # switches whose uplinks are not 10G
    events:
      - {kind: uplink_down, site: school-a, from: 2026-11-10T08:00:00Z, to: 2026-11-10T10:00:00Z}
      - {kind: edumon_down, from: ..., to: ...}      # nothing written strictly between the two
      - {kind: device_offline, site: vizium, device: vizium-lightning, from: ..., to: ...}
      - {kind: sensor_silent, site: school-a, device: a-env-101, from: ..., to: ...}

An uplink_down takes every uplink of the site's core switches down (SNMP ifOperStatus) and
makes the site's probes fail; it and device_offline also produce the alert engine's `alert`
points (firing at `from`, resolved at `to`). Event times must lie on the tick grid.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class HistoryEvent(_Strict):
    kind: Literal["uplink_down", "edumon_down", "device_offline", "sensor_silent"]
    site: str | None = None
    device: str | None = None
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")

    @model_validator(mode="after")
    def _shape(self) -> HistoryEvent:
        if self.end <= self.start:
            raise ValueError("'to' must be after 'from'")
        needs = {"uplink_down": ("site",), "device_offline": ("site", "device")}
        needs["sensor_silent"] = ("site", "device")
        missing = [name for name in needs.get(self.kind, ()) if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{self.kind} needs {', '.join(missing)}")
        return self

    def covers(self, t: int) -> bool:
        """True at instants in [from, to)."""
        return _s(self.start) <= t < _s(self.end)

    @property
    def seconds(self) -> tuple[int, int]:
        return _s(self.start), _s(self.end)


class HistoryScenario(_Strict):
    start: AwareDatetime
    end: AwareDatetime
    step_s: int = Field(default=900, ge=60)
    snmp_step_s: int = Field(default=3600, ge=60)
    sensor_interval_s: int = Field(default=600, ge=60)
    uplink_mbps: dict[str, int] = Field(default_factory=dict)
    events: list[HistoryEvent] = Field(default_factory=list)

    @model_validator(mode="after")
    def _on_grid(self) -> HistoryScenario:
        for event in self.events:
            for moment in event.seconds:
                if (moment - self.first) % self.tick_s:
                    raise ValueError(f"{event.kind} at {moment} is not on the {self.tick_s} s grid")
        return self

    @classmethod
    def load(cls, path: Path) -> HistoryScenario:
        return cls.model_validate(yaml.safe_load(path.read_text()) or {})

    @property
    def first(self) -> int:
        return _s(self.start)

    @property
    def last(self) -> int:
        return _s(self.end)

    @property
    def ticks(self) -> int:
        """How many ticks the generator steps through (both ends included)."""
        return (self.last - self.first) // self.tick_s + 1

    @property
    def tick_s(self) -> int:
        """The finest grid every source's step lies on."""
        return math.gcd(self.step_s, self.snmp_step_s, self.sensor_interval_s)

    def edumon_running(self, t: int) -> bool:
        """False strictly inside an edumon_down window: its bounds are edumon's last and first
        writes around the outage."""
        return not any(
            e.kind == "edumon_down" and e.seconds[0] < t < e.seconds[1] for e in self.events
        )

    def active(self, kind: str, t: int) -> list[HistoryEvent]:
        return [e for e in self.events if e.kind == kind and e.covers(t)]


def _s(moment: datetime) -> int:
    return int(moment.timestamp())
