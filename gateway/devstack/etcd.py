"""etcd (Debian `etcd-server`) as a child process: one member, data in its directory, client
and peer URLs on loopback. edumon talks to it over the v3 JSON gateway (`/v3/...`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from gateway.devstack.child_server import ChildServer, free_port, http_get, port_is_free


class EtcdServer(ChildServer):
    name = "etcd"
    binary_names = ("etcd", "/usr/bin/etcd")
    apt_package = "etcd-server"
    start_timeout_s: ClassVar[float] = 30.0

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        port_fallback: bool = False,
    ) -> None:
        super().__init__(data_dir, port=port, host=host, port_fallback=port_fallback)
        self.peer_port = free_port(host)

    def ports_free(self) -> bool:
        return port_is_free(self.port, self.host) and port_is_free(self.peer_port, self.host)

    def choose_new_ports(self) -> None:
        self.port = free_port(self.host)
        self.peer_port = free_port(self.host)

    def command(self) -> list[str]:
        peer = f"http://{self.host}:{self.peer_port}"
        return [
            self.require_binary(),
            "--name=edumon-dev",
            f"--data-dir={self.data_dir / 'data'}",
            f"--listen-client-urls={self.url}",
            f"--advertise-client-urls={self.url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=edumon-dev={peer}",
            "--log-level=warn",
            # short leases (a few seconds) need a fast heartbeat; the defaults allow >= 2 s
            "--heartbeat-interval=100",
            "--election-timeout=1000",
        ]

    def is_ready(self) -> bool:
        status, body = http_get(f"{self.url}/health")
        return status == 200 and b'"true"' in body
