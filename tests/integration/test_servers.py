"""The child-process servers really serve: a round trip through each, restart keeps data."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from gateway.servers import Alertmanager, InfluxDB1, Mosquitto, VictoriaMetrics, port_is_free

pytestmark = pytest.mark.integration


def post(url: str, body: bytes, content_type: str = "text/plain") -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status)


def test_influxdb_round_trip_and_restart_keeps_data(influxdb: InfluxDB1) -> None:
    assert post(f"{influxdb.url}/write?db=edumon", b"srv,site=a v=1 1\nsrv,site=b v=2 2\n") == 204
    assert influxdb.count("srv", "v") == 2
    port = influxdb.port
    influxdb.restart()
    assert influxdb.port == port
    assert influxdb.count("srv", "v") == 2


def test_victoria_metrics_round_trip(victoria_metrics: VictoriaMetrics) -> None:
    assert post(f"{victoria_metrics.url}/write", b"srv,site=a v=1.5 1700000000000000000\n") == 204
    [series] = victoria_metrics.export('{__name__="srv_v"}')
    assert series["values"] == [1.5]
    assert series["metric"]["site"] == "a"


def test_mosquitto_publish_subscribe(mosquitto: Mosquitto) -> None:
    broker = ["-h", "127.0.0.1", "-p", str(mosquitto.port), "-t", "edumon/test"]
    sub = subprocess.Popen(
        ["mosquitto_sub", *broker, "-C", "1", "-W", "10"], stdout=subprocess.PIPE, text=True
    )
    time.sleep(0.3)
    subprocess.run(["mosquitto_pub", *broker, "-m", "hello", "-q", "1"], check=True)
    out, _ = sub.communicate(timeout=10)
    assert out.strip() == "hello"


def test_alertmanager_accepts_and_lists_an_alert(alertmanager: Alertmanager) -> None:
    now = datetime.now(UTC)
    alert = [
        {
            "labels": {"alertname": "ServerTest", "site": "vsk-1"},
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=5)).isoformat(),
        }
    ]
    assert (
        post(f"{alertmanager.url}/api/v2/alerts", json.dumps(alert).encode(), "application/json")
        == 200
    )
    names = [a["labels"]["alertname"] for a in alertmanager.alerts()]
    assert "ServerTest" in names


def test_stop_releases_the_port(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = InfluxDB1(tmp_path)
    with server:
        assert not port_is_free(server.port)
    assert not server.running
    assert port_is_free(server.port)


def test_stack_up_prints_urls_and_stops_cleanly_on_sigterm(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import signal
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "stack", "up", "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "stack up" in line:
            break
    names = ("influxdb", "mosquitto", "alertmanager")
    urls = {line.split()[0]: line.split()[1] for line in lines if line.split()[0] in names}
    assert set(urls) == set(names), lines
    assert urllib.request.urlopen(urls["influxdb"] + "/ping", timeout=2).status == 204
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert time.monotonic() - started < 10
    for url in urls.values():
        assert port_is_free(int(url.rsplit(":", 1)[1]))
