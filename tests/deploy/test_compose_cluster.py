"""docker-compose.cluster.yml over docker-compose.yml: a second edumon and Alertmanager peer
and etcd, resolved by `docker-compose config` and checked for what a cluster needs."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from gateway.config import load_config
from gateway.plugins import PLUGINS
from tests.deploy.compose import PRODUCTION, bind_mounts, compose, example_environment
from tests.processes import REPO

CLUSTER_FILE = REPO / "docker-compose.cluster.yml"


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    result = compose("-f", str(CLUSTER_FILE), "config", env=example_environment())
    assert result.returncode == 0, result.stderr
    resolved: dict[str, dict[str, Any]] = yaml.safe_load(result.stdout)["services"]
    return resolved


def test_two_edumons_two_peered_alertmanagers_and_etcd(services: dict[str, Any]) -> None:
    assert {"edumon", "edumon-2", "alertmanager", "alertmanager-2", "etcd"} <= set(services)
    assert services["alertmanager"]["command"][-1] == "--cluster.peer=alertmanager-2:9094"
    assert services["alertmanager-2"]["command"][-1] == "--cluster.peer=alertmanager:9094"
    assert services["edumon"]["hostname"] != services["edumon-2"]["hostname"]
    for name in ("edumon", "edumon-2"):
        assert {"etcd", "alertmanager-2"} <= set(services[name]["depends_on"]), name
    assert all("healthcheck" in s for name, s in services.items() if name != "secrets-check")


def test_both_instances_run_the_cluster_config(services: dict[str, Any]) -> None:
    for name in ("edumon", "edumon-2"):
        path = bind_mounts(services[name])["/etc/edumon/edumon.yaml"]
        assert path == PRODUCTION / "edumon-cluster.yaml"
        env = {str(k): str(v) for k, v in services[name]["environment"].items()}
        config = load_config(path, PLUGINS, env)
        assert config.cluster is not None and config.cluster.member is None  # the host name
        assert config.cluster.etcd_endpoints == ["http://etcd:2379"]
        assert config.alertmanager is not None
        hosts = {url.split("//")[1].split(":")[0] for url in config.alertmanager.all_urls}
        assert hosts == {"alertmanager", "alertmanager-2"}
        assert config.mqtt.protocol == "5" and config.mqtt.shared_group
