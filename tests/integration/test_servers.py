"""The child-process servers really serve: a round trip through each, restart keeps data,
ports are released, collisions move, and `edumon stack up` stops cleanly on a signal."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.devstack.servers import (
    Alertmanager,
    ChildServer,
    InfluxDB1,
    Mosquitto,
    PortCollision,
    ServerError,
    VictoriaMetrics,
    http_get,
    port_is_free,
)
from gateway.devstack.stack import LocalStack
from tests.unavailable import require, unavailable

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def post(url: str, body: bytes, content_type: str = "text/plain") -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status)


def wait_until(condition: Callable[[], bool], timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    """A port somebody else holds."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


# -- InfluxDB


def test_influxdb_round_trip_and_restart_keeps_data(influxdb: InfluxDB1) -> None:
    assert post(f"{influxdb.url}/write?db=edumon", b"srv,site=a v=1 1\nsrv,site=b v=2 2\n") == 204
    assert influxdb.count("srv", "v") == 2
    port = influxdb.port
    influxdb.restart()
    assert influxdb.port == port
    assert influxdb.count("srv", "v") == 2


def test_influxdb_kill_9_keeps_acknowledged_writes(influxdb: InfluxDB1) -> None:
    influxdb.write("crash,site=a v=1 1\ncrash,site=a v=2 2\n")
    port = influxdb.port
    influxdb.kill()
    assert not influxdb.running
    influxdb.start()
    assert influxdb.port == port
    assert influxdb.count("crash", "v") == 2  # the WAL was fsynced before the 204


def test_influxdb_query_errors_raise(influxdb: InfluxDB1) -> None:
    with pytest.raises(ServerError, match="not_a_db"):
        influxdb.query("SELECT * FROM x", db="not_a_db")


def test_influxdb_with_auth_refuses_anonymous_queries(tmp_path: Path) -> None:
    with InfluxDB1(tmp_path, auth_enabled=True) as server:
        server.create_database("edumon")
        server.write("authed v=1 1")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.url}/query?q=SHOW+DATABASES", timeout=5)
        assert refused.value.code == 401
        server.restart()  # the admin exists now; creating it again is a no-op
        assert server.count("authed", "v") == 1


# -- VictoriaMetrics


def test_victoria_metrics_round_trip(victoria_metrics: VictoriaMetrics) -> None:
    now_ns = time.time_ns()
    assert post(f"{victoria_metrics.url}/write", f"srv,site=a v=1.5 {now_ns}\n".encode()) == 204
    [series] = victoria_metrics.export('{__name__="srv_v"}')
    assert series["values"] == [1.5]
    assert series["metric"]["site"] == "a"
    [latest] = victoria_metrics.query('srv_v{site="a"}')
    assert float(latest["value"][1]) == 1.5


# -- Mosquitto


def mqtt_packet(kind: int, body: bytes) -> bytes:
    assert len(body) < 128
    return bytes([kind, len(body)]) + body


def mqtt_string(text: str) -> bytes:
    return len(text).to_bytes(2, "big") + text.encode()


def raw_mqtt_client(port: int, client_id: str, host: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection((host, port), timeout=5)
    sock.sendall(
        mqtt_packet(0x10, mqtt_string("MQTT") + b"\x04\x02\x00\x3c" + mqtt_string(client_id))
    )
    assert sock.recv(4) == b"\x20\x02\x00\x00"
    return sock


def cli_pub_sub(port: int, topic: str, message: str, host: str) -> str:
    """One QoS 1 message through the broker with the Debian reference clients."""
    if not (shutil.which("mosquitto_sub") and shutil.which("mosquitto_pub")):
        reason = "mosquitto_pub/mosquitto_sub not installed (apt install mosquitto-clients)"
        unavailable(reason)
    broker = ["-h", host, "-p", str(port), "-t", topic]
    process = subprocess.Popen(
        ["mosquitto_sub", *broker, "-C", "1", "-W", "10", "-q", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.3)  # the CLI has no "subscribed" signal
    subprocess.run(["mosquitto_pub", *broker, "-m", message, "-q", "1"], check=True)
    out, _ = process.communicate(timeout=10)
    return out.strip()


def raw_pub_sub(port: int, topic: str, message: str, host: str) -> str:
    """One QoS 0 message through the broker with hand-made MQTT 3.1.1 packets."""
    with raw_mqtt_client(port, "sub", host) as sub, raw_mqtt_client(port, "pub", host) as pub:
        sub.sendall(mqtt_packet(0x82, b"\x00\x01" + mqtt_string(topic) + b"\x00"))
        assert sub.recv(5) == b"\x90\x03\x00\x01\x00"  # SUBACK, QoS 0 granted
        pub.sendall(mqtt_packet(0x30, mqtt_string(topic) + message.encode()))
        packet = sub.recv(256)
    assert packet[0] == 0x30
    return packet[2 + 2 + len(topic) :].decode()


@pytest.mark.parametrize("pub_sub", [cli_pub_sub, raw_pub_sub])
def test_mosquitto_publish_subscribe(
    mosquitto: Mosquitto, pub_sub: Callable[[int, str, str, str], str]
) -> None:
    assert pub_sub(mosquitto.port, "edumon/test", "hello", "127.0.0.1") == "hello"


def test_mosquitto_ipv6_listener_and_retained_message_survive_restart(tmp_path: Path) -> None:
    with Mosquitto(tmp_path, ipv6=True) as broker:
        assert raw_pub_sub(broker.port, "edumon/v6", "over ::1", "::1") == "over ::1"
        with raw_mqtt_client(broker.port, "retainer") as pub:
            pub.sendall(mqtt_packet(0x31, mqtt_string("edumon/kept") + b"kept"))  # retain
            pub.sendall(b"\xe0\x00")
        time.sleep(0.2)
        broker.restart()
        assert (tmp_path / "mosquitto.db").exists()
        with raw_mqtt_client(broker.port, "reader", "::1") as sub:
            sub.sendall(mqtt_packet(0x82, b"\x00\x01" + mqtt_string("edumon/kept") + b"\x00"))
            assert sub.recv(5)[0] == 0x90
            packet = sub.recv(256)
        assert packet.endswith(b"kept") and packet[0] & 0x01  # retained flag


# -- Alertmanager


def test_alertmanager_accepts_and_lists_an_alert(alertmanager: Alertmanager) -> None:
    now = datetime.now(UTC)
    alert = {
        "labels": {"alertname": "ServerTest", "site": "vsk-1"},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=5)).isoformat(),
    }
    body = json.dumps([alert]).encode()
    assert post(f"{alertmanager.url}/api/v2/alerts", body, "application/json") == 200
    names = [a["labels"]["alertname"] for a in alertmanager.alerts()]
    assert "ServerTest" in names


def test_alertmanager_runs_without_cluster_gossip(alertmanager: Alertmanager) -> None:
    status, body = http_get(f"{alertmanager.url}/api/v2/status")
    assert status == 200
    assert json.loads(body)["cluster"]["status"] == "disabled"


def test_a_bad_config_fails_start_with_the_log_tail(tmp_path: Path) -> None:
    config = tmp_path / "bad.yml"
    config.write_text("route: [this is not a route]\n")
    server = Alertmanager(tmp_path / "am", config_file=config)
    with pytest.raises(
        ServerError, match=r"(?is)exited with \d+.*loading configuration file failed"
    ):
        server.start()
    assert not server.running


# -- lifecycle, ports, binaries


@pytest.mark.parametrize("server_class", [InfluxDB1, VictoriaMetrics, Mosquitto, Alertmanager])
def test_stop_releases_the_port_and_is_idempotent(
    server_class: type[ChildServer], tmp_path: Path
) -> None:
    require(server_class)
    server = server_class(tmp_path)
    with server:
        assert server.running
        assert not port_is_free(server.port)
        assert server.log_path.parent == server.data_dir
    assert not server.running
    assert nothing_listens(server.port)
    server.stop()
    server.kill()


def test_a_taken_fixed_port_is_an_error_with_the_log(
    tmp_path: Path, listening_socket: socket.socket
) -> None:
    taken = listening_socket.getsockname()[1]
    with pytest.raises(PortCollision, match="address already in use"):
        InfluxDB1(tmp_path, port=taken).start()


def test_a_port_taken_between_choice_and_bind_moves_to_a_free_one(
    tmp_path: Path, listening_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = listening_socket.getsockname()[1]
    server = Mosquitto(tmp_path, port=taken, port_fallback=True)
    monkeypatch.setattr(server, "ports_free", lambda: True)  # lose the race on purpose
    with server:
        assert server.port != taken
        moved = server.port
        server.restart()
        assert server.port == moved  # pinned after the first start


def test_missing_binary_has_a_reason_and_start_says_it(tmp_path: Path) -> None:
    class Nowhere(InfluxDB1):
        binary_names = ("edumon-no-such-server", "/nonexistent/edumon-no-such-server")
        apt_package = "edumon-nothing"

    assert Nowhere.binary_missing_reason() == (
        "edumon-no-such-server not installed (apt install edumon-nothing)"
    )
    assert InfluxDB1.binary_missing_reason() is None
    with pytest.raises(ServerError, match="not installed"):
        Nowhere(tmp_path).start()


# -- the local stack


def test_local_stack_keeps_its_ports_and_data_across_restarts(tmp_path: Path) -> None:
    with LocalStack(tmp_path) as stack:
        urls = stack.urls
        stack.influxdb.write("kept v=1 1")
        with pytest.raises(ServerError, match="another stack"):
            LocalStack(tmp_path).start()
    assert all(nothing_listens(server.port) for server in stack.servers)
    with LocalStack(tmp_path) as again:
        assert again.urls == urls
        assert again.influxdb.count("kept", "v") == 1


def start_stack_up(state_dir: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "stack", "up", "--state-dir", str(state_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("stack up"):
            break
    names = ("influxdb", "mosquitto", "alertmanager")
    urls = {line.split()[0]: line.split()[1] for line in lines if line.split()[0] in names}
    assert set(urls) == set(names), lines
    assert all(f"data: {state_dir.resolve()}" in line for line in lines[:3]), lines
    return process, urls


def nothing_listens(port: int) -> bool:
    """A stopped server let go of its port: a connection to it is refused. (Binding it is not
    the test: another test's client, in a parallel run, may have been given that port as its
    source port since, and then no bind succeeds.)"""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    except OSError:  # reset or timed out: a server still dying; asked again
        return False
    return False


def url_port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stack_up_prints_urls_and_stops_cleanly_on_a_signal(tmp_path: Path, signum: int) -> None:
    process, urls = start_stack_up(tmp_path)
    try:
        assert http_get(urls["influxdb"] + "/ping")[0] == 204
        assert http_get(urls["alertmanager"] + "/-/ready")[0] == 200
        started = time.monotonic()
        process.send_signal(signum)
        assert process.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
        assert all(nothing_listens(url_port(url)) for url in urls.values())
    finally:
        process.kill()
        process.wait()


def test_servers_die_with_a_killed_parent(tmp_path: Path) -> None:
    process, urls = start_stack_up(tmp_path)
    process.kill()  # no handler runs: the servers must notice on their own
    process.wait()
    ports = [url_port(url) for url in urls.values()]
    assert wait_until(lambda: all(nothing_listens(port) for port in ports), timeout_s=15)
