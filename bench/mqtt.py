"""MQTT telemetry end to end, beside `mosquitto_sub` on the same messages in the same run:
messages per CPU-second from a real mosquitto into a real influxd, in two modes.

steady (the normal day): a publisher process sends access-point messages (QoS 1) at a fixed
  rate (--rate msg/s for --seconds) spread over --aps access points; `edumon run` (a child
  process) and `mosquitto_sub -q 1` both subscribe to the stream at once. Reported: each
  one's CPU per message (/proc/<pid>/stat for edumon, RUSAGE_CHILDREN for mosquitto_sub),
  edumon's idle CPU (the same process, the 5 s before the stream, for information), and
  publish-to-stored latency p50/p95/max: the time from publishing message n until the
  database's count of points passes n (the count is polled every 0.1 s from this process).
backlog (best case for batching): N messages queued in persistent sessions while the
  readers are away; then each reader drains its session (edumon runs in this process:
  time.process_time).

edumon's CPU covers receive, JSON, samples, spool append + fsync, PUBACKs after the fsync, the
alert engine's observation of each sample and the write to influxd; mosquitto_sub's covers
receive, PUBACKs and printing (to /dev/null). The broker's, publisher's and database's CPU
count for nobody.

Usage: python bench/mqtt.py [--rate 1000] [--seconds 30] [--aps 1000] [--backlog 50000]
       [--profile steady.txt]
       (--backlog 0 / --seconds 0 skips a mode; --profile records edumon's steady stream with
       py-spy into a collapsed-stack file, which costs edumon CPU: figures are not comparable)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gateway.config import load_config  # noqa: E402
from gateway.devstack.servers import InfluxDB1, Mosquitto  # noqa: E402
from gateway.mqtt_client import ClientOptions, MqttClient  # noqa: E402
from gateway.plugins import PLUGINS  # noqa: E402
from gateway.service import Service  # noqa: E402

SITES = 20
TICK = os.sysconf("SC_CLK_TCK")

PUBLISHER = """
import asyncio, json, sys, time
from gateway.mqtt_client import ClientOptions, MqttClient
port, rate, seconds, aps, out = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
sites = int(sys.argv[6]) if len(sys.argv) > 6 else 20
topics = [f"edumon/s{n % sites}/ap/ap-{n:05d}/state" for n in range(aps)]
async def main():
    sent = []
    async with MqttClient("127.0.0.1", port, ClientOptions("bench-publisher")) as client:
        print("connected", flush=True)
        sys.stdin.readline()
        start, total, pending = time.time(), int(rate * seconds), set()
        for n in range(total):
            due = start + n / rate
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.time()
            body = {"ts": now, "radios": [{"band": "5g", "clients": n % 30, "channel_util_pct": 40.5, "retry_pct": 3.0, "noise_dbm": -95}]}
            sent.append(now)
            task = asyncio.ensure_future(client.publish(topics[n % aps], json.dumps(body).encode(), qos=1))
            pending.add(task); task.add_done_callback(pending.discard)
        failed = sum(1 for r in await asyncio.gather(*pending, return_exceptions=True) if r is not None)
    open(out, "w").write(json.dumps({"sent": sent, "failed": failed}))
asyncio.run(main())
"""


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def cpu_s(pid: int) -> float:
    return sum(cpu_times(pid))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def write_config(workdir: Path, influx: InfluxDB1, broker: Mosquitto, aps: int) -> Path:
    lines = [
        f"service: {{state_dir: {workdir / 'state'}, http_listen: '127.0.0.1:0'}}",
        f"influxdb: {{url: {influx.url}, database: bench}}",
        f"mqtt: {{host: 127.0.0.1, port: {broker.port}, client_id: bench}}",
        "sites:",
    ]
    for site in range(SITES):
        lines.append(f"  - id: s{site}\n    name: Bench school {site}\n    devices:")
        lines += [
            f"      - {{kind: access_point, id: ap-{n:05d}, room: '{n}'}}"
            for n in range(site, aps, SITES)
        ]
    path = workdir / "edumon.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def py_spy(pid: int, path: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` into a collapsed-stack file until SIGINT: per thread (the fsync
    worker waits most of the time) and without pausing edumon (pausing it distorts most)."""
    py_spy = Path(sys.executable).parent / "py-spy"
    options = ["--threads", "--nonblocking", "-r", "250", "-f", "raw", "-o", str(path)]
    command = [str(py_spy), "record", "-p", str(pid), *options]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stored(influx: InfluxDB1) -> int:
    return influx.count("wifi_ap", "clients", db="bench")


def mosquitto_sub(port: int, *until: str, session: bool = False) -> list[str]:
    command = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", "edumon/#", "-q", "1"]
    return command + (["-c", "-i", "bench-sub"] if session else []) + list(until)


def missing_points(influx: InfluxDB1, args: argparse.Namespace, total: int) -> list[str]:
    """Which access points have fewer points than they were sent (and which of theirs)."""
    result = influx.query('SELECT count("clients") FROM "wifi_ap" GROUP BY "ap"', db="bench")
    have = {s["tags"]["ap"]: s["values"][0][1] for s in result["results"][0].get("series", [])}
    out = [f"per access point the database has {sum(have.values())} points in all"]
    for n in range(args.aps):
        ap = f"ap-{n:05d}"
        expected = len(range(n, total, args.aps))
        if have.get(ap, 0) < expected:
            out.append(f"{ap}: {have.get(ap, 0)} of {expected} (sent as messages {n}, ...)")
    return out


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


# --- steady ------------------------------------------------------------------------------


def steady(args: argparse.Namespace, workdir: Path) -> list[str]:
    with InfluxDB1(workdir / "influx") as influx, Mosquitto(workdir / "mqtt") as broker:
        influx.create_database("bench")
        path = write_config(workdir, influx, broker, args.aps)
        log = (workdir / "edumon.log").open("wb")
        service = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "-c", str(path)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        total = int(args.rate * args.seconds)
        try:
            time.sleep(3.0)  # connect and subscribe
            publisher = subprocess.Popen(
                [
                    *(sys.executable, "-c", PUBLISHER, str(broker.port), str(args.rate)),
                    *(str(args.seconds), str(args.aps), str(workdir / "sent.json")),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=REPO,  # the publisher uses edumon's MQTT client
            )
            assert publisher.stdin is not None and publisher.stdout is not None
            assert publisher.stdout.readline().strip() == "connected"
            idle0 = cpu_s(service.pid)
            time.sleep(5.0)
            idle = (cpu_s(service.pid) - idle0) / 5.0
            sub = subprocess.Popen(
                mosquitto_sub(broker.port, "-C", str(total)), stdout=subprocess.DEVNULL
            )
            time.sleep(0.5)  # subscribed
            profiler = py_spy(service.pid, args.profile) if args.profile else None
            user0, system0 = cpu_times(service.pid)
            publisher.stdin.write("go\n")
            publisher.stdin.flush()
            counts: list[tuple[float, int]] = []
            deadline = time.time() + args.seconds + 60
            last_change = time.time()
            while (n := stored(influx)) < total and time.time() < deadline:
                if counts and n != counts[-1][1]:
                    last_change = time.time()
                elif publisher.poll() is not None and time.time() - last_change > 5:
                    break  # nothing more is coming
                counts.append((time.time(), n))
                time.sleep(0.1)
            counts.append((time.time(), n))
            user1, system1 = cpu_times(service.pid)
            user, system = user1 - user0, system1 - system0
            cpu = user + system
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(timeout=30)
            missing = missing_points(influx, args, total) if n < total else []
            _pid, _status, usage = os.wait4(sub.pid, 0)  # this child's own rusage
            sub.returncode = 0
            sub_cpu = usage.ru_utime + usage.ru_stime
            publisher.wait(timeout=60)
        finally:
            service.terminate()
            service.wait(timeout=30)
    problems = [
        line
        for line in (workdir / "edumon.log").read_text().splitlines()
        if " WARNING " in line or " ERROR " in line
    ]
    dead = sum(1 for f in (workdir / "state").rglob("*.jsonl") for _ in f.open())
    report = json.loads((workdir / "sent.json").read_text())
    sent = report["sent"]
    latencies, i = [], 0
    for index, published in enumerate(sent):
        while i < len(counts) and counts[i][1] <= index:
            i += 1
        if i < len(counts):
            latencies.append(counts[i][0] - published)
    return [
        f"steady: {total:,} messages at {args.rate:g}/s for {args.seconds:g} s over {args.aps} "
        f"access points (QoS 1); both readers on the same stream",
        f"  edumon run (broker -> spool fsync -> PUBACK -> InfluxDB): {cpu:.2f} CPU s = "
        f"{total / cpu:,.0f} msg/CPU-s (user {user:.2f} s, system {system:.2f} s), "
        f"{100 * cpu / args.seconds:.1f} % of a core "
        f"(idle before the stream: {100 * idle:.1f} %); stored {n:,} of {total:,}",
        f"  mosquitto_sub -q 1 (receive, print): {sub_cpu:.2f} CPU s = "
        f"{total / sub_cpu:,.0f} msg/CPU-s; CPU per message edumon/mosquitto_sub "
        f"x{cpu / sub_cpu:.1f}",
        f"  publish-to-stored: p50 {percentile(latencies, 0.5):.2f} s, "
        f"p95 {percentile(latencies, 0.95):.2f} s, max {max(latencies, default=float('nan')):.2f} s"
        " (0.1 s resolution)",
        f"  edumon dead letters: {dead}; its warnings/errors: {len(problems)}; "
        f"publishes that failed (timeout): {report['failed']}",
        *(f"  not stored: {m}" for m in missing[:5]),
        *(f"    {line}" for line in problems[:5]),
    ]


# --- backlog -----------------------------------------------------------------------------


async def publish_backlog(port: int, count: int, aps: int) -> None:
    async with MqttClient("127.0.0.1", port, ClientOptions("bench-publisher")) as client:
        for n in range(count):
            body = {
                "ts": 1_763_366_700 + n / 1000,
                "radios": [
                    {
                        "band": "5g",
                        "clients": n % 30,
                        "channel_util_pct": 40.5,
                        "retry_pct": 3.0,
                        "noise_dbm": -95,
                    }
                ],
            }
            topic = f"edumon/s{(n % aps) % SITES}/ap/ap-{n % aps:05d}/state"
            await client.publish(topic, json.dumps(body).encode(), qos=1)


async def edumon_drain(path: Path, influx: InfluxDB1, count: int) -> tuple[float, float]:
    service = Service(load_config(path, PLUGINS), PLUGINS)
    stop = asyncio.Event()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    runner = asyncio.create_task(service.run(stop))
    async with asyncio.timeout(600):
        await asyncio.sleep(2.0)  # time to (re)subscribe the persistent session
        while stored(influx) < count:  # noqa: ASYNC110 - polling the database on purpose
            await asyncio.sleep(1.0)  # rarely: the polling's own CPU counts against edumon
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    stop.set()
    await runner
    return cpu, wall


def backlog(args: argparse.Namespace, workdir: Path) -> list[str]:
    n, aps = args.backlog, args.aps
    with InfluxDB1(workdir / "influx") as influx, Mosquitto(workdir / "mqtt") as broker:
        influx.create_database("bench")
        path = write_config(workdir, influx, broker, aps)
        # register both persistent sessions, then fill them while the readers are away
        subprocess.run(mosquitto_sub(broker.port, "-W", "1", session=True), check=False)
        asyncio.run(edumon_drain(path, influx, 0))
        asyncio.run(publish_backlog(broker.port, n, aps))
        cpu, wall = asyncio.run(edumon_drain(path, influx, n))
        before = children_cpu()
        wall0 = time.perf_counter()
        subprocess.run(
            mosquitto_sub(broker.port, "-C", str(n), session=True),
            stdout=subprocess.DEVNULL,
            check=True,
        )
        sub_wall, sub_cpu = time.perf_counter() - wall0, children_cpu() - before
    return [
        f"backlog: {n:,} queued messages (persistent sessions) drained by each reader",
        f"  edumon (broker -> spool fsync -> PUBACK -> InfluxDB): {cpu:.2f} CPU s, {wall:.1f} s "
        f"wall = {n / cpu:,.0f} msg/CPU-s",
        f"  mosquitto_sub -q 1 (receive, print):                  {sub_cpu:.2f} CPU s, "
        f"{sub_wall:.1f} s wall = {n / sub_cpu:,.0f} msg/CPU-s; CPU per message x{cpu / sub_cpu:.1f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=1000.0, help="steady: messages per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="steady: how long")
    parser.add_argument("--aps", type=int, default=1000, help="access points publishing")
    parser.add_argument("--backlog", type=int, default=50_000, help="backlog: messages")
    parser.add_argument("--profile", type=Path, help="steady: py-spy's collapsed stacks of edumon")
    args = parser.parse_args()
    out = [
        f"bench/mqtt.py  {datetime.datetime.now().isoformat(timespec='seconds')}  "
        f"{platform.node()} {os.cpu_count()} CPUs (shared), Python {platform.python_version()}; "
        "real mosquitto and influxd"
    ]
    if args.seconds > 0:
        with tempfile.TemporaryDirectory() as tmp:
            out += steady(args, Path(tmp))
    if args.backlog > 0:
        with tempfile.TemporaryDirectory() as tmp:
            out += backlog(args, Path(tmp))
    print("\n".join(out))


if __name__ == "__main__":
    main()
