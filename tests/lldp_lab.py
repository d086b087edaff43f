"""Switches made of network namespaces speaking real LLDP: each runs Debian's `lldpd` as an
AgentX sub-agent (`-x`) of its own net-snmp `snmpd`, and the namespaces are wired by veth
pairs. The root namespace reaches every snmpd over a management veth (198.18.0.0/15 is the
benchmarking range, addresses only in namespaces the lab creates; nothing leaves the machine).

    lab = LldpLab(workdir, ["core", "agg", "acc1", "acc2"])
    lab.wire("core", "agg")             # veth "to-agg" in core <-> "to-core" in agg
    lab.start()                         # snmpd + lldpd in each namespace
    lab.address["core"]                 # where core's snmpd answers (port 161)
    lab.unwire("agg", "acc2")           # the veth pair is deleted
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.netns_lab import BuiltLab, run
from tests.netsnmp import QUIET

COMMUNITY = "lab-lldp"
SNMPD = """agentAddress udp:{address}:161
master agentx
agentXSocket unix:{socket}
agentXPerms 0666 0755
rocommunity {community} default
sysName {name}
"""
LLDPD = """configure system hostname {name}
configure lldp tx-interval 1
configure lldp portidsubtype ifname
"""


def missing_tools() -> str | None:
    for tool in ("ip", "lldpd", "snmpd"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} not installed (apt install iproute2 lldpd snmpd)"
    if os.geteuid() != 0:
        return "network namespaces need root"
    return None


class LldpLab(BuiltLab):
    def __init__(self, workdir: Path, switches: list[str]) -> None:
        self.tag = f"{os.getpid() % 100000}"
        self.switches = switches
        self.workdir = workdir
        self.namespace = {name: f"edu-{name}-{self.tag}" for name in switches}
        subnet = 100 + os.getpid() % 150
        self.address = {name: f"198.18.{subnet}.{4 * k + 2}" for k, name in enumerate(switches)}
        self._root_side = {
            name: (f"198.18.{subnet}.{4 * k + 1}", f"elm{k}{self.tag}")
            for k, name in enumerate(switches)
        }
        self._processes: list[subprocess.Popen[bytes]] = []
        self._built: list[str] = []
        # lldpd pauses until its lldpcli (unprivileged) has read its config file through the
        # control socket, and its AgentX sub-agent connects unprivileged too: they live in a
        # directory everyone can traverse (test tmp dirs are 0700)
        self._shared = Path(tempfile.mkdtemp(prefix="edumon-lldpd-"))
        self._shared.chmod(0o755)

    def _build(self) -> None:
        for name in self.switches:
            self._namespace(name)

    def _namespace(self, name: str) -> None:
        ns = self.namespace[name]
        run("ip", "netns", "add", ns)
        self._built.append(ns)
        root_address, root_veth = self._root_side[name]
        run("ip", "link", "add", root_veth, "type", "veth", "peer", "name", "mgmt")
        run("ip", "link", "set", "mgmt", "netns", ns)
        run("ip", "addr", "add", f"{root_address}/30", "dev", root_veth)
        run("ip", "link", "set", root_veth, "up")
        run("ip", "link", "set", "lo", "up", namespace=ns)
        run("ip", "addr", "add", f"{self.address[name]}/30", "dev", "mgmt", namespace=ns)
        run("ip", "link", "set", "mgmt", "up", namespace=ns)

    def wire(self, a: str, b: str) -> None:
        """A veth pair between two switches: `to-<b>` in a, `to-<a>` in b."""
        temp_a, temp_b = f"ew{self.tag}a", f"ew{self.tag}b"
        run("ip", "link", "add", temp_a, "type", "veth", "peer", "name", temp_b)
        for temp, here, there in ((temp_a, a, b), (temp_b, b, a)):
            run("ip", "link", "set", temp, "netns", self.namespace[here])
            run("ip", "link", "set", temp, "name", f"to-{there}", namespace=self.namespace[here])
            run("ip", "link", "set", f"to-{there}", "up", namespace=self.namespace[here])

    def unwire(self, a: str, b: str) -> None:
        run("ip", "link", "del", f"to-{b}", namespace=self.namespace[a])

    def start(self) -> None:
        """snmpd (AgentX master) and then lldpd (its sub-agent) in every namespace."""
        for name in self.switches:
            here = self.workdir / name
            here.mkdir(mode=0o755, parents=True, exist_ok=True)
            socket = self._shared / f"{name}.agentx"
            (here / "snmpd.conf").write_text(
                SNMPD.format(
                    address=self.address[name], socket=socket, community=COMMUNITY, name=name
                )
            )
            lldpd_conf = self._shared / f"{name}.conf"
            lldpd_conf.write_text(LLDPD.format(name=name))
            lldpd_conf.chmod(0o644)
            self._spawn(
                name,
                [
                    shutil.which("snmpd") or "/usr/sbin/snmpd",
                    "-f",
                    "-C",
                    "-c",
                    str(here / "snmpd.conf"),
                    "-Lf",
                    str(here / "snmpd.log"),
                    "-p",
                    str(here / "snmpd.pid"),
                ],
                {**QUIET, "SNMP_PERSISTENT_DIR": str(here)},
            )
            _wait_for(socket.exists, f"{name}: snmpd's AgentX socket", here / "snmpd.log")
            Path("/run/lldpd").mkdir(exist_ok=True)  # lldpd's privilege-separation chroot
            self._spawn(
                name,
                [
                    shutil.which("lldpd") or "/usr/sbin/lldpd",
                    "-d",
                    "-x",
                    "-X",
                    str(socket),
                    "-u",
                    str(self._shared / f"{name}.socket"),
                    "-I",
                    "to-*",
                    "-m",
                    self.address[name],
                    "-O",
                    str(lldpd_conf),
                    "-k",
                ],
                dict(os.environ),
                log=here / "lldpd.log",
            )

    def _spawn(
        self, name: str, command: list[str], env: dict[str, str], log: Path | None = None
    ) -> None:
        output = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115
        self._processes.append(
            subprocess.Popen(
                ["ip", "netns", "exec", self.namespace[name], *command],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        )

    def close(self) -> None:
        for process in reversed(self._processes):
            process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for ns in self._built:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        for _, root_veth in self._root_side.values():
            subprocess.run(["ip", "link", "del", root_veth], check=False, capture_output=True)
        shutil.rmtree(self._shared, ignore_errors=True)


def _wait_for(condition: object, what: str, log: Path, timeout_s: float = 15.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text()[-500:] if log.exists() else "(no log)"
            raise RuntimeError(f"{what} did not appear: {tail}")
        time.sleep(0.05)
