"""Fault scenarios for the SNMP fleet: standing faults and timed events, from YAML.

    faults:                                   # from the start
      - {switch: sw-0002, delay_s: 10}
      - {switch: sw-0003, silent: true}
      - {switch: sw-0004, truncate_bulk: 7}
      - {switch: sw-0005, malformed: true}
      - {switch: sw-0006, no_such: ["1.3.6.1.2.1.99"]}
      - {switch: sw-0007, rename_every_s: 10}      # new ifNames every 10 s
      - {switch: sw-0008, walk_backwards: true}    # GETBULK answers that step back
    events:                                   # at_s after start; every_s repeats
      - {at_s: 30, switch: sw-0001, action: reboot}
      - {at_s: 10, every_s: 30, switch: sw-0001, action: flap, port: 49}
      # the city network's faults (a fleet built from a config: simulators/snmp/city.py)
      - {at_s: 60, switch: city-agg-1, action: fail}          # an aggregation switch dies
      - {at_s: 360, switch: city-agg-1, action: recover}
      - {at_s: 30, switch: vzm-access-1, action: poe_fault, port: 2}    # poe_restore ends it
      - {at_s: 30, switch: vsk-1-access-1, action: poe_overrun, watts: 330}  # 0 ends it

A flap takes the link down and brings it up again `down_s` later (default 5 s), with traps.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulators.snmp.agent import SnmpFleet


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StandingFault(_Strict):
    switch: str
    delay_s: float = Field(default=0.0, ge=0)
    silent: bool = False
    truncate_bulk: int = Field(default=0, ge=0)
    malformed: bool = False
    no_such: list[str] = Field(default_factory=list)
    rename_every_s: float = Field(default=0.0, ge=0)
    walk_backwards: bool = False


PORT_ACTIONS = ("flap", "link_down", "link_up", "poe_fault", "poe_restore")


class Event(_Strict):
    at_s: float = Field(ge=0)
    every_s: float | None = Field(default=None, gt=0)
    switch: str
    action: Literal[
        "reboot",
        "flap",
        "link_down",
        "link_up",
        "fail",
        "recover",
        "poe_fault",
        "poe_restore",
        "poe_overrun",
    ]
    port: int | None = None
    down_s: float = Field(default=5.0, gt=0)
    watts: float = Field(default=0.0, ge=0)  # poe_overrun: drawn beyond the devices' power

    @model_validator(mode="after")
    def _port_given(self) -> Event:
        if self.port is None and self.action in PORT_ACTIONS:
            raise ValueError(f"{self.action} needs a port")
        return self


class Scenario(_Strict):
    faults: list[StandingFault] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Scenario:
        return cls.model_validate(yaml.safe_load(path.read_text()) or {})


def apply_faults(fleet: SnmpFleet, scenario: Scenario) -> None:
    for fault in scenario.faults:
        faults = fleet[fault.switch].faults
        faults.delay_s, faults.silent = fault.delay_s, fault.silent
        faults.truncate_bulk, faults.malformed = fault.truncate_bulk, fault.malformed
        faults.no_such = {tuple(int(a) for a in oid.split(".")) for oid in fault.no_such}
        faults.rename_every_s, faults.walk_backwards = fault.rename_every_s, fault.walk_backwards


async def run_events(fleet: SnmpFleet, scenario: Scenario) -> None:
    """Play every event on its schedule, until cancelled."""
    async with asyncio.TaskGroup() as group:
        for event in scenario.events:
            group.create_task(_play(fleet, event))


CITY_ACTIONS = ("fail", "recover", "poe_fault", "poe_restore", "poe_overrun")


def _city_event(fleet: SnmpFleet, event: Event) -> None:
    city = fleet.city
    if city is None:
        raise ValueError(f"{event.action}: the fleet was not built from a config's city")
    if event.action in ("fail", "recover"):
        (city.fail if event.action == "fail" else city.recover)(event.switch)
    elif event.action == "poe_overrun":
        city.poe_overrun(event.switch, event.watts)
    else:
        assert event.port is not None, "PoE port events need a port"
        act = city.poe_fault if event.action == "poe_fault" else city.poe_restore
        act(event.switch, event.port)


async def _play(fleet: SnmpFleet, event: Event) -> None:
    await asyncio.sleep(event.at_s)
    while True:
        if event.action == "reboot":
            fleet.reboot(event.switch)
        elif event.action in CITY_ACTIONS:
            _city_event(fleet, event)
        else:
            assert event.port is not None, "link events need a port"
            fleet.flap(event.switch, event.port, up=event.action == "link_up")
            if event.action == "flap":
                await asyncio.sleep(event.down_s)
                fleet.flap(event.switch, event.port, up=True)
        if event.every_s is None:
            return
        await asyncio.sleep(event.every_s - (event.down_s if event.action == "flap" else 0))
