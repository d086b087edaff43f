"""`wifi:` on a controller: the placement's problems at file:line; where an AP is placed or
why not; the Wi-Fi profiles (shipped and the user's) load, are checked at file:line and match
their controllers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from collectors.snmp import ber
from collectors.snmp.wifi_config import WifiPlacement
from collectors.snmp.wifi_match import choose
from collectors.snmp.wifi_model import load_wifi_profiles
from collectors.snmp.wifi_place import Place, Unplaced, place
from gateway.config import check_config
from gateway.plugins import PLUGINS

CONFIG = """\
credentials:
  snmp:
    lab: {version: 2c, community_env: LAB_COMMUNITY}
sites:
  - id: vsk-1
    name: School
    devices:
      - kind: switch
        id: vsk-1-wlc
        address: 127.0.0.1
        credentials: lab
        wifi:
          name_pattern: '^(?P<site>vsk-\\d+)-ap-(?P<room>\\d+)$'
          aps: {AP-HALL: {room: hall}}
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("(?P<room>", "(?P<rom>", 13, "needs a (?P<room>...) group"),
        ("\\d+)$", "\\d+$", 13, "not a valid regular expression"),
        ("{room: hall}", "{room: 'hall/2'}", 14, "should match pattern"),
        ("aps:", "apps:", 14, "unknown key"),
    ],
)
def test_placement_problems_name_the_line(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    assert old in CONFIG
    path = tmp_path / "edumon.yaml"
    path.write_text(CONFIG.replace(old, new))
    problems = check_config(path, PLUGINS, {"LAB_COMMUNITY": "not-a-secret"})
    assert [p.line for p in problems] == [line], problems
    assert message in problems[0].message


def test_the_good_placement_has_no_problem(tmp_path: Path) -> None:
    path = tmp_path / "edumon.yaml"
    path.write_text(CONFIG)
    assert check_config(path, PLUGINS, {"LAB_COMMUNITY": "not-a-secret"}) == []


class Agent:
    """The transport boundary: an agent that has the objects under the given subtrees."""

    def __init__(self, *subtrees: str) -> None:
        self.objects = sorted(ber.decode_oid(ber.encode_oid(f"{t}.1.1")) for t in subtrees)
        self.asked: list[tuple[int, ...]] = []

    async def get(self, oids: Sequence[bytes]) -> list[ber.VarBind]:
        raise AssertionError("matching never GETs")

    async def bulk(self, oids: Sequence[bytes], max_repetitions: int) -> list[ber.VarBind]:
        start = ber.decode_oid(oids[0])
        self.asked.append(start)
        after = [o for o in self.objects if o > start]
        if not after:
            return [ber.VarBind(oids[0], ber.END_OF_MIB_VIEW, b"")]
        return [ber.VarBind(ber.encode_oid(after[0]), ber.INTEGER, b"\x01")]


UNIFI_RADIOS, CAPSMAN, MT_AP = (
    "1.3.6.1.4.1.41112.1.6.1.1",
    "1.3.6.1.4.1.14988.1.1.1.7",
    "1.3.6.1.4.1.14988.1.1.1.3",
)


@pytest.mark.parametrize(
    ("sys_object_id", "sys_descr", "subtrees", "profile"),
    [
        ("1.3.6.1.4.1.9.1.1069", "Cisco Controller", (), "cisco-aireos"),
        ("1.3.6.1.4.1.9.1.2530", "Cisco IOS Software [Dublin], C9800 Software", (), "cisco-aireos"),
        ("1.3.6.1.4.1.14823.1.1.32", "ArubaOS (MODEL: Aruba7210)", (), "aruba-controller"),
        ("1.3.6.1.4.1.41112", "Linux 4.4.153", (), "unifi-ap"),
        # UniFi firmware with net-snmp's sysObjectID: by sysDescr, or by its radio table
        ("1.3.6.1.4.1.8072.3.2.10", "UAP-nanoHD 5.43.36.12724", (), "unifi-ap"),
        ("1.3.6.1.4.1.8072.3.2.10", "U6-Pro 6.5.28.14491", (), "unifi-ap"),
        ("1.3.6.1.4.1.10002.1", "Linux 3.3.8 #1 mips", (UNIFI_RADIOS,), "unifi-ap"),
        ("1.3.6.1.4.1.8072.3.2.10", "Linux 5.10", (), None),  # a Linux box
        ("1.3.6.1.4.1.8072.3.2.10", "USP-RPS 6.6.61.15179", (), None),  # UniFi, not an AP
        ("1.3.6.1.4.1.25053.3.1.11.1", "SmartZone", (), "ruckus-smartzone"),
        ("1.3.6.1.4.1.14988.1", "RouterOS CCR2004", (CAPSMAN,), "mikrotik-capsman"),
        ("1.3.6.1.4.1.14988.1", "RouterOS hAP ac", (MT_AP,), "mikrotik-wireless"),
        ("1.3.6.1.4.1.14988.1", "RouterOS RB4011", (CAPSMAN, MT_AP), "mikrotik-capsman"),
        ("1.3.6.1.4.1.14988.1", "RouterOS CRS317", (), None),  # a switch
        ("1.3.6.1.4.1.9.1.1208", "Cisco IOS Software, C2960X", (), None),  # a switch
    ],
)
async def test_wifi_profiles_match_their_controllers(
    sys_object_id: str, sys_descr: str, subtrees: tuple[str, ...], profile: str | None
) -> None:
    chosen = await choose(load_wifi_profiles(), Agent(*subtrees), (sys_object_id, sys_descr))
    assert (chosen.profile.name if chosen else None) == profile


async def test_a_subtree_is_asked_only_when_the_rest_of_its_alternative_holds() -> None:
    agent = Agent(CAPSMAN)
    chosen = await choose(load_wifi_profiles(), agent, ("1.3.6.1.4.1.9.1.1069", "Cisco Controller"))
    assert chosen is not None and chosen.profile.name == "cisco-aireos"
    # the MikroTik profiles' subtrees are not asked of a Cisco; UniFi's radio table is
    assert agent.asked == [ber.decode_oid(ber.encode_oid(UNIFI_RADIOS))]


PLACEMENT = WifiPlacement.model_validate(
    {
        "name_pattern": r"^(?P<site>vsk-\d+)-ap-(?P<room>.+)$",
        "aps": {"AP-HALL": {"room": "hall"}, "AP-GYM": {"site": "vsk-2", "room": "gym"}},
    }
)
SITES = frozenset({"vsk-1", "vsk-2"})


@pytest.mark.parametrize(
    ("ap", "where"),
    [
        ("AP-HALL", Place("vsk-1", "hall")),  # the controller's site
        ("AP-GYM", Place("vsk-2", "gym")),  # the AP's own site, not the controller's
        ("vsk-2-ap-204", Place("vsk-2", "204")),
        ("vsk-1-ap-lab 3", Place("vsk-1", "lab 3")),
        # the room the pattern takes out of the name is checked as a room
        ("vsk-1-ap-a/b", Unplaced("wifi.name_pattern matched, but its room 'a/b' is not a room")),
        ("vsk-1-ap--x", Unplaced("wifi.name_pattern matched, but its room '-x' is not a room")),
        (
            "vsk-9-ap-901",
            Unplaced("wifi.name_pattern places it at site 'vsk-9', not a site of the inventory"),
        ),
        (
            "lab-spare",
            Unplaced("not in wifi.aps, and wifi.name_pattern does not match its name"),
        ),
    ],
)
def test_an_ap_is_placed_by_its_entry_or_its_name(ap: str, where: Place | Unplaced) -> None:
    assert place(PLACEMENT, "vsk-1", SITES, ap) == where


def test_an_aps_own_site_must_be_known_and_a_placement_may_have_no_pattern() -> None:
    only_aps = WifiPlacement.model_validate({"aps": {"AP-X": {"site": "vsk-3", "room": "x"}}})
    assert place(only_aps, "vsk-1", SITES, "AP-X") == Unplaced(
        "wifi.aps places it at site 'vsk-3', not a site of the inventory"
    )
    assert place(only_aps, "vsk-1", SITES | {"vsk-3"}, "AP-X") == Place("vsk-3", "x")
    assert place(only_aps, "vsk-1", SITES, "AP-Y") == Unplaced(
        "not in wifi.aps, and the controller has no wifi.name_pattern"
    )


BROKEN_PROFILE = """\
name: school-unifi
match: {sysdescr: '^UAP'}
bands:
  vap: {oid: 1.3.6.1.4.1.41112.1.6.1.2.1.9, map: {ng: 2g, na: 5ghz}}
fields:
  clients: {oid: 1.3.6.1.4.1.41112.1.6.1.2.1.8, band: vap}
"""


def test_a_users_wifi_profile_and_wifi_profile_are_checked_at_their_line(tmp_path: Path) -> None:
    (tmp_path / "mine" / "wifi").mkdir(parents=True)
    (tmp_path / "mine" / "wifi" / "school-unifi.yaml").write_text(BROKEN_PROFILE)
    path = tmp_path / "edumon.yaml"
    config = CONFIG.replace("        wifi:\n", "        wifi:\n          profile: school-unifi\n")
    path.write_text(f"snmp: {{profile_dirs: [mine]}}\n{config}")
    problems = check_config(path, PLUGINS, {"LAB_COMMUNITY": "not-a-secret"})
    messages = [p.message for p in problems]
    assert any("school-unifi.yaml:4: bands.vap.map.na:" in m for m in messages), messages
    (tmp_path / "mine" / "wifi" / "school-unifi.yaml").write_text(
        BROKEN_PROFILE.replace("5ghz", "5g")
    )
    assert check_config(path, PLUGINS, {"LAB_COMMUNITY": "not-a-secret"}) == []
    path.write_text(f"snmp: {{profile_dirs: [mine]}}\n{config.replace('school-unifi', 'nope')}")
    problems = check_config(path, PLUGINS, {"LAB_COMMUNITY": "not-a-secret"})
    assert [p.line for p in problems] == [14], problems  # wifi.profile: the line after wifi:
    assert "unknown Wi-Fi profile 'nope'" in problems[0].message
