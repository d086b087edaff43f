"""SNMP polling cost per in-column varbind on a real net-snmp snmpd, beside prometheus
snmp_exporter and snmpbulkwalk, in one run on the same agent.

The agent: net-snmp `snmpd` in its own network namespace with --interfaces veth interfaces
(plus lo and the veth), reached over a veth pair. Every tool reads the same work each round:
the columns edumon's poller walks (recorded from its own warm-up poll, so the bench follows
the poller) and the two scalars it GETs, all at max-repetitions 25.

Counted the same way for every tool: *in-column varbinds*, i.e. the rows each column really
has (snmpbulkwalk's output per column) plus the two scalars. GETBULK overshoot past a
column's end is not counted for anybody.

What each side's CPU includes:
- edumon: this process's CPU (time.process_time) for `SnmpPoller.poll` as the service calls
  it (GET, GETBULK walk, BER decode, rates, samples) plus line-protocol encoding of the
  samples; v2c and SNMPv3 authPriv (SHA/AES);
- snmp_exporter (Debian prometheus-snmp-exporter, a child process on a loopback port): its
  process CPU from /proc/<pid>/stat while it answers /snmp scrapes (walk, decode, Prometheus
  text); the HTTP client's CPU (this process) is not counted for either side;
- snmpbulkwalk: one process per column (it walks one subtree), -On -Oq, output to a pipe;
  CPU of the children (RUSAGE_CHILDREN), shown with and without its start-up (a walk of a
  column that has no rows).
The snmpd's own CPU is excluded from all (printed for information).

Rounds alternate edumon v2c / exporter v2c / edumon v3 / exporter v3, so a noisy neighbour on
the shared machine hits both sides alike; ratios are within the run.

Needs root (ip netns), snmpd, snmpbulkwalk and prometheus-snmp-exporter.
Usage: python bench/snmp.py [--interfaces 500] [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import collectors.snmp.poller as poller_module
from collectors.snmp import ber
from collectors.snmp.client import UdpSockets, V2cTransport
from collectors.snmp.poller import SnmpPoller, SnmpTarget
from collectors.snmp.usm import UsmUser
from collectors.snmp.v3_transport import V3Transport
from gateway.storage.lineprotocol import LineEncoder

COMMUNITY = "bench-only-community"
USER, AUTH_PASS, PRIV_PASS = "bench", "bench-auth-pass", "bench-priv-pass"
QUIET = {**os.environ, "MIBS": "", "MIBDIRS": "/nonexistent"}
TICK = os.sysconf("SC_CLK_TCK")
V3_ARGS = ["-v3", "-l", "authPriv", "-u", USER, "-a", "SHA", "-A", AUTH_PASS]
V3_ARGS += ["-x", "AES", "-X", PRIV_PASS]
TEXT_COLUMNS = {"1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.31.1.1.1.18"}


def sh(*args: str, namespace: str | None = None, stdin: str | None = None) -> None:
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    subprocess.run([*prefix, *args], check=True, capture_output=True, input=stdin, text=True)


class AgentLab:
    """snmpd in a namespace with many (veth) interfaces, reachable at `self.address`."""

    def __init__(self, workdir: Path, interfaces: int) -> None:
        tag = os.getpid() % 100000
        self.namespace, self.veth = f"edu-snmpb-{tag}", (f"esb{tag}", f"esn{tag}")
        net = 200 + tag % 50  # away from tests/netns_lab.py's 198.18.0.0/24
        self.local, self.address = f"198.19.{net}.1", f"198.19.{net}.2"
        self.workdir, self.interfaces = workdir, interfaces
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> AgentLab:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build(self) -> None:
        ns, (outer, inner) = self.namespace, self.veth
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        sh("ip", "link", "set", inner, "netns", ns)
        sh("ip", "addr", "add", f"{self.local}/24", "dev", outer)
        sh("ip", "link", "set", outer, "up")
        # this kernel has no dummy driver: veth pairs inside the namespace, one end of each up
        # (oper up) and the other down (lowerLayerDown), as on a switch with half its ports used
        pairs = (self.interfaces + 1) // 2
        batch = [f"link add pa{i} type veth peer name pb{i}" for i in range(pairs)]
        batch += [f"link set pa{i} up" for i in range(pairs)]
        batch += [
            "link set lo up",
            f"addr add {self.address}/24 dev {inner}",
            f"link set {inner} up",
        ]
        sh("ip", "-n", ns, "-batch", "-", stdin="\n".join(batch) + "\n")
        config = self.workdir / "snmpd.conf"
        config.write_text(
            f"rocommunity {COMMUNITY} default\n"
            f'createUser {USER} SHA "{AUTH_PASS}" AES "{PRIV_PASS}"\nrouser {USER} priv\n'
        )
        binary = shutil.which("snmpd") or "/usr/sbin/snmpd"
        self.process = subprocess.Popen(
            [
                *("ip", "netns", "exec", ns, binary, "-f", "-C", "-c", str(config)),
                *("-Lf", str(self.workdir / "snmpd.log"), f"udp:{self.address}:161"),
            ],
            env={**QUIET, "SNMP_PERSISTENT_DIR": str(self.workdir)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while not walk("1.3.6.1.2.1.1.3", self.address, ["-v2c", "-c", COMMUNITY])[0]:
            if time.monotonic() > deadline:
                log = (self.workdir / "snmpd.log").read_text()[-500:]
                raise RuntimeError(f"snmpd did not answer: {log}")
            time.sleep(0.2)

    def snmpd_cpu(self) -> float:
        out = subprocess.run(
            ["ip", "netns", "pids", self.namespace], capture_output=True, text=True
        ).stdout
        return sum(process_cpu(int(pid)) for pid in out.split())

    def close(self) -> None:
        if self.process is not None:
            subprocess.run(["ip", "netns", "pids", self.namespace], capture_output=True)
            for pid in subprocess.run(
                ["ip", "netns", "pids", self.namespace], capture_output=True, text=True
            ).stdout.split():
                os.kill(int(pid), 15)
            self.process.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True)
        subprocess.run(["ip", "link", "del", self.veth[0]], capture_output=True)


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def walk(column: str, address: str, auth: list[str]) -> tuple[int, bool]:
    """(in-column rows, ok) of one snmpbulkwalk process."""
    result = subprocess.run(
        ["snmpbulkwalk", *auth, "-On", "-Oq", "-Cr25", "-t", "2", "-r", "1", address, column],
        capture_output=True,
        text=True,
        env=QUIET,
        check=False,
    )
    prefix = "." + column + "."
    rows = sum(1 for line in result.stdout.splitlines() if line.startswith(prefix))
    return rows, result.returncode == 0


# --- edumon -----------------------------------------------------------------------------


async def discover_columns(target: SnmpTarget) -> list[bytes]:
    """The columns edumon's poller walks in steady state (its second poll of the agent: the
    first also tries the 32-bit octet columns, to learn whether the agent has 64-bit ones)."""
    seen: list[bytes] = []
    original = poller_module.walk_columns

    async def recording(transport, columns, max_repetitions=25):  # type: ignore[no-untyped-def]
        seen.extend(columns)
        return await original(transport, columns, max_repetitions)

    poller = SnmpPoller()
    await poller.poll(target)
    poller_module.walk_columns = recording  # type: ignore[assignment]
    try:
        await poller.poll(target)
    finally:
        poller_module.walk_columns = original
    return seen


class EdumonSide:
    def __init__(self, target: SnmpTarget) -> None:
        self.target, self.poller, self.encoder = target, SnmpPoller(), LineEncoder()
        self.cpu, self.rounds, self.samples, self.bytes = 0.0, 0, 0, 0

    async def round(self) -> None:
        cpu0 = time.process_time()
        samples = await self.poller.poll(self.target)
        payload, _lines, rejected = self.encoder.encode_batch(samples)
        self.cpu += time.process_time() - cpu0
        assert not rejected, rejected[:3]
        self.rounds += 1
        self.samples, self.bytes = len(samples), len(payload)


# --- snmp_exporter ----------------------------------------------------------------------


def exporter_module(columns: list[str], auth: str) -> str:
    def metric(oid: str) -> str:
        name = "c_" + oid.replace(".", "_")
        kind = "DisplayString" if oid in TEXT_COLUMNS else "gauge"
        index = {"1.3.6.1.2.1.25": "hrDeviceIndex", "1.3.6.1.2.1.99": "entPhysicalIndex"}
        label = next((v for k, v in index.items() if oid.startswith(k)), "ifIndex")
        return (
            f"  - name: {name}\n    oid: {oid}\n    type: {kind}\n"
            f"    indexes:\n    - labelname: {label}\n      type: gauge\n"
        )

    scalars = "".join(
        f"  - name: s_{oid.replace('.', '_')}\n    oid: {oid}\n    type: "
        f"{'DisplayString' if oid.endswith('.5') else 'gauge'}\n"
        for oid in ("1.3.6.1.2.1.1.3", "1.3.6.1.2.1.1.5")
    )
    walked = "".join(f"  - {c}\n" for c in columns)
    return (
        f"{auth}:\n  walk:\n{walked}  get:\n  - 1.3.6.1.2.1.1.3.0\n  - 1.3.6.1.2.1.1.5.0\n"
        f"  max_repetitions: 25\n  retries: 1\n  timeout: 5s\n"
        + (
            f"  version: 2\n  auth:\n    community: {COMMUNITY}\n"
            if auth == "v2c"
            else f"  version: 3\n  auth:\n    username: {USER}\n    security_level: authPriv\n"
            f"    password: {AUTH_PASS}\n    auth_protocol: SHA\n    priv_protocol: AES\n"
            f"    priv_password: {PRIV_PASS}\n"
        )
        + f"  metrics:\n{scalars}"
        + "".join(metric(c) for c in columns)
    )


class Exporter:
    def __init__(self, workdir: Path, columns: list[str]) -> None:
        binary = shutil.which("prometheus-snmp-exporter") or shutil.which("snmp_exporter")
        if binary is None:
            raise SystemExit("apt install prometheus-snmp-exporter")
        config = workdir / "snmp.yml"
        config.write_text(exporter_module(columns, "v2c") + exporter_module(columns, "v3"))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "exporter.log", "w"),  # noqa: SIM115
        )
        version = subprocess.run([binary, "--version"], capture_output=True, text=True)
        words = (version.stdout + version.stderr).split()  # "snmp_exporter, version 0.21.0 ..."
        self.version = f"snmp_exporter {words[2] if len(words) > 2 else '?'}"
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError((workdir / "exporter.log").read_text()[-800:]) from None
                time.sleep(0.1)
        self.cpu = {"v2c": 0.0, "v3": 0.0}
        self.series = {"v2c": 0, "v3": 0}

    def scrape(self, address: str, module: str) -> None:
        url = f"http://127.0.0.1:{self.port}/snmp?target={address}&module={module}"
        cpu0 = process_cpu(self.process.pid)
        body = urllib.request.urlopen(url, timeout=30).read().decode()
        self.cpu[module] += process_cpu(self.process.pid) - cpu0
        series = sum(1 for line in body.splitlines() if line.startswith(("c_", "s_")))
        if series == 0:
            raise RuntimeError(f"snmp_exporter returned no data: {body[-500:]}")
        self.series[module] = series

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# --- snmpbulkwalk -----------------------------------------------------------------------


def snmpbulkwalk_rounds(
    columns: list[str], address: str, auth: list[str], rounds: int
) -> tuple[float, float]:
    """(CPU s for `rounds` rounds of every column, CPU s of one start-up-only walk)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(rounds):
        for column in columns:
            walk(column, address, auth)
        for scalar in ("1.3.6.1.2.1.1.3", "1.3.6.1.2.1.1.5"):
            walk(scalar, address, auth)
    middle = resource.getrusage(resource.RUSAGE_CHILDREN)
    empties = 10
    for _ in range(empties):
        walk("1.3.6.1.2.1.99.1.1.1.1", address, auth)  # no rows on net-snmp: start-up + 1 RTT
    after = resource.getrusage(resource.RUSAGE_CHILDREN)

    def cpu(a: resource.struct_rusage, b: resource.struct_rusage) -> float:
        return (b.ru_utime - a.ru_utime) + (b.ru_stime - a.ru_stime)

    return cpu(before, middle), cpu(middle, after) / empties


# --- run --------------------------------------------------------------------------------


async def edumon_targets(address: str) -> tuple[UdpSockets, SnmpTarget, SnmpTarget]:
    sockets = UdpSockets()
    v2c = V2cTransport(sockets, "snmpd", address, 161, COMMUNITY.encode(), timeout_s=5)
    user = UsmUser(USER.encode(), "sha", AUTH_PASS.encode(), "aes", PRIV_PASS.encode())
    v3 = V3Transport(sockets, "snmpd-v3", address, 161, user, timeout_s=5)
    return (
        sockets,
        SnmpTarget("bench", "snmpd", "core", v2c, 25, 30),
        SnmpTarget("bench", "snmpd-v3", "core", v3, 25, 30),
    )


async def run(lab: AgentLab, workdir: Path, rounds: int, walk_rounds: int) -> None:
    sockets, v2c_target, v3_target = await edumon_targets(lab.address)
    columns = [ber.oid_text(c) for c in await discover_columns(v2c_target)]
    rows = {c: walk(c, lab.address, ["-v2c", "-c", COMMUNITY])[0] for c in columns}
    in_column = sum(rows.values()) + 2  # + sysUpTime.0, sysName.0
    exporter = Exporter(workdir, columns)
    edumon = {"v2c": EdumonSide(v2c_target), "v3": EdumonSide(v3_target)}
    try:
        for side in edumon.values():  # first readings (no rates yet), v3 discovery, warm-up
            await side.round()
            side.cpu, side.rounds = 0.0, 0
        exporter.scrape(lab.address, "v2c")
        exporter.scrape(lab.address, "v3")
        exporter.cpu = {"v2c": 0.0, "v3": 0.0}
        snmpd0 = lab.snmpd_cpu()
        for _ in range(rounds):
            for version in ("v2c", "v3"):
                await edumon[version].round()
                await asyncio.to_thread(exporter.scrape, lab.address, version)
        snmpd = lab.snmpd_cpu() - snmpd0
    finally:
        exporter.close()
        sockets.close()
    walk_v2c, start_v2c = snmpbulkwalk_rounds(
        columns, lab.address, ["-v2c", "-c", COMMUNITY], walk_rounds
    )
    walk_v3, start_v3 = snmpbulkwalk_rounds(columns, lab.address, V3_ARGS, walk_rounds)
    processes = len(columns) + 2

    interfaces = rows.get("1.3.6.1.2.1.2.2.1.8", 0)
    polled = edumon["v2c"].samples
    print(
        f"bench/snmp.py  {datetime.datetime.now().isoformat(timespec='seconds')}  "
        f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs (shared), "
        f"Python {platform.python_version()}"
    )
    print(
        f"agent: net-snmp snmpd in netns {lab.namespace}, {interfaces} interfaces; "
        f"{len(columns)} columns walked + 2 scalars, max-repetitions 25"
    )
    print(
        f"work per poll: {in_column:,} in-column varbinds (rows per column: "
        f"{min(rows.values())}-{max(rows.values())}); edumon wrote {polled} samples "
        f"({edumon['v2c'].bytes:,} bytes line protocol); snmp_exporter {exporter.series['v2c']} "
        f"series"
    )
    print(
        f"{rounds} rounds each, interleaved; snmpbulkwalk {walk_rounds} rounds x "
        f"{processes} processes; CPU seconds of each tool's own process; snmpd spent "
        f"{snmpd:.2f} CPU s (not counted)"
    )
    print(f"{'':52}{'varbinds':>10}{'CPU s':>8}{'varbinds/CPU-s':>16}")
    table = [
        ("edumon v2c (poll: walk+decode+rates+samples+LP)", rounds, edumon["v2c"].cpu),
        ("edumon v3 authPriv SHA/AES (same)", rounds, edumon["v3"].cpu),
        (f"{exporter.version} v2c (walk+decode+text)", rounds, exporter.cpu["v2c"]),
        (f"{exporter.version} v3 authPriv", rounds, exporter.cpu["v3"]),
        ("snmpbulkwalk v2c (a process per column)", walk_rounds, walk_v2c),
        (
            "snmpbulkwalk v2c minus start-up",
            walk_rounds,
            walk_v2c - start_v2c * processes * walk_rounds,
        ),
        ("snmpbulkwalk v3 (a process per column)", walk_rounds, walk_v3),
        (
            "snmpbulkwalk v3 minus start-up",
            walk_rounds,
            walk_v3 - start_v3 * processes * walk_rounds,
        ),
    ]
    rate = {}
    for label, n, cpu in table:
        varbinds = in_column * n
        rate[label] = varbinds / cpu if cpu > 0 else float("inf")
        print(f"{label:52}{varbinds:10,}{cpu:8.2f}{rate[label]:16,.0f}")
    e2, e3, x2, x3 = (rate[label] for label, _, _ in table[:4])
    print(
        f"ratio per in-column varbind, edumon/snmp_exporter: v2c x{e2 / x2:.2f}, v3 x{e3 / x3:.2f}; "
        f"edumon/snmpbulkwalk (minus start-up): v2c x{e2 / rate[table[5][0]]:.2f}, "
        f"v3 x{e3 / rate[table[7][0]]:.2f}"
    )
    print(
        f"snmpbulkwalk start-up + 1 round trip: {1000 * start_v2c:.1f} ms CPU (v2c), "
        f"{1000 * start_v3:.1f} ms (v3, includes key derivation)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--interfaces", type=int, default=500, help="interfaces in the agent namespace"
    )
    parser.add_argument("--rounds", type=int, default=20, help="polls/scrapes per side")
    parser.add_argument("--walk-rounds", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root for ip netns")
    with tempfile.TemporaryDirectory() as tmp, AgentLab(Path(tmp), args.interfaces) as lab:
        asyncio.run(run(lab, Path(tmp), args.rounds, args.walk_rounds))


if __name__ == "__main__":
    main()
