"""Config and inventory: the example city loads; every kind of problem names file:line: field."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gateway.config import ConfigError, ConfigProblem, check_config, load_config
from gateway.plugins import PLUGINS
from gateway.yaml_lines import YamlProblem, load_with_lines
from simulators.snmp.wiring import city_wiring

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "city.yaml"
NOT_A_SECRET = "test-only-not-a-secret"
ENV = {
    "EDUMON_SNMP_COMMUNITY": NOT_A_SECRET + "-community",
    "EDUMON_SNMP_AUTH": NOT_A_SECRET + "-auth",
    "EDUMON_SNMP_PRIV": NOT_A_SECRET + "-priv",
}


def test_example_city_loads_with_schools_and_science_centre() -> None:
    assert check_config(EXAMPLE, PLUGINS, ENV) == []
    config = load_config(EXAMPLE, PLUGINS, ENV)
    kinds = [site.kind for site in config.sites]
    assert kinds.count("school") == 20 and kinds.count("science_centre") == 1
    assert kinds.count("network") == 1  # city-net: the city cores and aggregation switches
    switches = list(config.devices("switch"))
    assert len(switches) == 46  # 45 switches and vsk-5's Wi-Fi controller
    assert len({d.port for _, d in switches}) == 46  # one simulator agent per port
    assert len(list(config.devices("exhibit"))) == 10
    assert len(list(config.devices())) == sum(len(s.devices) for s in config.sites)
    euis = [d.dev_eui for _, d in config.devices("lorawan_sensor")]
    assert len(euis) == len(set(euis)) >= 40
    for site in config.sites:
        assert site.location is not None
        assert abs(site.location.lat - 57.39) < 0.1 and abs(site.location.lon - 21.56) < 0.1
        roles = {d.role for d in site.devices if d.kind == "switch"}
        if site.kind == "school":
            assert roles == {"core", "access"}, site.id
            assert {d.kind for d in site.devices} == {
                "switch",
                "access_point",
                "lorawan_sensor",
                "probe_target",
            }, site.id
            families = {
                ipaddress.ip_address(d.address).version
                for d in site.devices
                if d.kind == "probe_target"
            }
            assert families == {4, 6}, site.id


def test_example_city_has_a_city_tier_with_a_dual_homed_school() -> None:
    """The simulators wire it (simulators/snmp/wiring.py): ringed roots, two aggregation
    switches, the schools spread behind them and vvg-1 behind both."""
    config = load_config(EXAMPLE, PLUGINS, ENV)
    wiring = city_wiring(config)
    assert wiring.roots == ["city-core-1", "city-core-2"]
    uplinks: dict[str, set[str]] = {}
    for a, b in wiring.links:
        for here, there in ((a, b), (b, a)):
            if here.switch.endswith("-core") and there.switch.startswith("city-agg-"):
                uplinks.setdefault(here.switch, set()).add(there.switch)
    schools = [s for s in config.sites if s.kind in ("school", "science_centre")]
    assert len(uplinks) == len(schools) == 21
    assert {k for k, v in uplinks.items() if len(v) == 2} == {"vvg-1-core"}
    behind = [sum(agg in v for v in uplinks.values()) for agg in ("city-agg-1", "city-agg-2")]
    assert behind == [11, 11]  # the dual-homed vvg-1 counted behind both


def test_example_city_uses_only_loopback_addresses() -> None:
    config = load_config(EXAMPLE, PLUGINS, ENV)
    addresses = [getattr(d, "address", None) for _, d in config.devices()]
    assert all(ipaddress.ip_address(a).is_loopback for a in addresses if a is not None)
    # each IPv4 switch on an address of its own (its traps come from there)
    switches = [d.address for _, d in config.devices("switch") if ":" not in d.address]
    assert len(set(switches)) == len(switches) and "127.0.0.1" not in switches


def test_secrets_resolve_to_secretstr_and_never_show() -> None:
    config = load_config(EXAMPLE, PLUGINS, ENV)
    v2c, v3 = config.credentials.snmp["school-v2c"], config.credentials.snmp["school-v3"]
    assert (
        v2c.community is not None
        and v2c.community.get_secret_value() == ENV["EDUMON_SNMP_COMMUNITY"]
    )
    assert v3.auth_password is not None and v3.priv_password is not None
    assert v3.auth_password.get_secret_value() == ENV["EDUMON_SNMP_AUTH"]
    assert v3.secret("priv_password") == v3.priv_password
    assert v2c.auth_password is None and config.influxdb.token is None
    for shown in (repr(config), str(config), config.model_dump_json(), str(config.model_dump())):
        assert NOT_A_SECRET not in shown


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
      - {kind: lorawan_sensor, id: env-1, dev_eui: 0004a30b001c0530}
"""


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[ConfigProblem]:
    path = tmp_path / "edumon.yaml"
    path.write_text(text, encoding="utf-8")
    return check_config(path, PLUGINS, {"C_ENV": NOT_A_SECRET} if env is None else env)


@pytest.mark.parametrize(
    ("change", "line", "field", "message"),
    [
        (("address:", "adress:"), 14, "sites[0].devices[0].adress", "unknown key"),
        (("127.0.0.1", "127.0.0.999"), 14, "sites[0].devices[0].address", "neither"),
        (("127.0.0.1", "'::1'"), None, None, None),
        (("127.0.0.1", "'2001:db8::7'"), None, None, None),
        (("127.0.0.1", "switch-1.school.lan"), None, None, None),
        (("127.0.0.1", "'fe80::1::2'"), 14, "sites[0].devices[0].address", "neither"),
        (("127.0.0.1", "'-bad-.lan'"), 14, "sites[0].devices[0].address", "neither"),
        (("state_dir: /tmp/x", "state_dirr: /tmp/x"), 2, "service.state_dirr", "unknown key"),
        (
            ("credentials: v2", "credentials: v3"),
            15,
            "sites[0].devices[0].credentials",
            "unknown SNMP credentials 'v3' (known: v2)",
        ),
        (
            ("community_env: C_ENV", "community: inline-value"),
            7,
            "credentials.snmp.v2.community",
            "secrets are never inline",
        ),
        (
            ("community_env: C_ENV", "community_env: C_ENV\n      password: inline-value"),
            8,
            "credentials.snmp.v2.password",
            "name an environment variable with password_env",
        ),
        (
            ("community_env: C_ENV", "community_env: 1BAD"),
            7,
            "credentials.snmp.v2.community_env",
            "pattern",
        ),
        (("kind: switch", "kind: router"), 12, "sites[0].devices[0].kind", "does not match"),
        (("id: vsk-1", "id: VSK 1"), 9, "sites[0].id", "should match pattern"),
        (("version: 2c", "version: 3"), 5, "credentials.snmp.v2", "user is required"),
        (("version: 2c", "version: 1"), 6, "credentials.snmp.v2.version", "'2c' or '3'"),
        (
            ("dev_eui: 0004a30b001c0530", "dev_eui: 0004a30b001c053"),
            16,
            "sites[0].devices[1].dev_eui",
            "16 hex digits",
        ),
        (
            ("dev_eui: 0004a30b001c0530", "dev_eui: 0004a30b001c053g"),
            16,
            "sites[0].devices[1].dev_eui",
            "16 hex digits",
        ),
        (
            ("        credentials: v2", "        credentials: v2\n        port: 70000"),
            16,
            "sites[0].devices[0].port",
            "less than or equal to 65535",
        ),
        (
            ("state_dir: /tmp/x", "http_listen: '[::1]:9108'"),
            None,
            None,
            None,
        ),
        (
            ("state_dir: /tmp/x", "http_listen: 127.0.0.1"),
            2,
            "service.http_listen",
            "host:port",
        ),
        (
            ("state_dir: /tmp/x", "http_listen: '127.0.0.1:99999'"),
            2,
            "service.http_listen",
            "host:port",
        ),
        (
            ("    name: School", "    name: School\n    location: {lat: 95, lon: 21.5}"),
            11,
            "sites[0].location.lat",
            "less than or equal to 90",
        ),
    ],
)
def test_problems_name_line_and_field(
    tmp_path: Path,
    change: tuple[str, str],
    line: int | None,
    field: str | None,
    message: str | None,
) -> None:
    found = problems(tmp_path, BASE.replace(*change, 1))
    if line is None:
        assert found == []
        return
    matching = [p for p in found if (p.line, p.field) == (line, field)]
    assert len(matching) == 1, found
    assert message is not None and message in matching[0].message
    # a typo'd key also makes the real key missing: reported at the device's line
    assert all(p in matching or p.message == "Field required" for p in found), found
    assert "inline-value" not in str(found)


def test_typo_and_missing_secret_are_both_reported(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace("address:", "adress:"), env={})
    assert [(p.line, p.field) for p in found] == [
        (7, "credentials.snmp.v2.community_env"),
        (12, "sites[0].devices[0].address"),  # Field required
        (14, "sites[0].devices[0].adress"),  # unknown key
    ]
    assert found[0].message == "environment variable C_ENV is not set"
    assert str(found[0]) == (
        f"{tmp_path / 'edumon.yaml'}:7: credentials.snmp.v2.community_env:"
        " environment variable C_ENV is not set"
    )


def test_empty_environment_variable_is_a_problem(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, BASE, env={"C_ENV": ""})
    assert (problem.line, problem.field) == (7, "credentials.snmp.v2.community_env")
    assert problem.message == "environment variable C_ENV is empty"


def test_load_config_reads_os_environ_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BASE)
    monkeypatch.delenv("C_ENV", raising=False)
    with pytest.raises(ConfigError, match="C_ENV is not set"):
        load_config(path, PLUGINS)
    monkeypatch.setenv("C_ENV", NOT_A_SECRET)
    credential = load_config(path, PLUGINS).credentials.snmp["v2"]
    assert credential.community is not None
    assert credential.community.get_secret_value() == NOT_A_SECRET


V3 = """\
credentials:
  snmp:
    s:
      version: {version}
      user: edumon
      security_level: {level}
{extra}"""
AUTH = "      auth_protocol: sha\n      auth_password_env: A\n"
PRIV = "      priv_protocol: aes\n      priv_password_env: P\n"


@pytest.mark.parametrize(
    ("version", "level", "extra", "message"),
    [
        (3, "authPriv", AUTH + PRIV, None),
        (3, "authPriv", AUTH, "priv_protocol is required for SNMP v3 with authPriv"),
        (3, "authPriv", PRIV, "auth_protocol is required for SNMP v3 with authPriv"),
        (3, "authPriv", AUTH + "      priv_protocol: aes\n", "priv_password_env is required"),
        (3, "authNoPriv", AUTH, None),
        (3, "authNoPriv", "      auth_protocol: sha\n", "auth_password_env is required"),
        (3, "authNoPriv", AUTH + PRIV, "priv_protocol must not be set with authNoPriv"),
        (3, "noAuthNoPriv", "", None),
        (3, "noAuthNoPriv", "      auth_protocol: sha\n", "auth_protocol must not be set"),
        (3, "noAuthNoPriv", "      auth_password_env: A\n", "auth_password_env must not be set"),
        (3, "noAuthNoPriv", "      priv_password_env: P\n", "priv_password_env must not be set"),
        (3, "authPriv", AUTH + PRIV + "      community_env: A\n", "community_env only applies"),
        (
            "2c",
            "authPriv",
            "      community_env: A\n",
            "user, security_level only apply to SNMP v3",
        ),
    ],
)
def test_snmp_v3_security_level_rules(
    tmp_path: Path, version: object, level: str, extra: str, message: str | None
) -> None:
    text = V3.format(version=version, level=level, extra=extra)
    found = problems(tmp_path, text, env={"A": NOT_A_SECRET, "P": NOT_A_SECRET})
    if message is None:
        assert found == []
    else:
        assert [(p.line, p.field) for p in found] == [(3, "credentials.snmp.s")]
        assert message in found[0].message


@pytest.mark.parametrize(
    ("influxdb", "message"),
    [
        ("{api: v1, database: edumon}", None),
        ("{api: v1, username_env: U, password_env: T}", None),
        ("{api: v1, password_env: T}", "password_env needs username_env"),
        ("{api: v1, org: city}", "org only apply to api v2"),
        ("{api: v2, org: city, bucket: edumon, token_env: T}", None),
        ("{api: v2, org: city, bucket: edumon}", "token_env required with api v2"),
        ("{api: v2, token_env: T}", "org, bucket required with api v2"),
        ("{api: v2, org: c, bucket: b, token_env: T, username_env: U}", "apply to api v1"),
        ("{api: v3}", "'v1' or 'v2'"),
        ("{url: 'ftp://x'}", "should match pattern"),
    ],
)
def test_influxdb_api_settings(tmp_path: Path, influxdb: str, message: str | None) -> None:
    found = problems(
        tmp_path, f"\n\ninfluxdb: {influxdb}\n", env={"U": NOT_A_SECRET, "T": NOT_A_SECRET}
    )
    if message is None:
        assert found == []
    else:
        [problem] = found
        assert problem.line == 3 and problem.field.startswith("influxdb"), problem
        assert message in problem.message


def test_influxdb_v2_token_is_resolved(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("influxdb: {api: v2, org: city, bucket: edumon, token_env: T}\n")
    token = load_config(path, PLUGINS, {"T": NOT_A_SECRET}).influxdb.token
    assert token is not None and token.get_secret_value() == NOT_A_SECRET


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("sites:\n  - id: a\n    name: [unclosed\n", 4, "YAML syntax error"),
        ("service:\n  name: a\n  name: b\n", 3, "duplicate key 'name'"),
        ("- just\n- a list\n", 1, "must be a mapping"),
        ("service: {}\n---\nsites: []\n", 2, "expected a single document"),
        ("service:\n  name: !!int abc\n", 2, "not a valid !!int"),
        ("service:\n  name: !vault abc\n", 2, "could not determine a constructor"),
        ("service:\n  name: !!python/name:os.system\n", 2, "could not determine a constructor"),
        ("sites: &s\n  - *s\n", 1, "recursive alias"),
        ("service:\n  name: a\x07\n", 2, "unacceptable character #x0007"),
        ("service:\n\tname: a\n", 2, "YAML syntax error"),
        ("? [a, b]\n: 1\n", 1, "mapping key must be a scalar"),
        ("x: &x {a: 1}\nservice:\n  <<: 3\n", 3, "for merging"),
    ],
)
def test_yaml_level_problems(tmp_path: Path, text: str, line: int, message: str) -> None:
    [problem] = problems(tmp_path, text)
    assert problem.line == line and message in problem.message, problem
    assert problem.field == ""


def test_non_utf8_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"service:\n  name: \xe7\n")
    [problem] = check_config(path, PLUGINS, {})
    assert (problem.line, problem.message) == (2, "not UTF-8 text")
    missing = tmp_path / "nope.yaml"
    [problem] = check_config(missing, PLUGINS, {})
    assert str(problem) == f"{missing}: cannot read: No such file or directory"


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file_is_all_defaults(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    config = load_config(path, PLUGINS, {})
    assert config.service.http_listen == "127.0.0.1:9108" and config.influxdb.api == "v1"
    assert config.alertmanager is None and config.sites == []


def test_merge_keys_may_be_overridden_and_errors_point_into_the_anchor(tmp_path: Path) -> None:
    text = BASE + (
        "  - id: vsk-2\n"  # 17
        "    name: Other\n"  # 18
        "    devices:\n"  # 19
        "      - &sw {kind: switch, id: sw-2, address: 127.0.0.1, credentials: v2, role: core}\n"
        "      - <<: *sw\n"  # 21
        "        id: sw-3\n"  # 22
        "        role: access\n"  # 23
    )
    assert problems(tmp_path, text) == []
    found = problems(tmp_path, text.replace("role: core", "rol: core"))
    assert {(p.line, p.field) for p in found} == {
        (20, "sites[1].devices[0].rol"),
        (20, "sites[1].devices[1].rol"),  # merged from line 20
    }


def test_duplicate_ids_and_dev_euis_are_reported_with_schema_errors(tmp_path: Path) -> None:
    text = BASE.replace("address:", "adress:") + (
        "      - {kind: switch, id: sw-1, address: 127.0.0.1, credentials: v2}\n"  # 17
        "      - {kind: lorawan_sensor, id: env-2, dev_eui: 0004A30B001C0530}\n"  # 18
        "  - {id: vsk-1, name: Again}\n"  # 19
        "  - id: vsk-1\n"  # 20
        "    name: Third\n"
        "    devices: [{kind: access_point, id: sw-1, room: '1'}]\n"  # 22
    )
    found = [(p.line, p.field, p.message) for p in problems(tmp_path, text)]
    assert found == [
        (12, "sites[0].devices[0].address", "Field required"),
        (14, "sites[0].devices[0].adress", "unknown key"),
        (17, "sites[0].devices[2].id", "device id 'sw-1' is already used by sites[0].devices[0]"),
        (
            18,
            "sites[0].devices[3].dev_eui",
            "dev_eui '0004a30b001c0530' is already used by sites[0].devices[1]",
        ),
        (19, "sites[1].id", "site id 'vsk-1' is already used by sites[0]"),
        (20, "sites[2].id", "site id 'vsk-1' is already used by sites[0]"),
        (22, "sites[2].devices[0].id", "device id 'sw-1' is already used by sites[0].devices[0]"),
    ]


def test_load_config_raises_with_all_problems(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BASE.replace("address:", "adress:"))
    with pytest.raises(ConfigError) as error:
        load_config(path, PLUGINS, {})
    assert len(error.value.problems) == 3
    assert str(error.value).splitlines() == [str(p) for p in error.value.problems]


def test_problem_formatting() -> None:
    problem = ConfigProblem(
        "examples/city.yaml", 12, "sites[3].devices[0].adress", "Extra inputs are not permitted"
    )
    assert str(problem) == (
        "examples/city.yaml:12: sites[3].devices[0].adress: Extra inputs are not permitted"
    )
    assert str(ConfigProblem("c.yaml", None, "", "cannot read")) == "c.yaml: cannot read"
    assert str(ConfigProblem("c.yaml", 3, "", "bad")) == "c.yaml:3: bad"


def test_spool_sizes_accept_units(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("spool:\n  max_bytes: 512MiB\n  segment_bytes: 1048576\n")
    config = load_config(path, PLUGINS, {})
    assert (config.spool.max_bytes, config.spool.segment_bytes) == (512 * 2**20, 2**20)
    for text, line, field, message in [
        ("spool:\n  max_bytes: lots\n", 2, "spool.max_bytes", "expected a size"),
        ("spool:\n  max_bytes: 0\n", 2, "spool.max_bytes", "greater than 0"),
        ("spool:\n  max_bytes: 1MiB\n", 1, "spool", "must not exceed max_bytes"),
    ]:
        path.write_text(text)
        [problem] = check_config(path, PLUGINS, {})
        assert (problem.line, problem.field) == (line, field)
        assert message in problem.message


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
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: [x, 'y', 2.5, .inf, ~, yes, no, 0x1f, 0o17, 017, 1_000, 2024-05-01]\n",
        "a: &a {x: 1, y: [1, 2]}\nb: *a\nc:\n  <<: *a\n  x: 2\n",
        "p: &p {a: 1}\nq: &q {a: 2, c: 3}\nx:\n  <<: [*p, *q]\n  d: 4\n",
        "s: !!set {a, b}\no: !!omap [{a: 1}, {b: 2}]\nbin: !!binary aGk=\nstr: !!str 12\n",
        "multi: |\n  line one\n  line two\nfolded: >\n  a\n  b\n",
        "'quoted key': 1\n1: int key\nnull: null key\n",
    ],
)
def test_yaml_values_equal_safe_load(text: str) -> None:
    data, _ = load_with_lines(text)
    assert data == yaml.safe_load(text)


def test_yaml_line_map() -> None:
    text = "a:\n  b:\n    - x\n    - {c: 1,\n       d: 2}\ne: 3\n"
    _, lines = load_with_lines(text)
    assert lines[("a",)] == 1 and lines[("a", "b")] == 2
    assert lines[("a", "b", 0)] == 3 and lines[("a", "b", 1)] == 4
    assert lines[("a", "b", 1, "c")] == 4 and lines[("a", "b", 1, "d")] == 5
    assert lines[("e",)] == 6


def test_yaml_alias_bomb_stays_small() -> None:
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
    )
    data, lines = load_with_lines(text)  # 10**9 leaves if aliases were copied
    assert len(lines) < 200 and data["i"][0] is data["i"][1]


def test_yaml_problem_never_quotes_the_file() -> None:
    with pytest.raises(YamlProblem) as error:
        load_with_lines("community: inline-value\n  bad: indent\n")
    assert "inline-value" not in error.value.message and error.value.line == 2


@pytest.mark.parametrize(
    ("mqtt", "line", "field", "message"),
    [
        ("  host: b\n  password_env: P\n", 3, "mqtt.password_env", "needs username_env"),
        ("  tls: true\n  cert_file: c.pem\n", 1, "mqtt", "cert_file and key_file go together"),
        ("  cert_file: c.pem\n  key_file: k.pem\n", 1, "mqtt", "cert_file needs tls: true"),
        ("  max_packet_size: 1GiB\n", 2, "mqtt.max_packet_size", "less than or equal"),
    ],
)
def test_mqtt_login_and_client_certificate(
    tmp_path: Path, mqtt: str, line: int, field: str, message: str
) -> None:
    """MQTT sends no password without a user name: check-config names the password's line."""
    [problem] = problems(tmp_path, f"mqtt:\n{mqtt}", env={"P": NOT_A_SECRET})
    assert (problem.line, problem.field) == (line, field)
    assert message in problem.message


def test_mqtt_client_certificate_files_are_relative_to_the_config(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("mqtt: {tls: true, cert_file: pki/c.pem, key_file: pki/k.pem}\n")
    mqtt = load_config(path, PLUGINS, {}).mqtt
    assert (mqtt.cert_file, mqtt.key_file) == (tmp_path / "pki/c.pem", tmp_path / "pki/k.pem")
