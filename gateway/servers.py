"""Real servers as child processes on loopback: InfluxDB 1.x, VictoriaMetrics, Mosquitto,
Alertmanager. Used by `edumon stack up`, the demo, the tests and the benchmarks.

Each server writes its own config into its data directory, binds 127.0.0.1 on a free (or
preferred) port, logs to a file there, and is ready only when a real probe answers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

PACKAGE_DIR = Path(__file__).resolve().parent


class ServerError(RuntimeError):
    """A server did not start or answer; the message carries the tail of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens there (TIME_WAIT leftovers of old connections do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def http_get(url: str, timeout_s: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class StartStop:
    """`with thing:` starts it and always stops it."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ChildServer(StartStop):
    """Start/stop/kill/restart one server process; subclasses say how to run and probe it."""

    name: ClassVar[str] = "server"
    binary_names: ClassVar[tuple[str, ...]] = ()
    apt_package: ClassVar[str] = ""
    start_timeout_s: ClassVar[float] = 30.0

    def __init__(self, data_dir: Path, *, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port or free_port(host)
        self.log_path = self.data_dir / f"{self.name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    # -- subclass interface
    def command(self) -> list[str]:
        raise NotImplementedError

    def is_ready(self) -> bool:
        raise NotImplementedError

    # -- lookup
    @classmethod
    def binary(cls) -> str | None:
        for name in cls.binary_names:
            found = shutil.which(name) or (
                name if os.path.isabs(name) and os.access(name, os.X_OK) else None
            )
            if found:
                return found
        return None

    @classmethod
    def binary_missing_reason(cls) -> str | None:
        if cls.binary() is None:
            return f"{cls.binary_names[0]} not installed (apt install {cls.apt_package})"
        return None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- lifecycle
    def start(self) -> Self:
        if self.running:
            return self
        if (reason := self.binary_missing_reason()) is not None:
            raise ServerError(reason)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.data_dir,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with {self._process.returncode}: {self.log_tail()}"
                )
            try:
                if self.is_ready():
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise ServerError(
            f"{self.name} not ready after {self.start_timeout_s:g} s: {self.log_tail()}"
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def kill(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            self._process = None

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class InfluxDB1(ChildServer):
    """InfluxDB 1.x (Debian `influxdb`), auth disabled, reporting off, on loopback only."""

    name = "influxdb"
    binary_names = ("influxd", "/usr/bin/influxd")
    apt_package = "influxdb"

    def __init__(self, data_dir: Path, *, port: int | None = None, host: str = "127.0.0.1") -> None:
        super().__init__(data_dir, port=port, host=host)
        self.rpc_port = free_port()

    def command(self) -> list[str]:
        if not port_is_free(self.rpc_port):
            self.rpc_port = free_port()
        d = self.data_dir
        config = d / "influxdb.conf"
        config.write_text(
            f'reporting-disabled = true\nbind-address = "127.0.0.1:{self.rpc_port}"\n'
            f'[meta]\n  dir = "{d / "meta"}"\n  logging-enabled = false\n'
            f'[data]\n  dir = "{d / "data"}"\n  wal-dir = "{d / "wal"}"\n'
            "  query-log-enabled = false\n  trace-logging-enabled = false\n"
            f'[http]\n  bind-address = "{self.host}:{self.port}"\n  log-enabled = false\n'
            "  max-body-size = 0\n"
            "[monitor]\n  store-enabled = false\n[continuous_queries]\n  enabled = false\n"
        )
        binary = self.binary()
        assert binary is not None
        return [binary, "-config", str(config)]

    def is_ready(self) -> bool:
        return http_get(f"{self.url}/ping")[0] == 204

    def query(self, q: str, db: str = "edumon") -> dict[str, Any]:
        """Run InfluxQL over POST /query; raises ServerError when the answer has an error."""
        body = urllib.parse.urlencode({"q": q, "db": db, "epoch": "ns"}).encode()
        try:
            with urllib.request.urlopen(f"{self.url}/query", data=body, timeout=30) as response:
                result: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise ServerError(f"query {q!r}: HTTP {error.code}: {error.read()[:300]!r}") from error
        errors = [r["error"] for r in result.get("results", []) if "error" in r]
        if "error" in result or errors:
            raise ServerError(f"query {q!r}: {result.get('error') or errors}")
        return result

    def create_database(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"', db="")

    def count(self, measurement: str, field: str, db: str = "edumon") -> int:
        result = self.query(f'SELECT count("{field}") FROM "{measurement}"', db=db)
        series = result["results"][0].get("series")
        return int(series[0]["values"][0][1]) if series else 0


class VictoriaMetrics(ChildServer):
    """VictoriaMetrics single node. Line-protocol field `f` of measurement `m` becomes `m_f`."""

    name = "victoria-metrics"
    binary_names = ("victoria-metrics", "/usr/bin/victoria-metrics")
    apt_package = "victoria-metrics"

    def command(self) -> list[str]:
        binary = self.binary()
        assert binary is not None
        return [
            binary,
            f"-storageDataPath={self.data_dir / 'data'}",
            f"-httpListenAddr={self.host}:{self.port}",
            "-retentionPeriod=100y",
            "-search.disableCache",
        ]

    def is_ready(self) -> bool:
        return http_get(f"{self.url}/health")[0] == 200

    def export(self, selector: str) -> list[dict[str, Any]]:
        """Every raw sample of the matching series (GET /api/v1/export after a flush)."""
        http_get(f"{self.url}/internal/force_flush")
        query = urllib.parse.urlencode({"match[]": selector, "start": "0"})
        status, body = http_get(f"{self.url}/api/v1/export?{query}", timeout_s=30)
        if status != 200:
            raise ServerError(f"export {selector}: HTTP {status}: {body[:300]!r}")
        return [json.loads(line) for line in body.splitlines() if line.strip()]


class Mosquitto(ChildServer):
    """Mosquitto 2.x, anonymous, persistent, on loopback."""

    name = "mosquitto"
    binary_names = ("mosquitto", "/usr/sbin/mosquitto")
    apt_package = "mosquitto"

    def command(self) -> list[str]:
        config = self.data_dir / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} {self.host}\nallow_anonymous true\n"
            f"persistence true\npersistence_location {self.data_dir}/\n"
            f"log_dest file {self.log_path}\nlog_type error\nlog_type warning\nlog_type notice\n"
            "max_queued_messages 1000000\n"
        )
        binary = self.binary()
        assert binary is not None
        return [binary, "-c", str(config)]

    def is_ready(self) -> bool:
        # a real MQTT 3.1.1 CONNECT, expecting CONNACK with return code 0
        connect = b"\x10\x12\x00\x04MQTT\x04\x02\x00\x05\x00\x06ready1"
        with socket.create_connection((self.host, self.port), timeout=1) as sock:
            sock.sendall(connect)
            return sock.recv(4) == b"\x20\x02\x00\x00"


class Alertmanager(ChildServer):
    """Prometheus Alertmanager with clustering disabled (no gossip port on all interfaces)."""

    name = "alertmanager"
    binary_names = ("prometheus-alertmanager", "alertmanager", "/usr/bin/prometheus-alertmanager")
    apt_package = "prometheus-alertmanager"

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        config_file: Path | None = None,
    ) -> None:
        super().__init__(data_dir, port=port, host=host)
        self.config_file = config_file or PACKAGE_DIR / "stack_configs" / "alertmanager.yml"

    def command(self) -> list[str]:
        binary = self.binary()
        assert binary is not None
        return [
            binary,
            f"--config.file={self.config_file}",
            f"--storage.path={self.data_dir / 'data'}",
            f"--web.listen-address={self.host}:{self.port}",
            "--cluster.listen-address=",
        ]

    def is_ready(self) -> bool:
        return http_get(f"{self.url}/-/ready")[0] == 200

    def alerts(self) -> list[dict[str, Any]]:
        status, body = http_get(f"{self.url}/api/v2/alerts")
        if status != 200:
            raise ServerError(f"GET /api/v2/alerts: HTTP {status}")
        result: list[dict[str, Any]] = json.loads(body)
        return result
