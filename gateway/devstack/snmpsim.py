"""snmpsim (PyPI) as a child server: serves recorded device answers (`.snmprec` files) over
SNMP on a free loopback UDP port. Each file is one agent, reached with the file's name
(without `.snmprec`) as the v2c community."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from gateway.devstack.child_server import ChildServer, free_port

RESPONDER = "snmpsim-command-responder"


def free_udp_port(host: str = "127.0.0.1") -> int:
    return free_port(host, socket.SOCK_DGRAM)


class SnmpSim(ChildServer):
    name = "snmpsim"
    # the responder is installed beside the interpreter (the venv's bin/) by pip
    binary_names = (str(Path(sys.executable).parent / RESPONDER), RESPONDER)
    apt_package = "(none: pip install snmpsim)"

    def __init__(self, data_dir: Path, recordings: Path, **kwargs: object) -> None:
        super().__init__(data_dir, **kwargs)  # type: ignore[arg-type]
        self.recordings = Path(recordings).resolve()

    def ports_free(self) -> bool:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind((self.host, self.port))
            except OSError:
                return False
            return True

    def choose_new_ports(self) -> None:
        self.port = free_udp_port(self.host)

    def command(self) -> list[str]:
        (self.data_dir / "cache").mkdir(parents=True, exist_ok=True)
        endpoint = "udpv6" if ":" in self.host else "udpv4"
        host = f"[{self.host}]" if ":" in self.host else self.host
        argv = [
            self.require_binary(),
            f"--data-dir={self.recordings}",
            f"--cache-dir={self.data_dir / 'cache'}",
            f"--agent-{endpoint}-endpoint={host}:{self.port}",
        ]
        # as root it insists on dropping to a user that could not read our files: stay
        return ["env", "SNMPSIM_ALLOW_ROOT=true", *argv] if os.geteuid() == 0 else argv

    def is_ready(self) -> bool:
        return "Listening at" in self.log_path.read_text(errors="replace")
