"""`wifi:` on a controller: the placement's problems at file:line; the shipped Wi-Fi
profiles load and match their controllers."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.snmp.wifi import WifiReader
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


@pytest.mark.parametrize(
    ("sys_object_id", "sys_descr", "profile"),
    [
        ("1.3.6.1.4.1.9.1.1069", "Cisco Controller", "cisco-aireos"),
        ("1.3.6.1.4.1.9.1.2530", "Cisco IOS Software [Dublin], C9800 Software", "cisco-aireos"),
        ("1.3.6.1.4.1.14823.1.1.32", "ArubaOS (MODEL: Aruba7210)", "aruba-controller"),
        ("1.3.6.1.4.1.41112", "Linux 4.4.153", "unifi-ap"),
        ("1.3.6.1.4.1.9.1.1208", "Cisco IOS Software, C2960X", None),  # a switch
    ],
)
def test_wifi_profiles_match_their_controllers(
    sys_object_id: str, sys_descr: str, profile: str | None
) -> None:
    matched = WifiReader().profile_for(sys_object_id, sys_descr)
    assert (matched.name if matched else None) == profile
