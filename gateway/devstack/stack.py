"""`edumon stack up`: local InfluxDB, Mosquitto and Alertmanager with data in a state dir;
with `--cluster` also etcd and a second, peered Alertmanager, for several edumon instances.

`LocalStack` is also what `edumon demo` starts before running the service in-process.
"""

from __future__ import annotations

import fcntl
import json
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import IO, Self

from gateway.devstack.alertmanager_cluster import PeeredAlertmanager
from gateway.devstack.etcd import EtcdServer
from gateway.devstack.servers import (
    Alertmanager,
    ChildServer,
    InfluxDB1,
    Mosquitto,
    ServerError,
    StartStop,
)

# Stable ports across restarts of the stack (so a running `edumon run` keeps its URLs): the
# ports of the last run (ports.json in the state dir), else these; a taken one falls back to
# a free port, which is remembered in turn.
PREFERRED_PORTS = {
    "influxdb": 18086,
    "mosquitto": 11883,
    "alertmanager": 19093,
    "alertmanager-2": 19095,
    "etcd": 12379,
}
DATABASE = "edumon"


def _print_flushed(line: str) -> None:
    print(line, flush=True)


class LocalStack(StartStop):
    """Starts the servers under `state_dir/<name>/` (creating database "edumon"); stops them in
    reverse order. One stack per state dir at a time (a lock file says so)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        ports: Mapping[str, int] | None = None,
        port_fallback: bool = True,
        cluster: bool = False,
    ) -> None:
        """`port_fallback=False`: a taken port is an error, never a silent move (the demo)."""
        self.state_dir = Path(state_dir).resolve()
        self.ports_file = self.state_dir / "ports.json"
        wanted = {**PREFERRED_PORTS, **self._remembered_ports(), **(ports or {})}
        d, fallback = self.state_dir, port_fallback
        self.influxdb = InfluxDB1(d / "influxdb", port=wanted["influxdb"], port_fallback=fallback)
        self.mosquitto = Mosquitto(
            d / "mosquitto", port=wanted["mosquitto"], port_fallback=fallback
        )
        self.named: dict[str, ChildServer] = {
            "influxdb": self.influxdb,
            "mosquitto": self.mosquitto,
        }
        if cluster:
            first = PeeredAlertmanager(
                d / "alertmanager", peers=[], port=wanted["alertmanager"], port_fallback=fallback
            )
            self.alertmanager: Alertmanager = first
            self.named["alertmanager"] = first
            self.named["alertmanager-2"] = PeeredAlertmanager(
                d / "alertmanager-2",
                peers=[first.cluster_address],
                port=wanted["alertmanager-2"],
                port_fallback=fallback,
            )
            self.named["etcd"] = EtcdServer(d / "etcd", port=wanted["etcd"], port_fallback=fallback)
        else:
            self.alertmanager = Alertmanager(
                d / "alertmanager", port=wanted["alertmanager"], port_fallback=fallback
            )
            self.named["alertmanager"] = self.alertmanager
        self.servers: list[ChildServer] = list(self.named.values())
        self._lock: IO[bytes] | None = None

    @property
    def urls(self) -> dict[str, str]:
        return {
            label: server.mqtt_url if isinstance(server, Mosquitto) else server.url
            for label, server in self.named.items()
        }

    def start(self) -> Self:
        self._take_lock()
        try:
            for server in self.servers:
                server.start()
            self.influxdb.create_database(DATABASE)
            self.ports_file.write_text(
                json.dumps({label: server.port for label, server in self.named.items()}) + "\n"
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        try:
            for server in reversed(self.servers):
                server.stop()
        finally:
            if self._lock is not None:
                self._lock.close()  # closing releases the flock
                self._lock = None

    def _take_lock(self) -> None:
        if self._lock is not None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        lock = (self.state_dir / "stack.lock").open("wb")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            lock.close()
            raise ServerError(f"another stack is running on {self.state_dir}") from error
        self._lock = lock

    def _remembered_ports(self) -> dict[str, int]:
        try:
            data = json.loads(self.ports_file.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {
            name: port
            for name, port in data.items()
            if name in PREFERRED_PORTS and isinstance(port, int) and 0 < port < 65536
        }


def stack_up(
    state_dir: Path, *, cluster: bool = False, print_fn: Callable[[str], None] = _print_flushed
) -> int:
    """Start the stack, print one line per server, block until SIGINT/SIGTERM, stop cleanly.

    Returns 0 after a signal, 1 when a server fails to start or dies on its own. Main thread
    only (it installs signal handlers)."""
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()  # a second Ctrl-C while stopping changes nothing

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    stack = LocalStack(state_dir, cluster=cluster)
    try:
        try:
            stack.start()
        except ServerError as error:
            print(f"edumon stack: {error}", file=sys.stderr, flush=True)
            return 1
        try:
            for label, server in stack.named.items():
                print_fn(f"{label:15} {stack.urls[label]:28} data: {server.data_dir}")
            print_fn("stack up; Ctrl-C or SIGTERM stops it")
            while not stopping.wait(0.5):
                for server in stack.servers:
                    if not server.running:
                        print_fn(f"{server.name} exited unexpectedly:\n{server.log_tail()}")
                        return 1
        finally:
            stack.stop()
        print_fn("stack stopped")
        return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
