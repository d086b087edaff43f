"""Config and inventory: the example city loads; every kind of problem names file:line: field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import ConfigError, ConfigProblem, check_config, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "city.yaml"
ENV = {
    "EDUMON_SNMP_COMMUNITY": "test-only-not-a-secret",
    "EDUMON_SNMP_AUTH": "test-only-not-a-secret",
    "EDUMON_SNMP_PRIV": "test-only-not-a-secret",
}


def test_example_city_loads_with_schools_and_science_centre() -> None:
    config = load_config(EXAMPLE, ENV)
    kinds = [site.kind for site in config.sites]
    assert kinds.count("school") == 20 and kinds.count("science_centre") == 1
    switches = list(config.devices("switch"))
    assert len(switches) == 41
    assert {d.address for _, d in switches} == {"127.0.0.1", "::1"}  # loopback only
    assert len({d.port for _, d in switches}) == 41
    assert len(list(config.devices("exhibit"))) == 10
    v3 = config.credentials.snmp["school-v3"]
    assert v3.secret("auth_password") is not None
    assert v3.secret("auth_password").get_secret_value() == ENV["EDUMON_SNMP_AUTH"]  # type: ignore[union-attr]
    assert "test-only" not in repr(config)


BASE = """\
service:
  state_dir: /tmp/x
credentials:
  snmp:
    v2:
      version: 2c
      community_env: C_ENV
sites:
  - id: vsk-1
    name: School
    devices:
      - kind: switch
        id: sw-1
        address: 127.0.0.1
        credentials: v2
"""


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[ConfigProblem]:
    path = tmp_path / "edumon.yaml"
    path.write_text(text)
    return check_config(path, {"C_ENV": "test-only"} if env is None else env)


@pytest.mark.parametrize(
    ("change", "line", "field", "message"),
    [
        (
            ("address: 127.0.0.1", "adress: 127.0.0.1"),
            14,
            "sites[0].devices[0].adress",
            "unknown key",
        ),
        (
            ("address: 127.0.0.1", "address: 127.0.0.999"),
            14,
            "sites[0].devices[0].address",
            "neither",
        ),
        (("address: 127.0.0.1", "address: '::1'"), None, None, None),
        (("address: 127.0.0.1", "address: switch-1.school.lan"), None, None, None),
        (("state_dir: /tmp/x", "state_dirr: /tmp/x"), 2, "service.state_dirr", "unknown key"),
        (
            ("credentials: v2", "credentials: v3"),
            15,
            "sites[0].devices[0].credentials",
            "unknown SNMP credentials 'v3'",
        ),
        (
            ("community_env: C_ENV", "community: public"),
            7,
            "credentials.snmp.v2.community",
            "never inline",
        ),
        (("kind: switch", "kind: router"), 12, "sites[0].devices[0].kind", "does not match"),
        (("id: vsk-1", "id: VSK 1"), 9, "sites[0].id", "should match pattern"),
        (("version: 2c", "version: 3"), 5, "credentials.snmp.v2", "user is required"),
    ],
)
def test_problems_name_line_and_field(
    tmp_path: Path,
    change: tuple[str, str],
    line: int | None,
    field: str | None,
    message: str | None,
) -> None:
    found = problems(tmp_path, BASE.replace(*change))
    if line is None:
        assert found == []
        return
    matching = [p for p in found if (p.line, p.field) == (line, field)]
    assert len(matching) == 1, found
    assert message is not None and message in matching[0].message
    # a typo'd key also makes the real key missing: reported at the device's line
    assert all(p in matching or p.message == "Field required" for p in found), found


def test_typo_and_missing_secret_are_both_reported(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace("address:", "adress:"), env={})
    assert [(p.line, p.field) for p in found] == [
        (7, "credentials.snmp.v2.community_env"),
        (12, "sites[0].devices[0].address"),  # Field required
        (14, "sites[0].devices[0].adress"),  # unknown key
    ]
    assert "environment variable C_ENV is not set" in found[0].message
    assert str(found[0]).startswith(
        f"{tmp_path / 'edumon.yaml'}:7: credentials.snmp.v2.community_env:"
    )


V3 = """\
credentials:
  snmp:
    s:
      version: 3
      user: edumon
      security_level: {level}
{extra}"""


@pytest.mark.parametrize(
    ("level", "extra", "message"),
    [
        (
            "authPriv",
            "      auth_protocol: sha\n      auth_password_env: A\n",
            "priv_protocol is required",
        ),
        (
            "authPriv",
            "      auth_protocol: sha\n      auth_password_env: A\n      priv_protocol: aes\n"
            "      priv_password_env: P\n",
            None,
        ),
        ("authNoPriv", "      auth_protocol: sha\n", "auth_password_env is required"),
        ("noAuthNoPriv", "      auth_protocol: sha\n", "auth_protocol must not be set"),
        ("noAuthNoPriv", "", None),
    ],
)
def test_snmp_v3_security_level_rules(
    tmp_path: Path, level: str, extra: str, message: str | None
) -> None:
    found = problems(tmp_path, V3.format(level=level, extra=extra), env={"A": "x", "P": "y"})
    if message is None:
        assert found == []
    else:
        assert [p.field for p in found] == ["credentials.snmp.s"]
        assert message in found[0].message
        assert found[0].line == 3


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("sites:\n  - id: a\n    name: [unclosed\n", 4, "YAML syntax error"),
        ("service:\n  name: a\n  name: b\n", 3, "duplicate key 'name'"),
        ("- just\n- a list\n", 1, "must be a mapping"),
    ],
)
def test_yaml_level_problems(tmp_path: Path, text: str, line: int, message: str) -> None:
    [problem] = problems(tmp_path, text)
    assert problem.line == line and message in problem.message


def test_duplicate_ids_and_dev_euis(tmp_path: Path) -> None:
    text = BASE + (
        "      - {kind: switch, id: sw-1, address: 127.0.0.1, credentials: v2}\n"
        "      - {kind: lorawan_sensor, id: s-1, dev_eui: 0004A30B001C0530}\n"
        "      - {kind: lorawan_sensor, id: s-2, dev_eui: 0004a30b001c0530}\n"
        "  - {id: vsk-1, name: Again}\n"
    )
    found = problems(tmp_path, text)
    assert [(p.line, p.message) for p in found] == [
        (16, "device id 'sw-1' is used twice"),
        (18, "dev_eui 0004a30b001c0530 is used twice"),
        (19, "site id 'vsk-1' is used twice"),
    ]


def test_load_config_raises_with_all_problems(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BASE.replace("address:", "adress:"))
    with pytest.raises(ConfigError) as error:
        load_config(path, {})
    assert len(error.value.problems) == 3


def test_spool_sizes_accept_units(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("spool:\n  max_bytes: 512MiB\n  segment_bytes: 1048576\n")
    config = load_config(path, {})
    assert (config.spool.max_bytes, config.spool.segment_bytes) == (512 * 2**20, 2**20)
    path.write_text("spool:\n  max_bytes: lots\n")
    [problem] = check_config(path, {})
    assert (problem.line, problem.field) == (2, "spool.max_bytes")


def test_check_config_cli_prints_file_line_field(tmp_path: Path) -> None:
    path = tmp_path / "edumon.yaml"
    path.write_text(BASE.replace("address:", "adress:"))
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check-config", str(path)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1
    assert (
        f"{path}:7: credentials.snmp.v2.community_env: environment variable C_ENV is not set"
        in result.stdout
    )
    assert f"{path}:14: sites[0].devices[0].adress: unknown key" in result.stdout
