"""What docker-compose.yml and every Mosquitto config edumon ships or starts must hold so that
nothing acknowledged is lost and no plaintext MQTT leaves the host."""

from __future__ import annotations

import contextlib
from pathlib import Path

from gateway.devstack.servers import Mosquitto, ServerError
from tests.deploy.compose import PRODUCTION, resolved


def test_mosquitto_publishes_only_tls_and_keeps_its_persistence_on_a_volume() -> None:
    mosquitto = resolved()["services"]["mosquitto"]
    assert [port["target"] for port in mosquitto["ports"]] == [8883]
    assert "mosquitto-data:/mosquitto/data:rw" in mosquitto["volumes"]  # a named volume


def test_edumon_gets_more_than_its_10_s_to_stop() -> None:
    edumon = resolved()["services"]["edumon"]
    assert float(edumon["stop_grace_period"].rstrip("s")) >= 15


def test_every_mosquitto_config_saves_what_it_acknowledged(tmp_path: Path) -> None:
    with contextlib.suppress(ServerError):  # without the binary: the config is written first
        Mosquitto(tmp_path).command()  # the stack's, the tests' and the demo's broker
    for config in (PRODUCTION / "mosquitto.conf", tmp_path / "mosquitto.conf"):
        lines = config.read_text().splitlines()
        assert "persistence true" in lines and "autosave_interval 1" in lines, config
