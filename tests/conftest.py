"""Real servers for tests: module-scoped, free loopback ports, temp dirs.

Outside CI a missing binary skips with the reason; with CI set it fails, so CI never skips.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TypeVar

import hypothesis
import pytest

from gateway.devstack.servers import (
    Alertmanager,
    ChildServer,
    InfluxDB1,
    Mosquitto,
    VictoriaMetrics,
)
from tests.pager import Pager
from tests.unavailable import require

S = TypeVar("S", bound=ChildServer)
# hypothesis is imported up front: its pytest plugin otherwise imports it lazily at the end of
# the session, and on CPython 3.11.7 that late ast.parse can fail with "AST constructor
# recursion depth mismatch" after tests that ran threads.

# CI machines are shared and loaded: no per-example deadline and no too-slow health check
# there (speed targets live in bench/); HYPOTHESIS_PROFILE=ci selects it elsewhere too.
hypothesis.settings.register_profile(
    "ci", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)


def _serve(server_class: type[S], tmp_path_factory: pytest.TempPathFactory) -> Iterator[S]:
    require(server_class)
    with server_class(tmp_path_factory.mktemp(server_class.name)) as server:
        yield server


@pytest.fixture(scope="module")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB1]:
    for server in _serve(InfluxDB1, tmp_path_factory):
        server.create_database("edumon")
        yield server


@pytest.fixture(scope="module")
def victoria_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    yield from _serve(VictoriaMetrics, tmp_path_factory)


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    yield from _serve(Mosquitto, tmp_path_factory)


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alertmanager]:
    yield from _serve(Alertmanager, tmp_path_factory)


@pytest.fixture(scope="module")
def pager() -> Iterator[Pager]:
    with Pager() as recorder:
        yield recorder


@pytest.fixture(scope="module")
def paging_alertmanager(
    tmp_path_factory: pytest.TempPathFactory, pager: Pager
) -> Iterator[Alertmanager]:
    """The shipped alertmanager.yml (routes, grouping, inhibition), its receivers pointed at
    `pager`, paging at any hour (tests/deploy/test_alertmanager_mail.py tests the hours)."""
    require(Alertmanager)
    data_dir = tmp_path_factory.mktemp("alertmanager")
    with Alertmanager(data_dir, webhook_url=pager.url, always_active=True) as server:
        yield server
