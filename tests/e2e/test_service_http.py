"""`edumon run` as a user starts it (the inventory one probe of its own HTTP port): /healthz
per component, /metrics in Prometheus format, degraded (not dead) while the database is down,
and SIGTERM exits cleanly."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from gateway.devstack.servers import InfluxDB1, free_port
from tests.processes import start_edumon

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for(predicate: Any, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_health_and_metrics_follow_the_database(influxdb: InfluxDB1, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "edumon.yaml"
    config.write_text(
        f"service: {{state_dir: {tmp_path / 'state'}}}\n"
        f"influxdb: {{url: {influxdb.url}, flush_interval_s: 0.2, max_retry_delay_s: 0.5}}\n"
        # one probe of its own HTTP port every second: something to write at once when the
        # database goes away (edumon's own metrics come every 10 s)
        "probes: {interval_s: 1}\n"
        "sites: [{id: here, name: Here, devices: [{kind: probe_target, id: own-http, "
        f"address: 127.0.0.1, methods: [tcp], tcp_port: {port}}}]}}]\n"
    )
    base = f"http://127.0.0.1:{port}"
    service = start_edumon(config, port)
    try:
        wait_for(lambda: get(f"{base}/healthz")[0] == 200)
        status, body = get(f"{base}/healthz")
        report = json.loads(body)
        assert report["status"] == "ok"
        assert set(report["components"]) >= {"writer", "pipeline"}
        status, metrics = get(f"{base}/metrics")
        for name in (
            "edumon_samples_in_total",
            "edumon_samples_written_total",
            "edumon_spool_bytes",
            "edumon_write_latency_seconds_bucket",
            "edumon_dead_letters_total",
            "edumon_pipeline_queue_samples",
        ):
            assert name in metrics, name

        influxdb.stop()
        try:
            # the next probe's sample cannot be delivered now
            wait_for(
                lambda: (
                    json.loads(get(f"{base}/healthz")[1])["components"]["writer"]["status"]
                    == "degraded"
                ),
                30,
            )
            status, body = get(f"{base}/healthz")
            assert status == 200  # degraded is still serving
            assert json.loads(body)["components"]["writer"]["spool_points"] > 0
        finally:
            influxdb.start()
        wait_for(
            lambda: (
                json.loads(get(f"{base}/healthz")[1])["components"]["writer"]["spool_points"] == 0
            ),
            30,
        )
        assert json.loads(get(f"{base}/healthz")[1])["components"]["writer"]["status"] == "ok"
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=15) == 0
    _, stderr = service.communicate()
    assert "unavailable" in stderr and "writing again" in stderr  # logged once each way
    assert stderr.count("unavailable") == 1
