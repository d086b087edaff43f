"""The whole service at city scale: `edumon run` polling `edumon sim snmp --switches N` (52-port
switches) at a 60 s interval into a real influxd, optionally with M classroom access points
publishing over a real mosquitto (`edumon sim mqtt`).

Everything runs in a network namespace of its own, so the kernel's UDP counters
(RcvbufErrors in /proc/net/snmp) belong to this run alone; per-socket drops (/proc/net/udp)
are attributed to edumon's or the simulators' sockets.

Measured over the window after one interval of warm-up (the scheduler spreads first polls
over the interval):
- polls done per interval (device points written, up and down), distinct switches seen;
- poll_ms p50/p99/max from the device points (what dashboards show);
- UDP receive-buffer drops, for the namespace and for edumon's own sockets;
- edumon's CPU (utime + stime from /proc/<pid>/stat) as % of one core, its RSS and peak RSS;
- with --devices: MQTT lag, the age of the newest wifi_ap point, sampled every 5 s.
The simulators and the databases run on the same (shared) cores; their CPU is printed too.

Needs root (ip netns). Usage:
  python bench/city.py [--switches 2000] [--devices 0] [--windows 2] [--interval 60]
                       [--profile stacks.txt]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.mqtt import PUBLISHER, py_spy  # noqa: E402
from gateway.devstack.servers import InfluxDB1, Mosquitto  # noqa: E402

BASE_PORT = 20000
TICK = os.sysconf("SC_CLK_TCK")
ENV = {**os.environ, "EDUMON_SNMP_COMMUNITY": "city-bench-community", "PYTHONUNBUFFERED": "1"}
SWITCHES_PER_SITE = 50


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, peak RSS) in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def rcvbuf_errors() -> int:
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()]
    total = 0
    for proto in ("Udp:", "UdpLite:"):
        header, values = (line for line in lines if line[0] == proto)
        total += int(values[header.index("RcvbufErrors")])
    return total


def socket_drops(pid: int) -> int:
    """Drops counted on the UDP sockets that process `pid` holds (/proc/net/udp{,6})."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    drops = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if parts[9] in inodes:
                drops += int(parts[12])
    return drops


def config(
    workdir: Path,
    influx: InfluxDB1,
    switches: int,
    devices: int,
    broker_port: int,
    interval: float,
    alert_rules: bool,
    max_concurrent: int,
) -> Path:
    lines = [
        f"service: {{name: city-bench, http_listen: '127.0.0.1:0', state_dir: {workdir / 'state'}}}",
        f"influxdb: {{url: {influx.url}, api: v1, database: edumon}}",
        "credentials:\n  snmp:\n    bench-v2c: {version: 2c, community_env: EDUMON_SNMP_COMMUNITY}",
    ]
    if not alert_rules:  # to tell the alert engine's share from the collectors'
        (workdir / "no-rules.yaml").write_text("rules: []\n")
        lines.append(f"alerts: {{rules_file: {workdir / 'no-rules.yaml'}}}")
    snmp = {"interval_s": interval} if interval != 60 else {}
    if max_concurrent:
        snmp["max_concurrent"] = max_concurrent
    if snmp:
        lines.append("snmp: {" + ", ".join(f"{k}: {v:g}" for k, v in snmp.items()) + "}")
    if devices:
        lines.append(f"mqtt: {{host: 127.0.0.1, port: {broker_port}, client_id: city-bench}}")
    sites = max(1, (switches + SWITCHES_PER_SITE - 1) // SWITCHES_PER_SITE, devices // 500)
    lines.append("sites:")
    per_site: list[list[str]] = [[] for _ in range(sites)]
    for n in range(1, switches + 1):
        per_site[(n - 1) // SWITCHES_PER_SITE].append(
            f"{{kind: switch, id: sw-{n:04d}, address: 127.0.0.1, port: {BASE_PORT + n}, "
            "credentials: bench-v2c}"
        )
    for n in range(devices):  # as bench/mqtt.py's publisher names them
        per_site[n % sites].append(f"{{kind: access_point, id: ap-{n:05d}, room: '{n}'}}")
    for i, devices_here in enumerate(per_site):
        lines.append(f"  - id: s{i}\n    name: School {i}\n    devices:")
        lines += [f"      - {d}" for d in devices_here]
    path = workdir / "edumon.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=REPO,
        env=ENV,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def device_points(influx: InfluxDB1, start_ns: int, end_ns: int) -> list[list[object]]:
    q = (
        f'SELECT "poll_ms", "up", "device" FROM "device" '
        f"WHERE time >= {start_ns} AND time < {end_ns}"
    )
    series = influx.query(q)["results"][0].get("series") or []
    return series[0]["values"] if series else []


def newest_age_s(influx: InfluxDB1) -> float | None:
    series = influx.query('SELECT last("clients") FROM "wifi_ap"')["results"][0].get("series")
    if not series:
        return None
    return time.time() - series[0]["values"][0][0] / 1e9


def inside(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with InfluxDB1(workdir / "influx") as influx:
            influx.create_database("edumon")
            broker = Mosquitto(workdir / "mqtt") if args.devices else None
            if broker is not None:
                broker.__enter__()
            try:
                measure(args, workdir, influx, broker)
            finally:
                if broker is not None:
                    broker.__exit__(None, None, None)


def measure(
    args: argparse.Namespace, workdir: Path, influx: InfluxDB1, broker: Mosquitto | None
) -> None:
    path = config(
        workdir,
        influx,
        args.switches,
        args.devices,
        broker.port if broker else 0,
        args.interval,
        args.alert_rules,
        args.max_concurrent,
    )
    sims = [
        spawn(
            ["sim", "snmp", "--switches", str(args.switches), "--base-port", str(BASE_PORT)],
            workdir / "sim-snmp.log",
        )
    ]
    if args.devices:
        # one connection publishing for every access point at its normal period: `edumon sim
        # mqtt` opens a connection per device, which one Python process cannot hold 10,000 of
        sites = path.read_text().count("\n  - id: ")
        seconds = args.interval * (args.windows + 1) + 60
        publisher = subprocess.Popen(
            [
                *(sys.executable, "-c", PUBLISHER, str(broker.port if broker else 0)),
                *(str(args.devices / args.device_period), str(seconds), str(args.devices)),
                *(str(workdir / "sent.json"), str(sites)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert publisher.stdin is not None and publisher.stdout is not None
        assert publisher.stdout.readline().strip() == "connected"
        publisher.stdin.write("go\n")
        publisher.stdin.flush()
        sims.append(publisher)
    deadline = time.monotonic() + 120
    for sim, log in zip(sims[:1], ("sim-snmp.log",), strict=True):
        while "answering" not in (text := (workdir / log).read_text()):
            if sim.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{log}: {text[-2000:]}")
            time.sleep(0.5)
    service = spawn(["run", "-c", str(path)], workdir / "edumon.log")
    try:
        time.sleep(args.interval + 10)  # warm-up: the first polls are spread over one interval
        if service.poll() is not None:
            raise SystemExit((workdir / "edumon.log").read_text()[-2000:])
        start_ns, cpu0, sim0 = time.time_ns(), cpu_s(service.pid), [cpu_s(p.pid) for p in sims]
        profiler = py_spy(service.pid, args.profile) if args.profile else None
        drops0, own0 = rcvbuf_errors(), socket_drops(service.pid)
        ages: list[float] = []
        end = time.monotonic() + args.windows * args.interval
        while time.monotonic() < end:
            time.sleep(5)
            if args.devices and (age := newest_age_s(influx)) is not None:
                ages.append(age)
        end_ns, cpu1 = time.time_ns(), cpu_s(service.pid)
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=30)
        sim1 = [cpu_s(p.pid) for p in sims]
        drops1, own1 = rcvbuf_errors(), socket_drops(service.pid)
        rss, peak = memory_mb(service.pid)
        # the window's last polls reach the database (the writer posts at most every 0.2 s;
        # the service keeps running, and what it polls after the window is not counted)
        time.sleep(5)
    finally:
        stop(service)
        for sim in sims:
            stop(sim)
    for log in sorted(workdir.glob("*.log")):
        if args.verbose:
            print(f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-15:]))
    points = device_points(influx, start_ns, end_ns)
    seconds = (end_ns - start_ns) / 1e9
    up = [float(p[1]) for p in points if p[2] is True and p[1] is not None]
    down = sum(1 for p in points if p[2] is False)
    per_interval = len(points) / (seconds / args.interval)
    print(
        f"bench/city.py  {datetime.datetime.now().isoformat(timespec='seconds')}  "
        f"{platform.node()} {os.cpu_count()} CPUs (shared with other work), "
        f"Python {platform.python_version()}"
    )
    print(
        f"edumon run: {args.switches} simulated 52-port switches at {args.interval:g} s"
        + (
            f", {args.devices} MQTT access points (one every {args.device_period:g} s each, "
            f"{args.devices / args.device_period:,.0f} msg/s, QoS 1)"
            if args.devices
            else ""
        )
        + ("" if args.alert_rules else ", NO alert rules")
        + (f", snmp.max_concurrent {args.max_concurrent}" if args.max_concurrent else "")
        + f"; measured {seconds:.0f} s after {args.interval + 10:g} s warm-up"
    )
    print(
        f"polls per interval: {per_interval:,.0f} of {args.switches} "
        f"({len(points)} device points, {down} down, {len({p[3] for p in points})} switches)"
    )
    print(
        f"poll_ms (up polls): p50 {percentile(up, 0.5):.0f}, p99 {percentile(up, 0.99):.0f}, "
        f"max {max(up, default=float('nan')):.0f}"
    )
    print(
        f"UDP RcvbufErrors in the namespace: {drops1 - drops0}; on edumon's sockets: {own1 - own0}"
    )
    print(
        f"edumon CPU: {100 * (cpu1 - cpu0) / seconds:.1f} % of one core; "
        f"RSS {rss:.0f} MB (peak {peak:.0f} MB)"
    )
    if points:  # load-independent: what a poll costs, whatever the machine's other work
        per_poll = (cpu1 - cpu0) / len(points)
        print(
            f"edumon CPU per poll done (everything the service did, divided): "
            f"{1000 * per_poll:.1f} ms; {args.switches} polls per {args.interval:g} s at that "
            f"cost: {100 * per_poll * args.switches / args.interval:.0f} % of one core"
        )
    sim_cpu = ", ".join(
        f"{name} {100 * (b - a) / seconds:.0f} %"
        for name, a, b in zip(("sim snmp", "MQTT publisher"), sim0, sim1, strict=False)
    )
    print(f"simulators' CPU (not edumon's): {sim_cpu}")
    if args.devices:
        print(
            f"MQTT lag (age of the newest wifi_ap point, every 5 s): "
            f"p95 {percentile(ages, 0.95):.1f} s, max {max(ages, default=float('nan')):.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--switches", type=int, default=2000)
    parser.add_argument("--devices", type=int, default=0, help="MQTT access points")
    parser.add_argument("--device-period", type=float, default=15.0, help="s between messages")
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--windows", type=int, default=2, help="intervals measured")
    parser.add_argument(
        "--no-alert-rules",
        dest="alert_rules",
        action="store_false",
        help="run with an empty rule file (the default pack runs otherwise)",
    )
    parser.add_argument(
        "--max-concurrent", type=int, default=0, help="snmp.max_concurrent (default: edumon's)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy's collapsed stacks of edumon over the measured window (slows it down: "
        "the figures are then not comparable)",
    )
    parser.add_argument("--verbose", action="store_true", help="print the logs' tails")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        inside(args)
        return
    if os.geteuid() != 0:
        raise SystemExit("needs root: the run gets a network namespace of its own")
    namespace = f"edu-city-{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True)
        command = [sys.executable, *sys.argv, "--inside"]
        subprocess.run(["ip", "netns", "exec", namespace, *command], check=True)
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)


if __name__ == "__main__":
    main()
