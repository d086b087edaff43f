"""A small network made of Linux network namespaces, for probe tests and benchmarks.

    root namespace (the prober)               namespace <name> (the "school")
    veth <r> 198.18.0.1/24, fd00:ed::1/64 --- veth <t> 198.18.0.2/24, fd00:ed::2/64
    routes 198.18.1.0/24, fd00:ed:1::/64 via the school, which blackholes them

Inside the school: a TCP listener on OPEN_PORT, nothing on CLOSED_PORT (RST), an nftables drop
on FILTERED_PORT, and dnsmasq answering DNS_NAME. Every address lives in these namespaces
(198.18.0.0/15 is the benchmarking range, fd00::/8 unique-local): nothing leaves the machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

SCHOOL_V4, SCHOOL_V6 = "198.18.0.2", "fd00:ed::2"
PROBER_V4, PROBER_V6 = "198.18.0.1", "fd00:ed::1"
BLACKHOLED_V4, BLACKHOLED_V6 = "198.18.1.5", "fd00:ed:1::5"
OPEN_PORT, CLOSED_PORT, FILTERED_PORT = 8080, 8081, 8082
DNS_NAME = "gw.school.edumon.test"

LISTENER = """
import socket, sys
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1]))); s.listen(128)
print("ready", flush=True)
while True:
    c, _ = s.accept(); c.close()
"""

DELAYED_RESPONDER = """
import heapq, select, socket, sys, time
delay = float(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
def checksum(data):
    data += b"\\0" * (len(data) % 2)
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total & 0xFFFF).to_bytes(2, "big")
due = []
print("ready", flush=True)
while True:
    wait = max(0.0, due[0][0] - time.monotonic()) if due else None
    if select.select([s], [], [], wait)[0]:
        packet, (source, _) = s.recvfrom(65535)
        icmp = packet[(packet[0] & 15) * 4:]
        if icmp[0] == 8:
            body = b"\\0\\0\\0\\0" + icmp[4:]
            heapq.heappush(due, (time.monotonic() + delay, body[:2] + checksum(body) + body[4:], source))
    while due and due[0][0] <= time.monotonic():
        _, reply, source = heapq.heappop(due)
        s.sendto(reply, (source, 0))
"""


def missing_tools() -> str | None:
    for tool in ("ip", "nft", "dnsmasq", "tc"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} not installed (apt install iproute2 nftables dnsmasq-base)"
    if os.geteuid() != 0:
        return "network namespaces need root"
    return None


def run(*args: str, namespace: str | None = None) -> None:
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    subprocess.run([*prefix, *args], check=True, capture_output=True)


class BuiltLab:
    """`with lab:` builds it, and tears down whatever was built even when building fails."""

    def __enter__(self) -> Self:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SchoolLab(BuiltLab):
    def __init__(self, workdir: Path) -> None:
        tag = f"{os.getpid() % 100000}"
        self.namespace = f"edu-school-{tag}"
        self.veth_root, self.veth_school = f"edr{tag}", f"eds{tag}"
        self.workdir = workdir
        self._processes: list[subprocess.Popen[bytes]] = []

    def _build(self) -> None:
        ns = self.namespace
        run("ip", "netns", "add", ns)
        run("ip", "link", "add", self.veth_root, "type", "veth", "peer", "name", self.veth_school)
        run("ip", "link", "set", self.veth_school, "netns", ns)
        run("ip", "addr", "add", f"{PROBER_V4}/24", "dev", self.veth_root)
        run("ip", "-6", "addr", "add", f"{PROBER_V6}/64", "dev", self.veth_root, "nodad")
        run("ip", "link", "set", self.veth_root, "up")
        run("ip", "route", "add", "198.18.1.0/24", "via", SCHOOL_V4)
        run("ip", "-6", "route", "add", "fd00:ed:1::/64", "via", SCHOOL_V6)
        inside = [
            ("ip", "link", "set", "lo", "up"),
            ("ip", "addr", "add", f"{SCHOOL_V4}/24", "dev", self.veth_school),
            ("ip", "-6", "addr", "add", f"{SCHOOL_V6}/64", "dev", self.veth_school, "nodad"),
            ("ip", "link", "set", self.veth_school, "up"),
            ("sysctl", "-q", "-w", "net.ipv4.ip_forward=1"),
            ("sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"),
            ("ip", "route", "add", "blackhole", "198.18.1.0/24"),
            ("ip", "-6", "route", "add", "blackhole", "fd00:ed:1::/64"),
            ("nft", "add", "table", "inet", "edumon_lab"),
            (
                "nft",
                "add",
                "chain",
                "inet",
                "edumon_lab",
                "input",
                "{ type filter hook input priority 0 ; }",
            ),
            (
                "nft",
                "add",
                "rule",
                "inet",
                "edumon_lab",
                "input",
                "tcp",
                "dport",
                str(FILTERED_PORT),
                "drop",
            ),
        ]
        for command in inside:
            run(*command, namespace=ns)
        self._start(
            ["ip", "netns", "exec", ns, sys.executable, "-c", LISTENER, str(OPEN_PORT)], "ready"
        )
        dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        self._start(
            [
                "ip",
                "netns",
                "exec",
                ns,
                dnsmasq,
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                f"--listen-address={SCHOOL_V4},{SCHOOL_V6}",
                "--except-interface=lo",
                f"--host-record={DNS_NAME},{SCHOOL_V4},{SCHOOL_V6}",
                "--local=/edumon.test/",
                f"--pid-file={self.workdir / 'dnsmasq.pid'}",
                "--log-facility=-",
                "--user=root",
            ],
            None,
        )
        self._wait_for_dns()

    def _start(self, command: list[str], ready_line: str | None) -> None:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._processes.append(process)
        if ready_line is not None:
            assert process.stdout is not None
            line = process.stdout.readline().decode()
            if ready_line not in line:
                raise RuntimeError(f"{command[4:6]} did not start: {line}")

    def _wait_for_dns(self) -> None:
        import socket

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(0.2)
                # a minimal A query for DNS_NAME
                labels = b"".join(bytes([len(p)]) + p.encode() for p in DNS_NAME.split("."))
                sock.sendto(
                    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                    + labels
                    + b"\x00\x00\x01\x00\x01",
                    (SCHOOL_V4, 53),
                )
                try:
                    if sock.recv(512)[:2] == b"\x12\x34":
                        return
                except OSError:
                    time.sleep(0.1)
        raise RuntimeError("dnsmasq did not answer in the lab namespace")

    def delay(self, milliseconds: float) -> None:
        """Make the school answer pings `milliseconds` late: the kernel stops answering echo
        requests and a responder in the namespace answers each one after the delay (netem
        would be simpler, but this kernel has no sch_netem)."""
        run("sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all=1", namespace=self.namespace)
        command = [sys.executable, "-c", DELAYED_RESPONDER, str(milliseconds / 1000)]
        self._start(["ip", "netns", "exec", self.namespace, *command], "ready")

    def add_hosts(self, count: int) -> list[str]:
        """`count` more IPv4 addresses answering inside the school (198.18.2.x, 198.18.3.x...)."""
        addresses = [f"198.18.{2 + i // 250}.{1 + i % 250}" for i in range(count)]
        for first in range(0, count, 250):
            prefix = f"198.18.{2 + first // 250}.0/24"
            run("ip", "route", "replace", prefix, "via", SCHOOL_V4)
        for address in addresses:
            run("ip", "addr", "add", f"{address}/32", "dev", "lo", namespace=self.namespace)
        return addresses

    def close(self) -> None:
        for process in self._processes:
            process.kill()
            process.wait()
        # the veth pair first, at once, and with it every route through it (deleting the
        # namespace deletes it too, but later: a lab built again at once found its route)
        subprocess.run(["ip", "link", "del", self.veth_root], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True)


class VethLink(BuiltLab):
    """One veth pair between the root namespace and a namespace of its own, that a test can
    delete and re-create under the same name and ifIndex (what a reloaded line card or a
    re-plugged USB NIC looks like to an agent): root `edv<tag>` 198.19.7.1/24 --- peer
    198.19.7.2/24 inside. `send()` sends UDP datagrams across it and counts their bytes."""

    ROOT_V4, PEER_V4 = "198.19.7.1", "198.19.7.2"
    DISCARD_PORT = 9  # nobody listens: the peer drops them (or answers port-unreachable)

    def __init__(self) -> None:
        tag = f"{os.getpid() % 100000}"
        self.namespace, self.name, self.peer = f"edu-veth-{tag}", f"edv{tag}", f"edp{tag}"
        self.if_index = 0
        self.sent_bytes = 0

    def _build(self) -> None:
        run("ip", "netns", "add", self.namespace)
        self._create()
        self.if_index = int(Path(f"/sys/class/net/{self.name}/ifindex").read_text())

    def _create(self, if_index: int | None = None) -> None:
        index = ["index", str(if_index)] if if_index else []
        run(
            "ip", "link", "add", "name", self.name, *index, "type", "veth",
            "peer", "name", self.peer, "netns", self.namespace,
        )  # fmt: skip
        run("ip", "addr", "add", f"{self.ROOT_V4}/24", "dev", self.name)
        run("ip", "link", "set", self.name, "up")
        run("ip", "addr", "add", f"{self.PEER_V4}/24", "dev", self.peer, namespace=self.namespace)
        run("ip", "link", "set", self.peer, "up", namespace=self.namespace)

    def recreate(self) -> None:
        """Delete the pair and make it again with the same name and ifIndex: its counters
        start from zero."""
        run("ip", "link", "del", self.name)
        self._create(self.if_index)

    def send(self, datagrams: int, size: int) -> None:
        """`datagrams` UDP datagrams of `size` payload bytes to the peer; counts the bytes
        they take on the wire (Ethernet + IPv4 + UDP headers)."""
        payload = b"\0" * size
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(datagrams):
                try:
                    sock.sendto(payload, (self.PEER_V4, self.DISCARD_PORT))
                except OSError:  # the link is being re-created, or ICMP said unreachable
                    continue
                self.sent_bytes += size + 14 + 20 + 8

    def close(self) -> None:
        subprocess.run(["ip", "link", "del", self.name], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True)
