"""The fleet as one city network: every switch answers the discovery tables of the wiring
derived from the config (wiring.py, discovery_tables.py), and the city's faults act on it:

- `fail(switch)`: the switch stops answering and its neighbours' LLDP entries for it age
  out (an aggregation switch failing); `recover(switch)` undoes both;
- `poe_fault(switch, port)`: the PSE port goes to fault, its device loses power and link;
  `poe_restore` powers it again;
- `poe_overrun(switch, watts)`: the switch draws that much beyond its devices (a budget
  overrun; 0 ends it)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from collectors.snmp.config import Switch
from gateway.config import EdumonConfig
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.discovery_tables import PoeState, discovery_cells
from simulators.snmp.switch import SimSwitch
from simulators.snmp.wiring import Wiring


def unique_addresses(config: EdumonConfig) -> dict[str, str]:
    """Switch -> its IPv4 address, where no other switch has it (all on 127.0.0.1 in the
    demo: an address shared by all names none of them)."""
    switches = [device for _, device in config.devices_of(Switch)]
    counts = Counter(device.address for device in switches)
    return {
        device.id: device.address
        for device in switches
        if counts[device.address] == 1 and device.address.count(".") == 3
    }


class CityNetwork:
    def __init__(self, fleet: SnmpFleet, wiring: Wiring, addresses: dict[str, str]) -> None:
        self.fleet = fleet
        self.wiring = wiring
        self.addresses = addresses
        self.failed: set[str] = set()
        self.poe: dict[str, PoeState] = {}
        self.switches = {
            switch.name: switch
            for switch, _, _ in fleet.switches
            if type(switch) is SimSwitch  # a Wi-Fi controller has no tables of the wiring
        }
        for name, switch in self.switches.items():
            self.poe[name] = PoeState()
            switch.unplugged -= set(wiring.powered.get(name, {}))  # a device is plugged in
        self._refresh(self.switches)
        fleet.city = self

    def _refresh(self, names: Iterable[str]) -> None:
        for name in names:
            if name in self.switches:
                switch = self.switches[name]
                cells = discovery_cells(
                    switch, self.wiring, self.addresses, self.failed, self.poe[name]
                )
                switch.set_extra(cells)

    def _neighbours_of(self, name: str) -> set[str]:
        return {far.switch for _, far in self.wiring.neighbours(name)}

    def fail(self, name: str) -> None:
        self.failed.add(name)
        self.fleet[name].faults.silent = True
        self._refresh(self._neighbours_of(name))

    def recover(self, name: str) -> None:
        self.failed.discard(name)
        self.fleet[name].faults.silent = False
        self._refresh(self._neighbours_of(name))

    def cut_off(self) -> set[str]:
        """The switches no path of live switches joins to a live root: those a real failure
        takes off the network with it (`fail` leaves them answering; the caller silences
        them when it wants them cut off)."""
        reached = {root for root in self.wiring.roots if root not in self.failed}
        todo = list(reached)
        while todo:
            for far in self._neighbours_of(todo.pop()) - reached - self.failed:
                reached.add(far)
                todo.append(far)
        wired = {end.switch for link in self.wiring.links for end in link}
        return wired - reached - self.failed if self.wiring.roots else set()

    def poe_fault(self, name: str, port: int) -> None:
        self.poe[name].faulted.add(port)
        self.fleet.flap(name, port, up=False)

    def poe_restore(self, name: str, port: int) -> None:
        self.poe[name].faulted.discard(port)
        self.fleet.flap(name, port, up=True)

    def poe_overrun(self, name: str, watts: float) -> None:
        """Also on a switch that powers no inventory device: it gets its PoE tables."""
        self.poe[name].extra_w = watts
        if name not in self.wiring.powered:
            self.wiring.powered[name] = {}
            self._refresh([name])

    def feeding(self, device: str) -> tuple[str, int] | None:
        """(switch, port) of the PoE port powering an inventory device (one with a `mac:`)."""
        for switch, ports in self.wiring.powered.items():
            for port, powered in ports.items():
                if powered.device == device:
                    return switch, port
        return None
