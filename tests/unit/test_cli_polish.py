"""First-run polish of the `edumon` command line: help for every option, --version, JSON
logs, and a port in use as one clear line with exit code 2 (also for the demo, which never
moves to other ports)."""

from __future__ import annotations

import argparse
import json
import logging
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.cli import build_parser, main
from gateway.cli_common import JsonFormatter
from gateway.config import load_config
from gateway.devstack.demo import DEMO_SECRET_VARIABLES, busy_ports, how_to_reach
from gateway.devstack.stack import LocalStack
from gateway.plugins import PLUGINS
from tests.dashboards.simulated_city import EXAMPLE_CITY
from tests.processes import REPO


def options(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from options(child, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            yield path, action


def test_every_option_of_every_command_has_help() -> None:
    missing = [
        f"{path} {a.option_strings or a.dest}"
        for path, a in options(build_parser(), "edumon")
        if not a.help
    ]
    assert not missing


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0 and capsys.readouterr().out.startswith("edumon 0.")


def test_json_log_lines() -> None:
    record = logging.LogRecord("edumon.x", logging.WARNING, __file__, 1, "port %d", (9108,), None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "warning" and entry["message"] == "port 9108"
    assert entry["logger"] == "edumon.x" and entry["time"].endswith("+00:00")


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_run_with_its_port_taken_says_so_in_one_line(tmp_path: Path, taken_port: int) -> None:
    config = tmp_path / "edumon.yaml"
    config.write_text(
        f"service: {{http_listen: '127.0.0.1:{taken_port}', state_dir: '{tmp_path / 'state'}'}}\n"
        "influxdb: {url: 'http://127.0.0.1:9', database: edumon}\nsites: []\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "run", "-c", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert f"port {taken_port}" in line and "HTTP server" in line and "Traceback" not in line


def test_the_demo_names_a_taken_port_instead_of_moving(tmp_path: Path, taken_port: int) -> None:
    secrets = dict.fromkeys(DEMO_SECRET_VARIABLES, "demo-secret")
    config = load_config(EXAMPLE_CITY, PLUGINS, secrets)
    stack = LocalStack(tmp_path, ports={"influxdb": taken_port}, port_fallback=False)
    busy = busy_ports(config, stack)
    assert any(f"port {taken_port}" in line and "influxdb" in line for line in busy)
    assert stack.influxdb.port == taken_port  # not moved


def test_the_demo_says_how_to_reach_each_part(tmp_path: Path) -> None:
    config = load_config(EXAMPLE_CITY, PLUGINS, dict.fromkeys(DEMO_SECRET_VARIABLES, "s3cret"))
    text = "\n".join(how_to_reach(config, LocalStack(tmp_path), "the-community"))
    for part in ("edumon status --url http://", "/metrics", "amtool alert query", "influx -host"):
        assert part in text
    assert "SELECT last(up) FROM device GROUP BY device'" in text
    assert "snmpwalk -v2c -c the-community 127.0.0.101:16101 1.3.6.1.2.1.1" in text
