"""Alertmanager in its own cluster mode: peers gossiping on loopback (`--cluster.peer`), so
alerts sent to every peer page once. Each peer is an `Alertmanager` child server with a
cluster port; `AlertmanagerCluster` starts several, each told of the ones before it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Self

from gateway.devstack.child_server import StartStop, free_port, http_request, port_is_free
from gateway.devstack.servers import Alertmanager


class PeeredAlertmanager(Alertmanager):
    """One peer. `peer_timeout_s` is how long each peer waits per position before it notifies
    (Alertmanager's default 15 s; short for tests)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        peers: list[str],
        port: int | None = None,
        port_fallback: bool = False,
        peer_timeout_s: float = 15.0,
        config_file: Path | None = None,
        webhook_url: str | None = None,
    ) -> None:
        super().__init__(
            data_dir,
            port=port,
            port_fallback=port_fallback,
            config_file=config_file,
            webhook_url=webhook_url,
        )
        self.cluster_port = free_port(self.host)
        self.peers = peers
        self.peer_timeout_s = peer_timeout_s

    @property
    def cluster_address(self) -> str:
        return f"{self.host}:{self.cluster_port}"

    def ports_free(self) -> bool:
        return port_is_free(self.port, self.host) and port_is_free(self.cluster_port, self.host)

    def choose_new_ports(self) -> None:
        self.port = free_port(self.host)
        self.cluster_port = free_port(self.host)

    def command(self) -> list[str]:
        solo = super().command()
        return [
            *(arg for arg in solo if not arg.startswith("--cluster.")),
            f"--cluster.listen-address={self.cluster_address}",
            f"--cluster.advertise-address={self.cluster_address}",
            *(f"--cluster.peer={peer}" for peer in self.peers),
            f"--cluster.peer-timeout={self.peer_timeout_s:g}s",
            "--cluster.gossip-interval=50ms",
            "--cluster.pushpull-interval=2s",
            "--cluster.settle-timeout=2s",
        ]

    def cluster_peers(self) -> int:
        """How many peers this one sees (itself included), from GET /api/v2/status."""
        status = json.loads(http_request(f"{self.url}/api/v2/status"))
        return len(status.get("cluster", {}).get("peers") or [])


class AlertmanagerCluster(StartStop):
    """`size` peered Alertmanagers; `start` returns once every peer sees all the others."""

    def __init__(
        self,
        data_dir: Path,
        *,
        size: int = 2,
        peer_timeout_s: float = 15.0,
        config_file: Path | None = None,
        webhook_url: str | None = None,
    ) -> None:
        self.peers: list[PeeredAlertmanager] = []
        for index in range(size):
            earlier = [peer.cluster_address for peer in self.peers]
            self.peers.append(
                PeeredAlertmanager(
                    Path(data_dir) / f"peer-{index}",
                    peers=earlier,
                    peer_timeout_s=peer_timeout_s,
                    config_file=config_file,
                    webhook_url=webhook_url,
                )
            )

    @property
    def urls(self) -> list[str]:
        return [peer.url for peer in self.peers]

    def start(self) -> Self:
        for peer in self.peers:
            peer.start()
        deadline = time.monotonic() + 30
        while any(p.cluster_peers() < len(self.peers) for p in self.peers):
            if time.monotonic() > deadline:
                raise TimeoutError(f"Alertmanager peers did not meet: {self.peers}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        for peer in self.peers:
            peer.stop()
