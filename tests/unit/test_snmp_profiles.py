"""Device profiles: every shipped one loads; problems are file:line; extends; the match."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collectors.snmp.profiles import SHIPPED, ProfileError, load_profiles, match_profile

MINE = """\
name: acme-os
extends: generic
match:
  sysobjectid: [1.3.6.1.4.1.99999]
device:
  cpu_pct:
    - oid: 1.3.6.1.4.1.99999.1.0  # acmeCpu
"""


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return path


def problems(directory: Path) -> list[str]:
    with pytest.raises(ProfileError) as error:
        load_profiles([directory])
    return error.value.problems


def test_every_shipped_profile_loads_and_extends_generic() -> None:
    profiles = load_profiles()
    assert len(profiles) == len(list(SHIPPED.glob("*.yaml"))) >= 17
    for profile in profiles.values():
        assert profile.interfaces is not None and profile.sensors  # from generic at least
    assert {p.extends for p in profiles.values()} - {None} <= set(profiles)


def test_a_users_profile_matches_and_inherits(tmp_path: Path) -> None:
    write(tmp_path, "acme", MINE)
    profiles = load_profiles([tmp_path])
    matched = match_profile(profiles, "1.3.6.1.4.1.99999.7", "")
    assert matched.profile.name == "acme-os"
    assert set(matched.profile.device) == {  # all but cpu_pct from generic
        "cpu_pct", "mem_pct", "temp_c", "fans_failed", "psus_failed", "sensors_failed"
    }  # fmt: skip
    assert matched.why == (
        f"acme-os ({tmp_path / 'acme.yaml'}): sysObjectID 1.3.6.1.4.1.99999.7 is under"
        " 1.3.6.1.4.1.99999"
    )


PROBLEM_CASES = {
    "a name OID": (
        MINE.replace("1.3.6.1.4.1.99999.1.0", "acmeCpu.0"),
        r"acme.yaml:7: device.cpu_pct\[0\].oid: String should match pattern",
    ),
    "an unknown key": (MINE + "colour: red\n", "acme.yaml:8: colour: Extra inputs"),
    "a bad regex": (
        MINE.replace("match:\n", "match:\n  sysdescr: '(['\n"),
        "acme.yaml:4: match.sysdescr: not a valid regular expression",
    ),
    "a YAML error": (MINE + "  - [\n", "acme.yaml:8: YAML syntax error"),
    "extends nothing": (MINE.replace("extends: generic\n", ""), "every profile but generic"),
    "extends what is not there": (
        MINE.replace("extends: generic", "extends: acme-base"),
        "no profile named 'acme-base'",
    ),
    "an unknown optics field": (
        MINE + "optics:\n  - index: ifindex\n    fields:\n      rx_mw: {oid: 1.3.6.1.1}\n",
        r"acme.yaml:9: optics\[0\]: unknown optics field 'rx_mw'",
    ),
    "a ratio of one": (
        MINE.replace("    - oid: 1.3.6.1.4.1.99999.1.0  # acmeCpu", "    - used: 1.3.6.1.4.1.9.1"),
        "a percentage needs two of used, free, total",
    ),
}


@pytest.mark.parametrize("case", PROBLEM_CASES)
def test_problems_say_file_and_line(tmp_path: Path, case: str) -> None:
    text, expected = PROBLEM_CASES[case]
    write(tmp_path, "acme", text)
    found = problems(tmp_path)
    assert len(found) == 1 and found[0].startswith(str(tmp_path)), found
    assert re.search(expected, found[0]), found


def test_a_cycle_is_named(tmp_path: Path) -> None:
    write(tmp_path, "a", MINE.replace("name: acme-os", "name: a").replace("generic", "b"))
    write(tmp_path, "b", MINE.replace("name: acme-os", "name: b").replace("generic", "a"))
    assert any(
        "a cycle: a -> b -> a" in p or "a cycle: b -> a -> b" in p for p in problems(tmp_path)
    )


def test_the_most_specific_profile_wins() -> None:
    profiles = load_profiles()
    nxos = "Cisco NX-OS(tm) n9000, Software (n9000-dk9)"
    assert match_profile(profiles, "1.3.6.1.4.1.9.12.3.1.3.1812", nxos).profile.name == "cisco-nxos"
    ios = "Cisco IOS Software, C2960X Software"
    assert match_profile(profiles, "1.3.6.1.4.1.9.1.1208", ios).profile.name == "cisco-ios"
    # Cisco's sysObjectID but a sysDescr no Cisco profile knows: generic, and it says so
    other = match_profile(profiles, "1.3.6.1.4.1.9.1.1", "Cisco Adaptive Security Appliance")
    assert other.profile.name == "generic" and "no profile matches" in other.why
    assert match_profile(profiles, "", "").profile.name == "generic"
    forced = match_profile(profiles, "1.3.6.1.4.1.9.1.1", "", forced="arista-eos")
    assert forced.profile.name == "arista-eos" and "set in the config" in forced.why


MATCH_CASES = {
    # name: (sysObjectID, sysDescr, profile)
    "Dell S4048 on OS9": ("1.3.6.1.4.1.6027.1.3.23", "Dell Application Software Version: 9.14", "dell-os9"),
    "Dell Z9100 on OS9": ("1.3.6.1.4.1.6027.1.5.2", "Dell Application Software Version: 9.14", "dell-os9"),
    "Dell MXL blade on OS9": ("1.3.6.1.4.1.6027.1.4.1", "Dell Application Software", "dell-os9"),
    "Dell S4148 on OS10": ("1.3.6.1.4.1.674.11000.5000.100.2.1.10", "Dell EMC Networking OS10 Enterprise", "dell-os10"),
    "Dell Z9332F on OS10": ("1.3.6.1.4.1.674.11000.5000.100.2.3.4", "Dell SmartFabric OS10 Enterprise", "dell-os10"),
    "Dell N3248TE on OS10": ("1.3.6.1.4.1.674.11000.5000.100.2.4.1", "Dell SmartFabric OS10 Enterprise", "dell-os10"),
    "Extreme VSP on VOSS": ("1.3.6.1.4.1.2272.221", "VSP-7432CQ (8.6.0.0)", "extreme-voss"),
    "Extreme 7520 on VOSS": ("1.3.6.1.4.1.1916.2.404", "7520-48Y-8C-FabricEngine (8.10.0.0)", "extreme-voss-universal"),
    "Extreme 5520 on VOSS": ("1.3.6.1.4.1.1916.2.327", "5520-48W-VOSS (8.2.5.0)", "extreme-voss-universal"),
    "Extreme X465 on EXOS": ("1.3.6.1.4.1.1916.2.308", "ExtremeXOS (X465-48T) version 31.7.1.4", "extreme-exos"),
}  # fmt: skip


@pytest.mark.parametrize("case", MATCH_CASES)
def test_each_family_matches_its_profile(case: str) -> None:
    object_id, descr, name = MATCH_CASES[case]
    assert match_profile(load_profiles(), object_id, descr).profile.name == name
