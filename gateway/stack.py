"""`edumon stack up`: local InfluxDB, Mosquitto and Alertmanager with data in a state dir."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Self

from gateway.servers import (
    Alertmanager,
    ChildServer,
    InfluxDB1,
    Mosquitto,
    StartStop,
    port_is_free,
)

# Stable ports across restarts of the stack (so a running `edumon run` keeps its URLs);
# a taken port falls back to a free one.
PREFERRED_PORTS = {"influxdb": 18086, "mosquitto": 11883, "alertmanager": 19093}


def _port(name: str) -> int | None:
    preferred = PREFERRED_PORTS[name]
    return preferred if port_is_free(preferred) else None


class LocalStack(StartStop):
    """Starts the servers under `state_dir/<name>/`; stops them in reverse order."""

    def __init__(self, state_dir: Path) -> None:
        state_dir = Path(state_dir).resolve()
        self.influxdb = InfluxDB1(state_dir / "influxdb", port=_port("influxdb"))
        self.mosquitto = Mosquitto(state_dir / "mosquitto", port=_port("mosquitto"))
        self.alertmanager = Alertmanager(state_dir / "alertmanager", port=_port("alertmanager"))
        self.servers: list[ChildServer] = [self.influxdb, self.mosquitto, self.alertmanager]

    @property
    def urls(self) -> dict[str, str]:
        return {
            "influxdb": self.influxdb.url,
            "mosquitto": f"mqtt://{self.mosquitto.host}:{self.mosquitto.port}",
            "alertmanager": self.alertmanager.url,
        }

    def start(self) -> Self:
        try:
            for server in self.servers:
                server.start()
            self.influxdb.create_database("edumon")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()


def stack_up(state_dir: Path, *, print_fn: Callable[[str], None] = print) -> int:
    """Start the stack, print the URLs, block until SIGINT/SIGTERM, stop cleanly."""
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with LocalStack(state_dir) as stack:
            for server in stack.servers:
                url = stack.urls[server.name]
                print_fn(f"{server.name:13} {url:32} data: {server.data_dir}")
            print_fn("stack up; Ctrl-C stops it")
            while not stopping.wait(0.5):
                for server in stack.servers:
                    if not server.running:
                        print_fn(f"{server.name} exited unexpectedly:\n{server.log_tail()}")
                        return 1
        print_fn("stack stopped")
        return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
