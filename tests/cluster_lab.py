"""Fixtures of the several-instance tests: real etcd and a real two-peer Alertmanager cluster.
Import them into a test module (`from tests.cluster_lab import etcd`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.devstack.alertmanager_cluster import AlertmanagerCluster, PeeredAlertmanager
from gateway.devstack.etcd import EtcdServer
from tests.pager import Pager
from tests.unavailable import require


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    require(EtcdServer)
    with EtcdServer(tmp_path_factory.mktemp("etcd")) as server:
        yield server


@pytest.fixture(scope="module")
def alertmanager_cluster(
    tmp_path_factory: pytest.TempPathFactory, pager: Pager
) -> Iterator[AlertmanagerCluster]:
    """Two peered Alertmanagers with the shipped routes, their receivers pointed at `pager`."""
    require(PeeredAlertmanager)
    data_dir = tmp_path_factory.mktemp("alertmanager-cluster")
    with AlertmanagerCluster(data_dir, peer_timeout_s=2, webhook_url=pager.url) as cluster:
        yield cluster
