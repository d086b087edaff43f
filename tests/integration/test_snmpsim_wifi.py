"""Wi-Fi controller profiles against snmpsim serving edumon's own fixtures (made-up APs): every
AP of the fixture that the `wifi:` placement knows becomes `wifi_ap` samples with its site,
room, band and clients (Cisco, Aruba, UniFi also with net-snmp's sysObjectID, Ruckus SmartZone,
MikroTik CAPsMAN); an AP the controller lists as down is up=false; APs placed nowhere are left
out, logged once with why and counted hourly; a user's Wi-Fi profile and `wifi.profile`."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from collectors.snmp.client import UdpSockets, V2cTransport
from collectors.snmp.poller import SnmpPoller, SnmpTarget
from collectors.snmp.wifi import WifiController
from collectors.snmp.wifi_config import WifiPlacement
from collectors.snmp.wifi_model import load_wifi_profiles
from gateway.sample import Sample
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.wifi_controller import SimWifiController

if TYPE_CHECKING:
    from tests.snmpsim_lab import Agents

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.snmpsim_lab"]  # its fixtures: snmpsim, agents
SITES = frozenset({"vsk-1", "vsk-2", "vsk-3", "vsk-4", "vsk-6"})
BY_NAME = {"name_pattern": r"^(?P<site>vsk-\d+)-ap-(?P<room>\d+)$"}
Row = tuple[str, str, str, str]  # site, ap, room, band
Fields = dict[str, float]

# fixture -> (placement, {(site, ap, room, band): fields but up}, down, unplaced)
CASES: dict[str, tuple[dict[str, object], dict[Row, Fields], set[str], set[str]]] = {
    "fake-cisco-wlc": (
        {**BY_NAME, "aps": {"AP-HALL-EAST": {"room": "hall"}}},
        {
            ("vsk-1", "vsk-1-ap-101", "101", "2g"): {"clients": 7, "channel_util_pct": 35.0},
            ("vsk-1", "vsk-1-ap-101", "101", "5g"): {"clients": 18, "channel_util_pct": 22.0},
            ("vsk-2", "vsk-2-ap-204", "204", "2g"): {"clients": 3, "channel_util_pct": 40.0},
            ("vsk-2", "vsk-2-ap-204", "204", "5g"): {"clients": 11, "channel_util_pct": 15.0},
            ("vsk-2", "vsk-2-ap-204", "204", "6g"): {"clients": 2, "channel_util_pct": 5.0},
            ("vsk-1", "AP-HALL-EAST", "hall", "2g"): {"clients": 1, "channel_util_pct": 60.0},
            ("vsk-1", "AP-HALL-EAST", "hall", "5g"): {"clients": 0, "channel_util_pct": 10.0},
        },
        {"vsk-1-ap-102"},
        {"lab-spare-ap"},
    ),
    "fake-aruba-controller": (
        BY_NAME,
        {
            ("vsk-3", "vsk-3-ap-301", "301", "5g"): {"clients": 14, "channel_util_pct": 30.0},
            ("vsk-3", "vsk-3-ap-301", "301", "2g"): {"clients": 4, "channel_util_pct": 55.0},
        },
        {"vsk-3-ap-302"},
        {"vsk-9-ap-901"},  # a site the inventory does not have
    ),
    "fake-unifi-ap": (
        BY_NAME,
        {
            ("vsk-4", "vsk-4-ap-401", "401", "2g"): {"clients": 3, "channel_util_pct": 45.0},
            # two SSIDs on 5 GHz
            ("vsk-4", "vsk-4-ap-401", "401", "5g"): {"clients": 13, "channel_util_pct": 20.0},
        },
        set(),
        set(),
    ),
    # UniFi firmware answering net-snmp's sysObjectID: matched on its sysDescr
    "fake-unifi-netsnmp": (
        BY_NAME,
        {
            ("vsk-4", "vsk-4-ap-402", "402", "2g"): {"clients": 8, "channel_util_pct": 52.0},
            ("vsk-4", "vsk-4-ap-402", "402", "5g"): {"clients": 22, "channel_util_pct": 18.0},
        },
        set(),
        set(),
    ),
    # Ruckus SmartZone: ruckusSZAPTable and RUCKUS-CTRL-MIB's radio table by the AP's MAC
    "fake-ruckus-sz": (
        {**BY_NAME, "aps": {"vsk-6-ap-gym": {"room": "gym", "site": "vsk-6"}}},
        {
            ("vsk-6", "vsk-6-ap-101", "101", "2g"): {"clients": 9, "noise_dbm": -96.0},
            ("vsk-6", "vsk-6-ap-101", "101", "5g"): {"clients": 21, "noise_dbm": -101.0},
            ("vsk-6", "vsk-6-ap-102", "102", "2g"): {"clients": 4, "noise_dbm": -94.0},
            ("vsk-6", "vsk-6-ap-102", "102", "5g"): {"clients": 12, "noise_dbm": -99.0},
            ("vsk-6", "vsk-6-ap-gym", "gym", "2g"): {"clients": 0, "noise_dbm": -92.0},
            ("vsk-6", "vsk-6-ap-gym", "gym", "5g"): {"clients": 31, "noise_dbm": -97.0},
        },
        {"vsk-6-ap-103"},
        {"AP-spare-7F"},
    ),
    # MikroTik CAPsMAN: one interface per CAP radio, "-1" the CAP's second radio
    "fake-mikrotik-capsman": (
        BY_NAME,
        {
            ("vsk-2", "vsk-2-ap-210", "210", "2g"): {"clients": 5},
            ("vsk-2", "vsk-2-ap-210", "210", "5g"): {"clients": 14},
            ("vsk-2", "vsk-2-ap-211", "211", "2g"): {"clients": 2},
            ("vsk-2", "vsk-2-ap-211", "211", "5g"): {"clients": 9},
        },
        {"vsk-2-ap-212"},
        set(),
    ),
}


async def wifi_samples(
    poller: SnmpPoller, agents: Agents, community: str, placement: dict[str, object]
) -> list[Sample]:
    wifi = WifiController(WifiPlacement.model_validate(placement), SITES)
    target = SnmpTarget("vsk-1", community, "access", agents.transport(community), wifi=wifi)
    return [s for s in await poller.poll(target) if s.measurement == "wifi_ap"]


def by_row(samples: list[Sample]) -> dict[Row, Fields]:
    return {
        (s.tags["site"], s.tags["ap"], s.tags["room"], s.tags["band"]): {
            k: float(v) for k, v in s.fields.items() if k != "up"
        }
        for s in samples
        if s.tags["band"] != "all"
    }


@pytest.mark.parametrize("community", sorted(CASES))
async def test_every_placed_ap_becomes_wifi_ap_samples(agents: Agents, community: str) -> None:
    placement, radios, down, unplaced = CASES[community]
    poller = SnmpPoller()
    samples = await wifi_samples(poller, agents, community, placement)
    assert by_row(samples) == radios
    assert all(s.fields["up"] is True for s in samples if s.tags["band"] != "all")
    assert {s.tags["ap"] for s in samples if s.tags["band"] == "all"} == down
    assert all(s.fields == {"up": False} for s in samples if s.tags["band"] == "all")
    assert poller.wifi.unplaced.get(community, set()) == unplaced
    assert len(samples) == len(radios) + len(down)  # nothing else, nothing twice


USER_PROFILE = """\
# a user's own reading of UniFi APs: clients only, per radio from the VAP table
name: school-unifi
match: {sysdescr: '^UAP-AC-Pro '}
bands:
  vap: {oid: 1.3.6.1.4.1.41112.1.6.1.2.1.9, map: {ng: 2g, na: 5g}}
fields:
  clients: {oid: 1.3.6.1.4.1.41112.1.6.1.2.1.8, band: vap}
"""


async def test_a_users_wifi_profile_in_profile_dirs_is_used(
    agents: Agents, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """It comes before the shipped unifi-ap profile, which matches the same AP."""
    (tmp_path / "wifi").mkdir()
    (tmp_path / "wifi" / "school-unifi.yaml").write_text(USER_PROFILE)
    poller = SnmpPoller(wifi_profiles=load_wifi_profiles([tmp_path]))
    with caplog.at_level(logging.INFO, "collectors.snmp.wifi"):
        samples = await wifi_samples(poller, agents, "fake-unifi-netsnmp", BY_NAME)
    assert by_row(samples) == {
        ("vsk-4", "vsk-4-ap-402", "402", "2g"): {"clients": 8},
        ("vsk-4", "vsk-4-ap-402", "402", "5g"): {"clients": 22},
    }
    assert f"Wi-Fi profile school-unifi ({tmp_path}/wifi/school-unifi.yaml)" in caplog.text


async def test_wifi_profile_in_the_config_wins_over_matching(
    agents: Agents, caplog: pytest.LogCaptureFixture
) -> None:
    """A device no profile matches gives nothing (said once); its `wifi.profile` is used,
    also a wrong one (which says it finds no AP)."""
    poller = SnmpPoller()
    with caplog.at_level(logging.WARNING, "collectors.snmp.wifi"):
        for _ in range(2):
            assert await wifi_samples(poller, agents, "fake-dell-os9", BY_NAME) == []
        assert poller.wifi.unmatched == {"fake-dell-os9"}
        wrong = {**BY_NAME, "profile": "ruckus-smartzone"}
        wrong_poller = SnmpPoller()
        assert await wifi_samples(wrong_poller, agents, "fake-unifi-netsnmp", wrong) == []
        assert wrong_poller.wifi.empty == {"fake-unifi-netsnmp"}  # counted in /healthz
    lines = [r.getMessage() for r in caplog.records]
    assert [line.startswith("fake-dell-os9 has wifi: but matches no") for line in lines].count(
        True
    ) == 1
    assert "fake-unifi-netsnmp: Wi-Fi profile ruckus-smartzone finds no AP" in caplog.text
    forced_right = {**BY_NAME, "profile": "unifi-ap"}
    samples = await wifi_samples(SnmpPoller(), agents, "fake-unifi-netsnmp", forced_right)
    assert len(by_row(samples)) == 2


async def test_unplaced_aps_are_logged_once_and_counted_hourly(
    agents: Agents, caplog: pytest.LogCaptureFixture
) -> None:
    now = [1_000_000.0]
    poller = SnmpPoller(clock=lambda: now[0])
    placement = {"name_pattern": r"^(?P<site>vsk-\d+)-ap-(?P<room>.+)$"}  # "gym" is a room too
    with caplog.at_level(logging.WARNING, "collectors.snmp.wifi"):
        for step_s in (0, 60, 3500, 60):  # polls at 0, 60, 3560 and 3620 s
            now[0] += step_s
            await wifi_samples(poller, agents, "fake-ruckus-sz", placement)
    lines = [r.getMessage() for r in caplog.records]
    assert (
        lines.count(
            "fake-ruckus-sz: AP 'AP-spare-7F' is not written: not in wifi.aps, and "
            "wifi.name_pattern does not match its name"
        )
        == 1
    )
    summary = "fake-ruckus-sz: 1 of 5 APs are placed nowhere and not written"
    assert [line.startswith(summary) for line in lines].count(True) == 2  # at 0 s and 3620 s
    assert len(lines) == 3


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
