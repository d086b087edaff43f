"""`edumon stack up --cluster`: etcd and two peered Alertmanagers beside InfluxDB and
Mosquitto, on stable ports, stopped cleanly."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from gateway.devstack.alertmanager_cluster import PeeredAlertmanager
from gateway.devstack.child_server import http_get
from gateway.devstack.etcd import EtcdServer
from gateway.devstack.stack import LocalStack
from tests.cluster_lab import require
from tests.integration.test_servers import nothing_listens

pytestmark = pytest.mark.integration


def test_the_cluster_stack_has_etcd_and_an_alertmanager_cluster(tmp_path: Path) -> None:
    require(EtcdServer)
    require(PeeredAlertmanager)
    with LocalStack(tmp_path, cluster=True) as stack:
        urls = stack.urls
        assert set(urls) == {"influxdb", "mosquitto", "alertmanager", "alertmanager-2", "etcd"}
        status, body = http_get(urls["etcd"] + "/health")
        assert status == 200 and json.loads(body)["health"] == "true"
        peers = [stack.named["alertmanager"], stack.named["alertmanager-2"]]
        assert all(isinstance(p, PeeredAlertmanager) for p in peers)
        gossiping = [p for p in peers if isinstance(p, PeeredAlertmanager)]
        deadline = time.monotonic() + 15
        while any(p.cluster_peers() < 2 for p in gossiping) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p.cluster_peers() for p in gossiping] == [2, 2]
    assert all(nothing_listens(server.port) for server in stack.servers)
    with LocalStack(tmp_path, cluster=True) as again:
        assert again.urls == urls  # the same ports after a restart
