"""Wi-Fi controller profiles against snmpsim serving edumon's own fixtures (made-up APs): every
AP of the fixture that the `wifi:` placement knows becomes `wifi_ap` samples with its site,
room, band and clients; an AP the controller lists as down is up=false; APs placed nowhere
are left out and remembered."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from collectors.snmp.client import UdpSockets, V2cTransport
from collectors.snmp.poller import SnmpPoller, SnmpTarget
from collectors.snmp.wifi import WifiController
from collectors.snmp.wifi_config import WifiPlacement
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.wifi_controller import SimWifiController

if TYPE_CHECKING:
    from tests.snmpsim_lab import Agents

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.snmpsim_lab"]  # its fixtures: snmpsim, agents
SITES = frozenset({"vsk-1", "vsk-2", "vsk-3", "vsk-4"})
BY_NAME = {"name_pattern": r"^(?P<site>vsk-\d+)-ap-(?P<room>\d+)$"}
Row = tuple[str, str, str, str]  # site, ap, room, band

# fixture -> (placement, {(site, ap, room, band): (clients, channel_util_pct)}, down, unplaced)
CASES: dict[str, tuple[dict[str, object], dict[Row, tuple[int, float]], set[str], set[str]]] = {
    "fake-cisco-wlc": (
        {**BY_NAME, "aps": {"AP-HALL-EAST": {"room": "hall"}}},
        {
            ("vsk-1", "vsk-1-ap-101", "101", "2g"): (7, 35.0),
            ("vsk-1", "vsk-1-ap-101", "101", "5g"): (18, 22.0),
            ("vsk-2", "vsk-2-ap-204", "204", "2g"): (3, 40.0),
            ("vsk-2", "vsk-2-ap-204", "204", "5g"): (11, 15.0),
            ("vsk-2", "vsk-2-ap-204", "204", "6g"): (2, 5.0),
            ("vsk-1", "AP-HALL-EAST", "hall", "2g"): (1, 60.0),
            ("vsk-1", "AP-HALL-EAST", "hall", "5g"): (0, 10.0),
        },
        {"vsk-1-ap-102"},
        {"lab-spare-ap"},
    ),
    "fake-aruba-controller": (
        BY_NAME,
        {
            ("vsk-3", "vsk-3-ap-301", "301", "5g"): (14, 30.0),
            ("vsk-3", "vsk-3-ap-301", "301", "2g"): (4, 55.0),
        },
        {"vsk-3-ap-302"},
        {"vsk-9-ap-901"},  # a site the inventory does not have
    ),
    "fake-unifi-ap": (
        BY_NAME,
        {
            ("vsk-4", "vsk-4-ap-401", "401", "2g"): (3, 45.0),
            ("vsk-4", "vsk-4-ap-401", "401", "5g"): (13, 20.0),  # two SSIDs on 5 GHz
        },
        set(),
        set(),
    ),
}


@pytest.mark.parametrize("community", sorted(CASES))
async def test_every_placed_ap_becomes_wifi_ap_samples(agents: Agents, community: str) -> None:
    placement, radios, down, unplaced = CASES[community]
    wifi = WifiController(WifiPlacement.model_validate(placement), SITES)
    poller = SnmpPoller()
    target = SnmpTarget("vsk-1", community, "access", agents.transport(community), wifi=wifi)
    samples = [s for s in await poller.poll(target) if s.measurement == "wifi_ap"]
    got = {
        (s.tags["site"], s.tags["ap"], s.tags["room"], s.tags["band"]): s.fields
        for s in samples
        if s.tags["band"] != "all"
    }
    assert {row: (f["clients"], f["channel_util_pct"]) for row, f in got.items()} == radios
    assert all(f["up"] is True for f in got.values())
    assert {s.tags["ap"] for s in samples if s.tags["band"] == "all"} == down
    assert all(s.fields == {"up": False} for s in samples if s.tags["band"] == "all")
    assert poller.wifi.unplaced.get(community, set()) == unplaced
    assert len(samples) == len(radios) + len(down)  # nothing else, nothing twice


async def test_the_simulated_controller_reports_its_aps() -> None:
    """The demo's simulated AireOS controller (simulators/snmp/wifi_controller.py) is read by
    the same profile: every AP it serves, on 2.4 and 5 GHz, in its room."""
    aps = ["vsk-5-ap-301", "vsk-5-ap-hall"]
    controller = SimWifiController("vsk-5-wlc", aps, seed=3, boot=time.time() - 86400)
    fleet = SnmpFleet([(controller, "127.0.0.1", 0)], b"lab")
    await fleet.start()
    sockets = UdpSockets()
    try:
        host, port = fleet.addresses["vsk-5-wlc"]
        transport = V2cTransport(sockets, "vsk-5-wlc", host, port, b"lab", timeout_s=3)
        rooms = {"vsk-5-ap-301": {"room": "301"}, "vsk-5-ap-hall": {"room": "hall"}}
        wifi = WifiController(WifiPlacement.model_validate({"aps": rooms}), frozenset({"vsk-5"}))
        target = SnmpTarget("vsk-5", "vsk-5-wlc", "access", transport, wifi=wifi)
        samples = [s for s in await SnmpPoller().poll(target) if s.measurement == "wifi_ap"]
    finally:
        fleet.close()
        sockets.close()
    got = {(s.tags["ap"], s.tags["room"], s.tags["band"]) for s in samples}
    assert got == {(ap, rooms[ap]["room"], band) for ap in aps for band in ("2g", "5g")}
    assert all(s.tags["site"] == "vsk-5" and s.fields["clients"] >= 0 for s in samples)
