"""`edumon test` and `edumon snmp profile` against snmpsim, as a user runs them: every
switch's samples printed as line protocol, nothing written to InfluxDB (counted there), and
the profile each switch matches with the reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gateway.devstack.servers import InfluxDB1

if TYPE_CHECKING:  # imported as a plugin below (pytest rewrites its asserts)
    from tests.snmpsim_lab import Agents

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.snmpsim_lab"]  # its fixtures: snmpsim, agents
REPO = Path(__file__).resolve().parents[2]
LIBRARY = REPO / "tests" / "fixtures" / "ecosystem"  # Datadog-format profiles


def write_config(path: Path, agents: Agents, influxdb: InfluxDB1) -> dict[str, str]:
    """One switch per fixture; returns the environment holding their communities."""
    env, credentials, switches = {}, [], []
    for n, community in enumerate(agents.communities):
        env[f"EDUMON_TEST_COMMUNITY_{n}"] = community
        credentials.append(f"    c{n}: {{version: 2c, community_env: EDUMON_TEST_COMMUNITY_{n}}}")
        switches.append(
            f"      - {{kind: switch, id: {community}, address: {agents.server.host},"
            f" port: {agents.server.port}, credentials: c{n}}}"
        )
    path.write_text(
        "\n".join(
            [
                "service: {name: edumon-cli-test}",
                f"snmp: {{profile_dirs: [{{path: '{LIBRARY}', format: datadog}}]}}",
                f"influxdb: {{url: '{influxdb.url}', api: v1, database: edumon}}",
                "credentials:",
                "  snmp:",
                *credentials,
                "sites:",
                "  - id: lab",
                "    name: Lab",
                "    kind: school",
                "    devices:",
                *switches,
            ]
        )
        + "\n"
    )
    return env


def edumon(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def test_edumon_test_prints_every_switch_and_writes_nothing(
    agents: Agents, influxdb: InfluxDB1, tmp_path: Path
) -> None:
    config = tmp_path / "edumon.yaml"
    env = write_config(config, agents, influxdb)
    result = edumon("test", "-c", str(config), env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for community in agents.communities:
        mine = [line for line in lines if f"device={community}" in line]
        assert any(line.startswith("device,") and "up=true" in line for line in mine), community
        assert any(line.startswith("interface,") for line in mine), community
    assert any(line.startswith("optics,") for line in lines)
    assert any(
        line.startswith("snmp_metric,") and "metric=acmePoePortPower" in line for line in lines
    )
    for measurement, field in (("device", "up"), ("interface", "oper_up"), ("optics", "rx_dbm")):
        assert influxdb.count(measurement, field) == 0


def test_edumon_snmp_profile_says_which_and_why(
    agents: Agents, influxdb: InfluxDB1, tmp_path: Path
) -> None:
    config = tmp_path / "edumon.yaml"
    env = write_config(config, agents, influxdb)
    result = edumon("snmp", "profile", "-c", str(config), "--device", "fake-cisco-nxos", env=env)
    assert result.returncode == 0, result.stderr
    assert "profile      cisco-nxos -> cisco-ios -> generic" in result.stdout
    assert "sysDescr matches /NX-OS/" in result.stdout
    acme = edumon("snmp", "profile", "-c", str(config), "--device", "fake-acme-ecosystem", env=env)
    assert acme.returncode == 0, acme.stderr
    assert f"file         {LIBRARY / 'acme' / 'acme-switch-48.yaml'}" in acme.stdout
    assert "sysObjectID 1.3.6.1.4.1.99991.1.48 is under 1.3.6.1.4.1.99991.1.48" in acme.stdout
    assert "then ecosystem (Datadog/Kentik format) and shipped profiles" in acme.stdout
    assert "  cpu_pct                  23" in acme.stdout
    assert "  acmePoePortPower         2 row(s)" in acme.stdout
    unknown = edumon("snmp", "profile", "-c", str(config), "--device", "nope", env=env)
    assert unknown.returncode == 1 and "no switch 'nope'" in unknown.stderr
