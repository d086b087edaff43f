"""A simulated Cisco AireOS Wi-Fi controller: a SimSwitch (system group, its own ports) that
also answers AIRESPACE-WIRELESS-MIB for its access points, so edumon's `cisco-aireos` Wi-Fi
profile reads them (collectors/snmp/wifi_profiles/cisco-aireos.yaml).

Each AP n (MAC 02:00:5e:30:hi:lo) has radio slot 0 on 2.4 GHz and slot 1 on 5 GHz; clients and
channel utilisation follow the school day (simulators/mqtt/devices.day_factor).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from collectors.snmp import ber
from simulators.mqtt.devices import day_factor
from simulators.snmp.switch import Shape, SimSwitch, View, _hash, view_of

BSN_AP = (1, 3, 6, 1, 4, 1, 14179, 2, 2, 1, 1)  # 3 bsnAPName, 6 bsnAPOperationStatus
BSN_AP_IF = (1, 3, 6, 1, 4, 1, 14179, 2, 2, 2, 1)  # 1 slot, 2 bsnAPIfType, 15 users
BSN_AP_LOAD = (1, 3, 6, 1, 4, 1, 14179, 2, 2, 13, 1)  # 3 bsnAPIfLoadChannelUtilization
RADIO_TYPES = (1, 2)  # slot 0 dot11b (2.4 GHz), slot 1 dot11a (5 GHz)
CLIENTS_AT_PEAK = (8, 24)


def mac(ap: int) -> tuple[int, ...]:
    return (2, 0, 94, 48, ap // 256, ap % 256)


@cache
def view_with_aps(shape: Shape, aps: int) -> View:
    """A switch's view and the AP tables of `aps` access points, sorted."""
    switch_view = view_of(shape)
    cells = list(zip(switch_view.oids, switch_view.cells, strict=True))
    for ap in range(aps):
        cells += [((*BSN_AP, column, *mac(ap)), ("ap", column, ap)) for column in (3, 6)]
        for slot in range(len(RADIO_TYPES)):
            row = 10 * ap + slot
            cells += [((*BSN_AP_IF, c, *mac(ap), slot), ("radio", c, row)) for c in (1, 2, 15)]
            cells += [((*BSN_AP_LOAD, 3, *mac(ap), slot), ("load", 3, row))]
    cells.sort()
    return View([o for o, _ in cells], [ber.encode_oid(o) for o, _ in cells], [c for _, c in cells])


class SimWifiController(SimSwitch):
    def __init__(self, name: str, aps: Sequence[str], *, seed: int, boot: float) -> None:
        super().__init__(name, seed=seed, boot=boot)
        self.aps = list(aps)
        self.view = view_with_aps(self.shape, len(self.aps))

    def value(self, cell: tuple[str, int, int], now: float) -> tuple[int, bytes]:
        table, column, row = cell
        if table == "sys" and column == 1:
            return ber.OCTET_STRING, b"Cisco Controller"
        if table == "ap":
            if column == 3:
                return ber.OCTET_STRING, self.aps[row].encode()
            return ber.INTEGER, ber.encode_integer(1)  # associated
        if table not in ("radio", "load"):
            return super().value(cell, now)
        ap, slot = divmod(row, 10)
        if table == "radio" and column == 1:
            return ber.GAUGE32, ber.encode_unsigned(slot)
        if table == "radio" and column == 2:
            return ber.INTEGER, ber.encode_integer(RADIO_TYPES[slot])
        share = 0.5 + (_hash(self.seed, self.aps[ap], slot) % 50) / 100
        if table == "radio":  # bsnApIfNoOfUsers
            return ber.COUNTER32, ber.encode_unsigned(
                round(CLIENTS_AT_PEAK[slot] * share * day_factor(now))
            )
        return ber.INTEGER, ber.encode_integer(round(10 + 40 * share * day_factor(now)))
