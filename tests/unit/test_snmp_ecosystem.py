"""The Datadog/Kentik/Netdata profile format: what each file becomes in edumon's profile model,
the precedence among profiles, and a malformed file reported at file:line."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from collectors.snmp import ber
from collectors.snmp.client import RequestStats
from collectors.snmp.config import ProfileDir
from collectors.snmp.profile_config import profile_problems
from collectors.snmp.profile_model import ExtraMetric, Profile
from collectors.snmp.profile_reader import Walked, device_fields, read
from collectors.snmp.profiles import ProfileError, load_profiles, match_profile
from gateway.config import check_config
from gateway.plugins import PLUGINS

LIBRARY = Path(__file__).parents[1] / "fixtures" / "ecosystem"
CISCO_3850 = "1.3.6.1.4.1.9.1.1745"


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory


KENTIK_STYLE = """\
sysobjectid:
  - 1.3.6.1.4.1.9.1.1745  # a model: more specific than the shipped cisco-ios
  - 1.3.6.1.4.1.9.1.*
metrics:
  - MIB: VENDOR-MIB
    symbols:
      - OID: 1.3.6.1.4.1.5.1.1.0
        name: vendorCpu
        tag: CPU
      - OID: 1.3.6.1.4.1.5.1.2.0
        name: vendorMemTotal
        tag: MemoryTotal
      - OID: 1.3.6.1.4.1.5.1.3.0
        name: vendorMemUsed
        tag: MemoryUsed
      - OID: 1.3.6.1.4.1.5.1.4
        name: vendorLoad
        conversion: "regexp:60 Secs.*?(\\\\d+)"
  - MIB: IF-MIB
    table:
      OID: 1.3.6.1.2.1.31.1.1
      name: ifXTable
    symbols:
      - OID: 1.3.6.1.2.1.31.1.1.1.6
        name: ifHCInOctets
"""


def test_kentik_names_become_device_sources_and_the_rest_snmp_metric(tmp_path: Path) -> None:
    profiles = load_profiles([write(tmp_path, {"vendor/cisco-thing.yml": KENTIK_STYLE})])
    profile = profiles["cisco-thing"]
    assert [s.oid for s in profile.device["cpu_pct"]] == ["1.3.6.1.4.1.5.1.1.0"]
    (memory,) = profile.device["mem_pct"]
    assert (memory.used, memory.total) == ("1.3.6.1.4.1.5.1.3.0", "1.3.6.1.4.1.5.1.2.0")
    (load,) = profile.metrics  # not ifHCInOctets: IF-MIB is edumon's interface series
    assert (load.name, load.oid, load.value_pattern) == (
        "vendorLoad",
        "1.3.6.1.4.1.5.1.4.0",  # a scalar written without its .0
        r"60 Secs.*?(\d+)",
    )


def test_precedence_override_user_ecosystem_shipped(tmp_path: Path) -> None:
    library = write(tmp_path / "lib", {"cisco/cisco-thing.yml": KENTIK_STYLE})
    profiles = load_profiles([library])
    matched = match_profile(profiles, CISCO_3850, "Cisco IOS Software")
    # the ecosystem profile wins over the shipped cisco-ios, which stays beneath it: its optics,
    # and its own CPU and memory sources first (the library's next)
    assert matched.profile.name == "cisco-thing" and "beneath it cisco-ios" in matched.why
    assert matched.profile.optics == profiles["cisco-ios"].optics
    cpu = [source.oid for source in matched.profile.device["cpu_pct"]]
    assert cpu[0] == profiles["cisco-ios"].device["cpu_pct"][0].oid
    assert "1.3.6.1.4.1.5.1.1.0" in cpu
    assert matched.profile.device["mem_pct"][-1].used == "1.3.6.1.4.1.5.1.3.0"
    named = match_profile(profiles, CISCO_3850, "", forced="cisco-thing")
    assert named.profile.device["cpu_pct"][0].oid == "1.3.6.1.4.1.5.1.1.0"  # the library's first
    mine = write(
        tmp_path / "mine",
        {"c.yaml": "name: my-cisco\nextends: generic\nmatch:\n  sysobjectid: [1.3.6.1.4.1.9]\n"},
    )
    users = load_profiles([library, mine])
    assert match_profile(users, CISCO_3850, "").profile.name == "my-cisco"  # the user's own
    forced = match_profile(users, CISCO_3850, "", forced="cisco-ios")
    assert forced.profile.name == "cisco-ios" and forced.why.startswith("set in the config")


def test_a_librarys_catch_all_serves_only_devices_no_more_specific_profile_knows(
    tmp_path: Path,
) -> None:
    catch_all = "sysobjectid: 1.3.6.1.4.*\nmetrics:\n  - symbol: {OID: 1.3.6.1.4.1.7.1.0, name: cpu.usage}\n"
    profiles = load_profiles([write(tmp_path, {"generic/base.yml": catch_all})])
    assert match_profile(profiles, CISCO_3850, "Cisco IOS Software").profile.name == "cisco-ios"
    unknown = match_profile(profiles, "1.3.6.1.4.1.99999.1", "")
    assert unknown.profile.name == "base" and "beneath it no profile matches" in unknown.why


def test_an_exact_sysobjectid_beats_a_wildcard_and_mixins_are_not_profiles() -> None:
    profiles = load_profiles([LIBRARY])
    assert "acme-switch-48" in profiles and "acme-switch" in profiles
    assert not any(name.startswith("acme-base") for name in profiles)
    assert match_profile(profiles, "1.3.6.1.4.1.99991.1.48", "").profile.name == "acme-switch-48"
    assert match_profile(profiles, "1.3.6.1.4.1.99991.1.24", "").profile.name == "acme-switch"


def test_kentik_matches_on_sysdescr_lead_to_another_file(tmp_path: Path) -> None:
    files = {
        "_general/net-snmp.yml": "sysobjectid: [1.3.6.1.4.1.8072.3.2.10]\n"
        "matches:\n  '^acme nas': acme-nas.yml\nmetrics: []\n",
        "acme/acme-nas.yml": "sysobjectid: [1.3.6.1.4.1.8072.3.2.10.acmenas]\nmetrics:\n"
        "  - symbol: {OID: 1.3.6.1.4.1.7.1.0, name: cpu.usage}\n",
    }
    profiles = load_profiles([write(tmp_path, files)])
    linux = "1.3.6.1.4.1.8072.3.2.10"
    matched = match_profile(profiles, linux, "Acme NAS 4.1")
    assert matched.profile.device["cpu_pct"][0].oid == "1.3.6.1.4.1.7.1.0", matched.why
    assert "sysDescr matches" in matched.why
    assert match_profile(profiles, linux, "Linux box").profile.name == "net-snmp"


PROBLEMS = {
    "a symbol without OID": (
        "metrics:\n  - symbol:\n      name: cpu.usage\n",
        "bad.yaml:2: metrics[0].symbol.OID: Field required",
    ),
    "a name for an OID": (
        "metrics:\n  - symbol:\n      OID: ciscoCpu.0\n      name: cpu.usage\n",
        "bad.yaml:3: metrics[0].symbol.OID: String should match pattern",
    ),
    "a bad sysobjectid": (
        "sysobjectid: enterprises.9.1\nmetrics: []\n",
        "bad.yaml:1: sysobjectid: 'enterprises.9.1' is not a sysObjectID",
    ),
    "extends a missing file": (
        "extends:\n  - _nothing.yaml\nmetrics: []\n",
        "bad.yaml:2: extends: no file '_nothing.yaml'",
    ),
    "a YAML error": ("metrics:\n  - [\n", "bad.yaml:3: YAML syntax error"),
    "a metric with nothing": (
        "metrics:\n  - MIB: X-MIB\n",
        "bad.yaml:2: metrics[0]: a metric needs a symbol",
    ),
    "an index_transform backwards": (
        "metrics:\n  - table: {OID: 1.3.6.1.4.1.5.2, name: t}\n    symbols:\n"
        "      - {OID: 1.3.6.1.4.1.5.2.1.1, name: x}\n    metric_tags:\n"
        "      - tag: port\n        column: {OID: 1.3.6.1.2.1.31.1.1.1.1, name: ifName}\n"
        "        index_transform:\n          - start: 2\n            end: 1\n",
        "bad.yaml:9: metrics[0].metric_tags[0].index_transform[0]: Value error, end comes",
    ),
}


@pytest.mark.parametrize("case", sorted(PROBLEMS))
def test_a_malformed_profile_is_reported_at_file_and_line(tmp_path: Path, case: str) -> None:
    text, expected = PROBLEMS[case]
    write(tmp_path, {"bad.yaml": text})
    with pytest.raises(ProfileError) as raised:
        load_profiles([ProfileDir(path=tmp_path, format="datadog")])
    assert any(expected.replace("Value error, ", "") in p for p in raised.value.problems), (
        raised.value.problems
    )


def test_check_config_lists_the_problem_and_a_lenient_library_only_logs_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, {"bad.yaml": PROBLEMS["a symbol without OID"][0]})
    data = {"snmp": {"profile_dirs": [{"path": str(tmp_path), "format": "datadog"}]}}
    assert [problem for _, problem in profile_problems(data)] == [
        f"{tmp_path / 'bad.yaml'}:2: metrics[0].symbol.OID: Field required"
    ]
    with caplog.at_level(logging.WARNING):
        profiles = load_profiles([ProfileDir(path=tmp_path, strict=False)])
    assert "generic" in profiles and "bad" not in profiles
    assert "bad.yaml:2" in caplog.text


class CountingAgent:
    """Answers every GET with 7 per OID, and every GETBULK with one row (index 1) of each
    column and then the end of the MIB; records how many OIDs each request asked."""

    def __init__(self) -> None:
        self.gets: list[int] = []
        self.bulks: list[int] = []
        self.stats = RequestStats()

    async def get(self, oids: Sequence[bytes]) -> list[ber.VarBind]:
        self.gets.append(len(oids))
        return [ber.VarBind(oid, ber.INTEGER, b"\x07") for oid in oids]

    async def bulk(self, oids: Sequence[bytes], max_repetitions: int) -> list[ber.VarBind]:
        self.bulks.append(len(oids))
        first = [ber.VarBind(oid + b"\x01", ber.INTEGER, b"\x07") for oid in oids]
        return first + [ber.VarBind(oid, ber.END_OF_MIB_VIEW, b"") for oid in oids]


async def test_many_scalars_and_columns_are_asked_in_several_requests() -> None:
    """An ecosystem profile may name a hundred OIDs; no GET or GETBULK asks for more than 24."""
    scalars = [f"1.3.6.1.4.1.5.{n}.0" for n in range(50)]
    columns = [f"1.3.6.1.4.1.6.1.{n}" for n in range(1, 31)]
    profile = Profile(
        name="many",
        metrics=[ExtraMetric(name=f"m{n}", oid=oid) for n, oid in enumerate(scalars + columns)],
    )
    agent = CountingAgent()
    walked = await read(agent, profile, 25)
    assert agent.gets == [24, 24, 2]
    assert agent.bulks[:1] == [24] and max(agent.bulks) == 24 and 6 in agent.bulks
    assert all(walked.column(oid) for oid in scalars)
    assert all(list(walked.column(oid)) == [(1,)] for oid in columns)


def test_edumon_check_config_reports_a_librarys_bad_file_at_its_line(tmp_path: Path) -> None:
    """The config names a Datadog-format directory (relative to the config file); one of its
    files has a symbol without OID: check-config says which file and line."""
    write(tmp_path / "lib", {"bad.yaml": PROBLEMS["a symbol without OID"][0]})
    path = tmp_path / "edumon.yaml"
    path.write_text(
        "snmp: {profile_dirs: [{path: lib, format: datadog}]}\n"
        "sites: [{id: vsk-1, name: School, devices: []}]\n"
    )
    problems = check_config(path, PLUGINS, {})
    assert [p.message for p in problems if "bad.yaml" in p.message] == [
        f"{tmp_path / 'lib' / 'bad.yaml'}:2: metrics[0].symbol.OID: Field required"
    ], problems
    write(
        tmp_path / "lib", {"bad.yaml": "metrics:\n  - symbol: {OID: 1.3.6.1.4.1.5.1.0, name: x}\n"}
    )
    assert check_config(path, PLUGINS, {}) == []


def _storage(rows: dict[int, tuple[str, int, int]]) -> Walked:
    """hrStorageTable rows {index: (descr, size, used)} in units of 1 byte."""
    hr = "1.3.6.1.2.1.25.2.3.1."

    def column(values: dict[int, ber.VarBind]) -> dict[tuple[int, ...], ber.VarBind]:
        return {(index,): varbind for index, varbind in values.items()}

    def integer(value: int) -> ber.VarBind:
        return ber.VarBind(b"", ber.INTEGER, value.to_bytes(4, "big", signed=True))

    return Walked(
        {
            hr + "3": column(
                {i: ber.VarBind(b"", ber.OCTET_STRING, d.encode()) for i, (d, _, _) in rows.items()}
            ),
            hr + "4": column({i: integer(1) for i in rows}),
            hr + "5": column({i: integer(size) for i, (_, size, _) in rows.items()}),
            hr + "6": column({i: integer(used) for i, (_, _, used) in rows.items()}),
        }
    )


@pytest.mark.parametrize(
    ("cached", "expected"),
    [
        (300, 40.0),  # net-snmp: 70 % of the RAM used, 30 % of it cache: 40 % in use
        (800, 70.0),  # AOS-CX: more cache than RAM in use, so its RAM row leaves cache out
    ],
)
def test_memory_in_use_less_cache_only_where_the_agent_counts_it(
    cached: int, expected: float
) -> None:
    generic = load_profiles()["generic"]
    walked = _storage({1: ("Physical memory", 1000, 700), 7: ("Cached memory", 1000, cached)})
    assert device_fields(generic, walked, {}, [])["mem_pct"] == pytest.approx(expected)


def test_a_linux_memory_profile_with_cache_gives_no_mem_pct(tmp_path: Path) -> None:
    """UCD-SNMP's free memory counts cache as used: such a profile's memory stays snmp_metric
    and generic's HOST-RESOURCES rule (less buffers and cache) gives mem_pct."""
    ucd = KENTIK_STYLE + (
        "  - MIB: UCD-SNMP-MIB\n    symbols:\n"
        "      - {OID: 1.3.6.1.4.1.2021.4.15.0, name: memCached, tag: MemoryCache}\n"
    )
    profile = load_profiles([write(tmp_path, {"linux/ucd.yml": ucd})])["ucd"]
    assert "mem_pct" not in profile.device
    assert {"MemoryTotal", "MemoryUsed", "MemoryCache"} <= {m.name for m in profile.metrics}
