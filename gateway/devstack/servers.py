"""Real servers as child processes on loopback: InfluxDB 1.x, VictoriaMetrics, Mosquitto,
Alertmanager. Used by `edumon stack up`, the demo, the tests and the benchmarks.

Each server writes its own config into its data directory, binds 127.0.0.1 (never all
interfaces) on a free or preferred port, logs to a file there, and counts as started only
when a real probe answers. Lifecycle (start/stop/kill/restart, ports) is in
`gateway.devstack.child_server`; this module says how to configure, probe and talk to each one.
"""

from __future__ import annotations

import base64
import json
import math
import os
import pwd
import secrets
import socket
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from gateway.devstack.child_server import (
    ChildServer,
    PortCollision,
    ServerError,
    StartStop,
    free_port,
    http_get,
    http_request,
    port_is_free,
)

__all__ = [
    "Alertmanager",
    "ChildServer",
    "InfluxDB1",
    "Mosquitto",
    "PortCollision",
    "ServerError",
    "StartStop",
    "VictoriaMetrics",
    "free_port",
    "http_get",
    "http_request",
    "port_is_free",
]

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_ALERTMANAGER_CONFIG = PACKAGE_DIR / "deploy" / "alertmanager.yml"


class InfluxDB1(ChildServer):
    """InfluxDB 1.x (Debian `influxdb`): reporting and self-monitoring off, loopback only.

    With `auth_enabled` the first start creates the admin user (`username`/`password`; the
    password is random unless given) and every helper authenticates as it.
    """

    name = "influxdb"
    binary_names = ("influxd", "/usr/bin/influxd")
    apt_package = "influxdb"

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        port_fallback: bool = False,
        auth_enabled: bool = False,
        username: str = "admin",
        password: str | None = None,
    ) -> None:
        super().__init__(data_dir, port=port, host=host, port_fallback=port_fallback)
        self.rpc_port = free_port()  # backup/restore RPC; never used by us, but it binds
        self.auth_enabled = auth_enabled
        self.username = username
        self.password = password or secrets.token_urlsafe(16)

    @property
    def credentials(self) -> tuple[str, str] | None:
        return (self.username, self.password) if self.auth_enabled else None

    def ports_free(self) -> bool:
        return port_is_free(self.port, self.host) and port_is_free(self.rpc_port)

    def choose_new_ports(self) -> None:
        self.port = free_port(self.host)
        self.rpc_port = free_port()

    def command(self) -> list[str]:
        if not port_is_free(self.rpc_port):  # only the HTTP port has to stay stable
            self.rpc_port = free_port()
        d = self.data_dir
        config = d / "influxdb.conf"
        config.write_text(
            f'reporting-disabled = true\nbind-address = "127.0.0.1:{self.rpc_port}"\n'
            f'[meta]\n  dir = "{d / "meta"}"\n  logging-enabled = false\n'
            f'[data]\n  dir = "{d / "data"}"\n  wal-dir = "{d / "wal"}"\n'
            "  query-log-enabled = false\n  trace-logging-enabled = false\n"
            f'[http]\n  bind-address = "{self.host}:{self.port}"\n  log-enabled = false\n'
            f"  auth-enabled = {str(self.auth_enabled).lower()}\n  max-body-size = 0\n"
            "[monitor]\n  store-enabled = false\n[continuous_queries]\n  enabled = false\n"
            "[subscriber]\n  enabled = false\n"
        )
        return [self.require_binary(), "-config", str(config)]

    def is_ready(self) -> bool:
        return http_get(f"{self.url}/ping")[0] == 204

    def after_ready(self) -> None:
        if self.auth_enabled:
            # without any admin InfluxDB accepts exactly this statement unauthenticated; with
            # the admin present it is a no-op for the same password
            self.query(
                f"CREATE USER \"{self.username}\" WITH PASSWORD '{self.password}' "
                "WITH ALL PRIVILEGES",
                db="",
            )

    def _headers(self) -> dict[str, str]:
        if not self.auth_enabled:
            return {}
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def query(self, q: str, db: str = "edumon") -> dict[str, Any]:
        """Run InfluxQL over POST /query (epoch=ns); raises ServerError on any error."""
        body = urllib.parse.urlencode({"q": q, "db": db, "epoch": "ns"}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **self._headers()}
        result: dict[str, Any] = json.loads(http_request(f"{self.url}/query", body, headers))
        errors = [r["error"] for r in result.get("results", []) if "error" in r]
        if "error" in result or errors:
            raise ServerError(f"query {q!r}: {result.get('error') or errors}")
        return result

    def write(self, lines: str | bytes, db: str = "edumon", precision: str = "ns") -> None:
        """POST line protocol to /write (expects 204)."""
        body = lines.encode() if isinstance(lines, str) else lines
        query = urllib.parse.urlencode({"db": db, "precision": precision})
        http_request(f"{self.url}/write?{query}", body, self._headers())

    def create_database(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"', db="")

    def count(self, measurement: str, field: str, db: str = "edumon") -> int:
        result = self.query(f'SELECT count("{field}") FROM "{measurement}"', db=db)
        series = result["results"][0].get("series")
        return int(series[0]["values"][0][1]) if series else 0


class VictoriaMetrics(ChildServer):
    """VictoriaMetrics single node, taking InfluxDB line protocol on /write.

    Naming: line-protocol field `f` of measurement `m` is stored as metric `m_f`, tags become
    labels (`srv,site=a v=1` -> `srv_v{site="a"} 1`), and `db=` becomes label `db`. Timestamps
    are kept in milliseconds. The helpers see points written just before: they force a flush
    (/internal/force_flush) and search up to a moment in the future.
    """

    name = "victoria-metrics"
    binary_names = ("victoria-metrics", "/usr/bin/victoria-metrics")
    apt_package = "victoria-metrics"

    def command(self) -> list[str]:
        return [
            self.require_binary(),
            f"-storageDataPath={self.data_dir / 'data'}",
            f"-httpListenAddr={self.host}:{self.port}",
            "-retentionPeriod=100y",
            "-search.disableCache",
            "-search.latencyOffset=0s",
        ]

    def is_ready(self) -> bool:
        return http_get(f"{self.url}/health")[0] == 200

    def force_flush(self) -> None:
        """Make everything written so far searchable (GET /internal/force_flush)."""
        http_request(f"{self.url}/internal/force_flush")

    def export(self, selector: str) -> list[dict[str, Any]]:
        """Every raw sample of the matching series: [{"metric", "values", "timestamps"}]."""
        self.force_flush()
        end = (
            int(time.time()) + 86_400
        )  # the default end (now, in whole seconds) misses fresh points
        query = urllib.parse.urlencode({"match[]": selector, "start": "0", "end": str(end)})
        body = http_request(f"{self.url}/api/v1/export?{query}")
        return [json.loads(line) for line in body.splitlines() if line.strip()]

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query (GET /api/v1/query) at `at` (default: the next whole second, so points
        written just now count): the `data.result` list."""
        self.force_flush()
        at = math.ceil(time.time()) + 1 if at is None else at
        query = urllib.parse.urlencode({"query": promql, "time": str(at)})
        body = http_request(f"{self.url}/api/v1/query?{query}")
        answer: dict[str, Any] = json.loads(body)
        if answer.get("status") != "success":
            raise ServerError(f"query {promql!r}: {answer}")
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result


# bytes of payload: a publish fits edumon's default mqtt.max_packet_size (1 MiB) with its topic
MQTT_MESSAGE_LIMIT = 1_000_000


class Mosquitto(ChildServer):
    """Mosquitto 2.x: persistent (unless `persistence=False`), on 127.0.0.1 (and ::1 with
    `ipv6=True`); anonymous unless given a `password_file` (mosquitto_passwd format); TLS-only
    with `tls=(certfile, keyfile)`, requiring client certificates of `client_ca` if given;
    publishes over `message_size_limit` refused; `extra` lines are added to its config (e.g.
    `max_qos 0`)."""

    name = "mosquitto"
    binary_names = ("mosquitto", "/usr/sbin/mosquitto")
    apt_package = "mosquitto"

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        port_fallback: bool = False,
        ipv6: bool = False,
        tls: tuple[Path, Path] | None = None,
        password_file: Path | None = None,
        client_ca: Path | None = None,
        persistence: bool = True,
        message_size_limit: int = MQTT_MESSAGE_LIMIT,
        extra: str = "",
    ) -> None:
        super().__init__(data_dir, port=port, host=host, port_fallback=port_fallback)
        self.ipv6 = ipv6
        self.tls = tls
        self.password_file = password_file
        self.client_ca = client_ca
        self.persistence = persistence
        self.message_size_limit = message_size_limit
        self.extra = extra

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _hosts(self) -> list[str]:
        return [self.host, "::1"] if self.ipv6 else [self.host]

    def ports_free(self) -> bool:
        return all(port_is_free(self.port, host) for host in self._hosts())

    def choose_new_ports(self) -> None:
        self.port = free_port(self.host)
        while not self.ports_free():
            self.port = free_port(self.host)

    def command(self) -> list[str]:
        tls = f"certfile {self.tls[0]}\nkeyfile {self.tls[1]}\n" if self.tls else ""
        if self.client_ca:
            tls += f"cafile {self.client_ca}\nrequire_certificate true\n"
        listeners = "".join(f"listener {self.port} {host}\n{tls}" for host in self._hosts())
        access = (
            f"allow_anonymous false\npassword_file {self.password_file}\n"
            if self.password_file
            else "allow_anonymous true\n"
        )
        config = self.data_dir / "mosquitto.conf"
        config.write_text(
            f"per_listener_settings false\n{listeners}{access}"
            # as root mosquitto would switch to user "mosquitto", which cannot write here
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
            # save at once what the broker acknowledged (the default is every 1800 s: a
            # kill -9 lost every queued QoS 1 message)
            f"persistence {str(self.persistence).lower()}\n"
            f"persistence_location {self.data_dir}/\nautosave_interval 1\n"
            f"log_dest file {self.log_path}\nlog_type error\nlog_type warning\nlog_type notice\n"
            "max_queued_messages 1000000\nmax_inflight_messages 1000\n"
            # larger publishes are refused at the broker (0: no limit)
            f"message_size_limit {self.message_size_limit}\n{self.extra}"
        )
        return [self.require_binary(), "-c", str(config)]

    def is_ready(self) -> bool:
        return all(self._mqtt_connect(host) for host in self._hosts())

    def _mqtt_connect(self, host: str) -> bool:
        """A real MQTT 3.1.1 CONNECT (clean session), CONNACK 0 expected, then DISCONNECT;
        with TLS or passwords only whether the listener accepts connections."""
        if self.tls or self.password_file:
            with socket.create_connection((host, self.port), timeout=1):
                return True
        client_id = b"edumon-ready"
        variable = b"\x00\x04MQTT\x04\x02\x00\x05" + len(client_id).to_bytes(2, "big") + client_id
        with socket.create_connection((host, self.port), timeout=1) as sock:
            sock.sendall(b"\x10" + bytes([len(variable)]) + variable)
            answer = b""
            while len(answer) < 4:
                chunk = sock.recv(4 - len(answer))
                if not chunk:
                    return False
                answer += chunk
            sock.sendall(b"\xe0\x00")
            return answer == b"\x20\x02\x00\x00"


class Alertmanager(ChildServer):
    """Prometheus Alertmanager, clustering disabled (else it gossips on *:9094).

    The default config is the shipped `gateway/deploy/alertmanager.yml`.
    """

    name = "alertmanager"
    binary_names = ("prometheus-alertmanager", "alertmanager", "/usr/bin/prometheus-alertmanager")
    apt_package = "prometheus-alertmanager"

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        port_fallback: bool = False,
        config_file: Path | None = None,
        webhook_url: str | None = None,
        always_active: bool = False,
    ) -> None:
        """`webhook_url`: every receiver posts there instead; `always_active`: routes ignore
        their active/mute time intervals (a test that must page at any hour)."""
        super().__init__(data_dir, port=port, host=host, port_fallback=port_fallback)
        self.config_file = Path(config_file or DEFAULT_ALERTMANAGER_CONFIG).resolve()
        if webhook_url is not None:
            self.config_file = self._redirect_webhooks(webhook_url, always_active)

    def _redirect_webhooks(self, webhook_url: str, always_active: bool) -> Path:
        """A copy of the config whose receivers (mail, chat, webhooks) only post to
        `webhook_url`/<receiver name>."""
        config = yaml.safe_load(self.config_file.read_text(encoding="utf-8"))
        if always_active:
            for route in config["route"].get("routes", []):
                route.pop("active_time_intervals", None)
                route.pop("mute_time_intervals", None)
        for receiver in config.get("receivers", []):
            name = receiver["name"]
            receiver.clear()
            receiver["name"] = name
            url = f"{webhook_url.rstrip('/')}/{name}"
            receiver["webhook_configs"] = [{"url": url, "send_resolved": True}]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        copy = self.data_dir / "alertmanager.yml"
        copy.write_text(yaml.safe_dump(config), encoding="utf-8")
        return copy

    def command(self) -> list[str]:
        return [
            self.require_binary(),
            f"--config.file={self.config_file}",
            f"--storage.path={self.data_dir / 'data'}",
            f"--web.listen-address={self.host}:{self.port}",
            f"--web.external-url={self.url}",
            "--cluster.listen-address=",
        ]

    def is_ready(self) -> bool:
        return http_get(f"{self.url}/-/ready")[0] == 200

    def alerts(self) -> list[dict[str, Any]]:
        """GET /api/v2/alerts: the alerts it holds (active, silenced, inhibited)."""
        result: list[dict[str, Any]] = json.loads(http_request(f"{self.url}/api/v2/alerts"))
        return result

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """POST /api/v2/alerts (what the alert engine does)."""
        body = json.dumps(alerts).encode()
        http_request(f"{self.url}/api/v2/alerts", body, {"Content-Type": "application/json"})
