"""The production docker-compose.yml: `docker-compose config` validates it (no engine needed),
then its resolved form is checked for what production needs."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
import yaml

from dashboards import BUILD_DIR
from dashboards.build import GRAFANA_DASHBOARDS_DIR
from dashboards.gazetteer import GAZETTEER_URL_PATH
from gateway.config import check_config
from gateway.devstack.servers import DEFAULT_ALERTMANAGER_CONFIG
from gateway.plugins import PLUGINS
from tests.deploy.compose import (
    PRODUCTION,
    REPO,
    bind_mounts,
    compose,
    example_environment,
    resolved,
)

SERVICES = {"influxdb", "grafana", "mosquitto", "alertmanager", "edumon"}
CHECK = "secrets-check"  # the one-shot check every service waits for


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, object]]:
    result: dict[str, dict[str, object]] = resolved()["services"]
    return result


def test_config_validates_quietly_with_the_example_environment() -> None:
    result = compose("config", "-q", env=example_environment())
    assert result.returncode == 0 and result.stdout == "", result.stderr


def test_every_secret_is_required_from_the_environment() -> None:
    result = compose("config", "-q", env={})
    assert result.returncode != 0
    assert "set it in .env" in result.stderr
    example = example_environment()
    secrets = [name for name in example if name.endswith(("PASSWORD", "TOKEN", "AUTH", "PRIV"))]
    assert secrets and all(example[name].startswith("change-me") for name in secrets)


def test_services_health_checks_and_volumes(services: dict[str, dict[str, object]]) -> None:
    assert set(services) == SERVICES | {CHECK}
    for name, service in services.items():
        if name == CHECK:
            continue
        healthcheck = service.get("healthcheck")
        assert isinstance(healthcheck, dict) and healthcheck["test"], name
        assert service.get("restart") == "unless-stopped", name
    volumes = resolved()["volumes"]
    assert set(volumes) >= {"influxdb-data", "grafana-data", "mosquitto-data", "edumon-state"}


def test_influxdb_27_is_initialised_with_a_dbrp_mapping(
    services: dict[str, dict[str, object]],
) -> None:
    influxdb = services["influxdb"]
    assert str(influxdb["image"]).startswith("influxdb:2.7")
    env = influxdb["environment"]
    assert isinstance(env, dict) and env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert {"DOCKER_INFLUXDB_INIT_ORG", "DOCKER_INFLUXDB_INIT_BUCKET"} <= set(env)
    script = bind_mounts(influxdb)["/docker-entrypoint-initdb.d/10-edumon.sh"]
    text = script.read_text()
    assert 'influx v1 dbrp create --org "$org" --bucket-id "$bucket_id"' in text
    assert '--db "$INFLUXDB_DATABASE" --rp autogen --default' in text
    assert env["INFLUXDB_DATABASE"] == "edumon"
    syntax = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, check=False
    )
    assert syntax.returncode == 0, syntax.stderr


def test_mosquitto_has_a_password_file_and_an_acl(services: dict[str, dict[str, object]]) -> None:
    mosquitto = services["mosquitto"]
    mounts = bind_mounts(mosquitto)
    conf = mounts["/mosquitto/config/mosquitto.conf"].read_text().splitlines()
    assert "allow_anonymous false" in conf
    assert "password_file /mosquitto/auth/passwd" in conf
    assert "acl_file /mosquitto/config/acl" in conf
    assert mounts["/mosquitto/config/acl"] == PRODUCTION / "mosquitto.acl"
    assert "mosquitto_passwd -b /mosquitto/auth/passwd" in str(mosquitto["command"])


def test_alertmanager_uses_the_shipped_config(services: dict[str, dict[str, object]]) -> None:
    mounts = bind_mounts(services["alertmanager"])
    assert mounts["/etc/alertmanager/alertmanager.yml"] == DEFAULT_ALERTMANAGER_CONFIG
    command = services["alertmanager"]["command"]
    assert (
        isinstance(command, list) and "--config.file=/etc/alertmanager/alertmanager.yml" in command
    )


def test_grafana_is_provisioned_from_dashboards(services: dict[str, dict[str, object]]) -> None:
    mounts = bind_mounts(services["grafana"])
    assert mounts["/etc/grafana/provisioning"] == BUILD_DIR / "provisioning"
    assert mounts[GRAFANA_DASHBOARDS_DIR] == BUILD_DIR / "json"
    gazetteer = mounts[f"/usr/share/grafana/{GAZETTEER_URL_PATH}"]
    assert gazetteer.is_file() and gazetteer.parent == BUILD_DIR / "gazetteer"
    env = services["grafana"]["environment"]
    assert isinstance(env, dict) and env["INFLUXDB_URL"] == "http://influxdb:8086"
    assert {"INFLUXDB_DATABASE", "INFLUXDB_GRAFANA_USER", "INFLUXDB_GRAFANA_PASSWORD"} <= set(env)


def test_edumon_is_built_here_and_its_config_is_valid(
    services: dict[str, dict[str, object]],
) -> None:
    edumon = services["edumon"]
    build = edumon["build"]
    assert isinstance(build, dict) and build["context"] == str(REPO)
    dockerfile = (REPO / "Dockerfile").read_text().splitlines()
    copied = [
        line.split()[1:-1]
        for line in dockerfile
        if line.startswith("COPY ") and "--from=" not in line  # a build stage's output
    ]
    assert all((REPO / source).exists() for sources in copied for source in sources)
    sources = {s for c in copied for s in c}
    assert {"gateway", "collectors", "dashboards", "pyproject.toml"} <= sources
    assert "simulators" not in sources and "tests" not in sources
    assert 'ENTRYPOINT ["edumon"]' in dockerfile
    assert "USER edumon" in dockerfile  # never root
    depends = edumon["depends_on"]
    assert isinstance(depends, dict)
    assert {name: d["condition"] for name, d in depends.items()} == {
        **dict.fromkeys(("influxdb", "mosquitto", "alertmanager"), "service_healthy"),
        CHECK: "service_completed_successfully",
    }
    config = bind_mounts(edumon)["/etc/edumon/edumon.yaml"]
    env = edumon["environment"]
    assert isinstance(env, dict)
    assert check_config(config, PLUGINS, {str(k): str(v) for k, v in env.items()}) == []


def run_secrets_check(
    service: dict[str, Any], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The check's script, as its container runs it (compose's `$$` is a `$`), by this sh."""
    command = [part.replace("$$", "$") for part in service["command"]]
    assert command[:2] == ["sh", "-c"]
    return subprocess.run(
        ["sh", "-c", command[2]],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


@pytest.mark.parametrize("files", [(), ("-f", str(REPO / "docker-compose.cluster.yml"))])
def test_nothing_starts_while_a_secret_is_change_me(files: tuple[str, ...]) -> None:
    result = compose(*files, "config", env=example_environment())
    assert result.returncode == 0, result.stderr
    services: dict[str, Any] = yaml.safe_load(result.stdout)["services"]
    for name, service in services.items():
        if name != CHECK:
            assert service["depends_on"][CHECK] == {
                "condition": "service_completed_successfully"
            }, name
    check = services[CHECK]
    example = example_environment()
    placeholders = sorted(name for name, value in example.items() if "change-me" in value)
    assert placeholders and set(placeholders) <= set(check["environment"])

    refused = run_secrets_check(check, check["environment"])
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"edumon: not starting: replace the change-me value in .env of: {' '.join(placeholders)}"
    )
    one_left = {name: f"a-real-{name.lower()}" for name in check["environment"]}
    one_left["EDUMON_HTTP_TOKEN"] = "change-me"
    assert "EDUMON_HTTP_TOKEN" in run_secrets_check(check, one_left).stderr
    del one_left["EDUMON_HTTP_TOKEN"]
    assert run_secrets_check(check, one_left).returncode == 0
