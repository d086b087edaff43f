"""Real servers for tests: module-scoped, free loopback ports, temp dirs.

Outside CI a missing binary skips with the reason; with CI set it fails, so CI never skips.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from gateway.servers import Alertmanager, ChildServer, InfluxDB1, Mosquitto, VictoriaMetrics


def _require(server_class: type[ChildServer]) -> None:
    reason = server_class.binary_missing_reason()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must install it (see .ci/setup)")
    pytest.skip(reason)


def _serve(
    server_class: type[ChildServer], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChildServer]:
    _require(server_class)
    server = server_class(tmp_path_factory.mktemp(server_class.name))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB1]:
    for server in _serve(InfluxDB1, tmp_path_factory):
        assert isinstance(server, InfluxDB1)
        server.create_database("edumon")
        yield server


@pytest.fixture(scope="module")
def victoria_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    for server in _serve(VictoriaMetrics, tmp_path_factory):
        assert isinstance(server, VictoriaMetrics)
        yield server


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    for server in _serve(Mosquitto, tmp_path_factory):
        assert isinstance(server, Mosquitto)
        yield server


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alertmanager]:
    for server in _serve(Alertmanager, tmp_path_factory):
        assert isinstance(server, Alertmanager)
        yield server
