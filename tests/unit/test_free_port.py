"""Ports for servers the tests and the demo start: free when chosen, and below the kernel's
ephemeral range, so no client socket of another process is given one before its server
binds it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gateway.devstack.child_server import free_port

EPHEMERAL_LOW = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", socket.SOCK_STREAM),
        ("127.0.0.1", socket.SOCK_DGRAM),
        ("::1", socket.SOCK_DGRAM),
    ],
)
def test_a_free_port_binds_and_is_not_one_the_kernel_hands_out(
    host: str, kind: socket.SocketKind
) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(20):
        port = free_port(host, kind)
        assert EPHEMERAL_LOW <= 2048 or port < EPHEMERAL_LOW
        with socket.socket(family, kind) as sock:
            sock.bind((host, port))


def test_a_port_held_is_not_given() -> None:
    held = []
    try:
        for _ in range(50):
            port = free_port()
            sock = socket.socket()
            sock.bind(("127.0.0.1", port))
            sock.listen()
            held.append(sock)
        assert len({s.getsockname()[1] for s in held}) == 50
    finally:
        for sock in held:
            sock.close()


def test_a_port_given_is_not_given_again_before_its_server_binds_it() -> None:
    """A config of many switches takes a port for each before any agent binds one."""
    ports = [free_port(kind=socket.SOCK_DGRAM) for _ in range(1000)]
    assert len(set(ports)) == len(ports)
