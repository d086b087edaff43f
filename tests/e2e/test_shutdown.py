"""SIGTERM in the hardest state: the database down and a backlog in the spool. The process is
gone in under 10 s (Docker's default grace period), measured at process exit, and after the
next start with the database back every acknowledged point is stored."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from gateway.devstack.servers import InfluxDB1, free_port
from tests.processes import REPO

pytestmark = pytest.mark.integration
POINTS = 30_000
LOAD = REPO / "tests" / "integration" / "load_service.py"


def load_service(config: Path, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(LOAD), str(config), str(count)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def spool_points(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            body = response.read()
    except OSError as error:  # 503 while the database is down, or not yet listening
        body = getattr(error, "read", lambda: b"")()
        if not body:
            return None
    return int(json.loads(body)["components"]["writer"]["spool_points"])


def test_sigterm_with_the_database_down_exits_within_10s_and_loses_nothing(
    tmp_path: Path,
) -> None:
    port = free_port()
    with InfluxDB1(tmp_path / "influxdb") as influxdb:
        influxdb.create_database("edumon")
        config = tmp_path / "edumon.yaml"
        config.write_text(
            f"service: {{state_dir: {tmp_path / 'state'}, http_listen: '127.0.0.1:{port}'}}\n"
            f"influxdb: {{url: {influxdb.url}, flush_interval_s: 0.2, max_retry_delay_s: 1}}\n"
        )
        influxdb.stop()
        service = load_service(config, POINTS)
        assert service.stdout is not None
        for line in service.stdout:  # every point durable in the spool
            if line.strip() == f"acked {POINTS}":
                break
        time.sleep(1.0)  # the writer is retrying against the dead database
        sent = time.monotonic()
        service.send_signal(signal.SIGTERM)
        code = service.wait(timeout=30)
        exited_after = time.monotonic() - sent
        service.communicate()
        influxdb.start()
        restarted = load_service(config, 0)
        try:
            deadline = time.monotonic() + 60
            while spool_points(port) != 0 and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            restarted.send_signal(signal.SIGTERM)
            restarted.communicate(timeout=15)
        stored = influxdb.query('SELECT count("id") FROM "load"')
    print(f"process exit {exited_after:.2f} s after SIGTERM")
    assert code == 0
    assert exited_after < 10.0, f"process exit {exited_after:.1f} s after SIGTERM"
    assert stored["results"][0]["series"][0]["values"][0][1] == POINTS
