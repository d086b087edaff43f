"""The faults `edumon demo fault` injects into the running demo's simulators.

Each fault starts on one target of the example city and stops when cleared. A new fault (a PoE
budget exceeded, an aggregation link lost, ...) is one `DemoFault` added with `register`: its
name, what it does, the kind and default of its target, and how it starts and stops on the
demo's simulators (`DemoWorld`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from simulators.lorawan.network_server import NetworkServerSimulator
from simulators.mqtt.devices import DeviceFleet
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.city import CityNetwork


@dataclass
class DemoWorld:
    """The demo's running simulators."""

    switches: SnmpFleet
    devices: DeviceFleet
    sensors: NetworkServerSimulator
    clock: Callable[[], float]
    cut_off: dict[str, set[str]] = field(default_factory=dict)  # failed switch -> silenced

    def targets(self, kind: str) -> list[str]:
        if kind == "switch":
            return list(self.switches.agents)
        if kind == "lorawan_sensor":
            return [sensor.name for sensor in self.sensors.sensors]
        if kind == "powered_device":  # a device with a mac: on a PoE port of the city
            city = self.switches.city
            return (
                []
                if city is None
                else [p.device for s in city.wiring.powered.values() for p in s.values()]
            )
        return [device.name for device in self.devices.devices if device.kind == kind]


@dataclass(frozen=True)
class DemoFault:
    name: str
    what: str  # one line: what it does and what edumon shows
    kind: str  # the target's kind: switch, exhibit, ap, lorawan_sensor
    default_target: str  # a device of the example city
    start: Callable[[DemoWorld, str], None]
    stop: Callable[[DemoWorld, str], None]


FAULTS: dict[str, DemoFault] = {}


def register(fault: DemoFault) -> None:
    FAULTS[fault.name] = fault


def first_uplink(world: DemoWorld, switch: str) -> int:
    """The ifIndex of a simulated switch's first uplink (the ports after its access ports)."""
    return world.switches[switch].access_ports + 1


def _port(up: bool) -> Callable[[DemoWorld, str], None]:
    def flap(world: DemoWorld, switch: str) -> None:
        world.switches.flap(switch, first_uplink(world, switch), up=up)

    return flap


def _silent(silent: bool) -> Callable[[DemoWorld, str], None]:
    def set_silent(world: DemoWorld, switch: str) -> None:
        world.switches[switch].faults.silent = silent

    return set_silent


def _crash(world: DemoWorld, device: str) -> None:
    world.devices[device].crash()


def _recover(world: DemoWorld, device: str) -> None:
    world.devices.recover(device)


def _co2_rising(world: DemoWorld, sensor: str) -> None:
    world.sensors.co2_rising_since.setdefault(sensor, world.clock())


def _co2_normal(world: DemoWorld, sensor: str) -> None:
    world.sensors.co2_rising_since.pop(sensor, None)


def _city(world: DemoWorld) -> CityNetwork:
    city = world.switches.city
    assert city is not None, "the demo's fleet is built from its config (city_fleet)"
    return city


def _poe(fault: bool) -> Callable[[DemoWorld, str], None]:
    def act(world: DemoWorld, device: str) -> None:
        city = _city(world)
        fed = city.feeding(device)
        assert fed is not None  # targets("powered_device") lists only fed devices
        (city.poe_fault if fault else city.poe_restore)(*fed)

    return act


def _overrun(watts: float) -> Callable[[DemoWorld, str], None]:
    def act(world: DemoWorld, switch: str) -> None:
        _city(world).poe_overrun(switch, watts)

    return act


def _fail(fail: bool) -> Callable[[DemoWorld, str], None]:
    """The switch fails, and the switches only it joined to the city core (the schools
    behind an aggregation switch) stop answering with it; all answer again when it recovers."""

    def act(world: DemoWorld, switch: str) -> None:
        city = _city(world)
        if fail:
            city.fail(switch)
            world.cut_off[switch] = city.cut_off()
        else:
            city.recover(switch)
        for name in world.cut_off.get(switch, set()):
            world.switches[name].faults.silent = fail
        if not fail:
            world.cut_off.pop(switch, None)

    return act


for _fault in (
    DemoFault(
        "port-down",
        "the switch's first uplink goes down with a linkDown trap: UplinkDown pages at once",
        "switch",
        "vsk-1-core",
        _port(up=False),
        _port(up=True),
    ),
    DemoFault(
        "switch-silent",
        "the switch stops answering SNMP: (Core)SwitchUnreachable after its next polls",
        "switch",
        "vsk-2-access-1",
        _silent(True),
        _silent(False),
    ),
    DemoFault(
        "exhibit-crash",
        "the exhibit drops its connection: the broker sends its Last Will, ExhibitOffline pages",
        "exhibit",
        "vizium-lightning",
        _crash,
        _recover,
    ),
    DemoFault(
        "co2-rising",
        "the sensor's room fills up: CO2 climbs 300 ppm a minute, ClassroomCO2High after 10 min",
        "lorawan_sensor",
        "vsk-1-co2-301",
        _co2_rising,
        _co2_normal,
    ),
    DemoFault(
        "poe-fault",
        "the PoE port feeding the device goes to fault (and its link down): PoePortFault, "
        "the device's own alert held behind it",
        "powered_device",
        "vizium-lightning",
        _poe(fault=True),
        _poe(fault=False),
    ),
    DemoFault(
        "poe-overrun",
        "the switch draws 345 W of its 370 W PoE budget (93 %): PoeBudgetHigh after 10 min",
        "switch",
        "vizium-core",
        _overrun(345.0),
        _overrun(0.0),
    ),
    DemoFault(
        "switch-fail",
        "the switch dies: silent, its neighbours' LLDP entries for it age out and the schools "
        "only it joined to the city core go silent too; one page for it, those behind it held",
        "switch",
        "vsk-1-core",
        _fail(fail=True),
        _fail(fail=False),
    ),
):
    register(_fault)
