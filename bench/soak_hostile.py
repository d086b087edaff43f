"""Every hostile sender of issue 26 at once, for `--minutes`, against `edumon run` as a real
process (under `ulimit -n 1024`) while the demo city's simulated devices poll and publish, on
a real InfluxDB, Mosquitto and Alertmanager (`edumon stack`'s child servers):

- HTTP: 1,100 half-sent connections held open (each reopened when edumon closes it);
- traps: forged SNMPv3 traps with 30-60 KB engine ids, forged ones with 32-octet ids, a flood
  of valid v2c linkDowns, and a genuine v3 trap replayed over and over;
- SNMP: a switch of 20,000 ports renaming them at every poll, an agent walking backwards;
- LoRaWAN: uplinks of vendor codecs that loop in toString/message getters, return proxies,
  loop forever, hog memory or are slow (tests/fixtures/codecs);
- MQTT: publishes of 2 MB (past edumon's and Mosquitto's limits) beside the devices' own.

The simulators and senders run in this process at nice 10 (they stand for other machines);
edumon, its servers and the /healthz watcher at the normal priority.
Sampled every second: /healthz latency, edumon's RSS. At the end the senders stop, edumon
drains, and its own counters say whether everything it accepted was written or dead-lettered.
Usage: python bench/soak_hostile.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.mqtt import py_spy  # noqa: E402
from collectors.snmp import ber  # noqa: E402
from collectors.snmp.usm import UsmUser  # noqa: E402
from collectors.snmp.v3 import V3Message, encode_v3, flags_for  # noqa: E402
from gateway.config import load_config  # noqa: E402
from gateway.devstack.child_server import free_port  # noqa: E402
from gateway.devstack.demo import demo_environment  # noqa: E402
from gateway.devstack.stack import LocalStack  # noqa: E402
from gateway.mqtt_client import ClientOptions, MqttClient  # noqa: E402
from gateway.plugins import PLUGINS  # noqa: E402
from simulators.hostile.http_idle import IdleStats, hold_half_sent  # noqa: E402
from simulators.hostile.traps import (  # noqa: E402
    IF_1,
    LINK_DOWN,
    UPTIME,
    forged_v3_trap,
    link_down_v2c,
    send_paced,
)
from simulators.lorawan.inventory import network_from_config  # noqa: E402
from simulators.lorawan.network_server import SimSensor, chirpstack_event, topic_of  # noqa: E402
from simulators.mqtt.inventory import fleet_from_config  # noqa: E402
from simulators.snmp.agent import SnmpFleet  # noqa: E402
from simulators.snmp.run import city_fleet  # noqa: E402
from simulators.snmp.switch import SimSwitch  # noqa: E402
from tests.netsnmp import free_udp_port  # noqa: E402

NICE = 10  # this process's niceness while it simulates
HOSTILE_CODECS = [
    "throws-looping-tostring",
    "throws-looping-message",
    "returns-proxy",
    "endless-loop",
    "memory-hog",
    "slow",
]


def write_configs(work: Path, stack: LocalStack) -> tuple[Path, Path, dict[str, int]]:
    """The demo city pointed at the stack (for the simulators), and the same with the
    hostile devices added (for edumon); the ports chosen."""
    ports = {"http": free_port(), "traps": free_udp_port()}
    ports |= {"rename": free_udp_port(), "loop": free_udp_port()}
    codecs = work / "codecs"
    shutil.copytree(REPO / "examples" / "codecs", codecs)
    shutil.copytree(REPO / "tests" / "fixtures" / "codecs" / "vendor", codecs, dirs_exist_ok=True)
    city = yaml.safe_load((REPO / "examples" / "city.yaml").read_text())
    city["service"] |= {
        "state_dir": str(work / "state"),
        "http_listen": f"127.0.0.1:{ports['http']}",
    }
    city["influxdb"]["url"] = stack.influxdb.url
    city["mqtt"]["port"] = stack.mosquitto.port
    city["alertmanager"]["url"] = stack.alertmanager.url
    city["snmp"]["trap_listen"] = f"127.0.0.1:{ports['traps']}"
    city["lorawan"]["codec_dir"] = str(codecs)
    simulated = work / "city.yaml"
    simulated.write_text(yaml.safe_dump(city))
    for model in HOSTILE_CODECS:
        city["lorawan"]["models"][model] = {"codec": f"acme-fake/{model}-codec.yaml"}
    switch = {"kind": "switch", "role": "access", "address": "127.0.0.1"}
    switch |= {"credentials": "school-v2c", "interval_s": 15, "timeout_s": 3}
    devices: list[dict[str, Any]] = [
        {**switch, "id": "hostile-rename", "port": ports["rename"]},
        {**switch, "id": "hostile-loop", "port": ports["loop"]},
    ]
    devices += [
        {"kind": "lorawan_sensor", "id": f"hostile-{model}", "room": "1", "profile": model,
         "dev_eui": f"70b3d57ed00a{n:04x}"}
        for n, model in enumerate(HOSTILE_CODECS)
    ]  # fmt: skip
    city["sites"].append({"id": "hostile", "name": "Hostile senders", "devices": devices})
    full = work / "edumon.yaml"
    full.write_text(yaml.safe_dump(city))
    return simulated, full, ports


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def metric_sum(text: str, name: str, *labels: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and all(label in line for label in labels)
    )


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return (
        int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])
        / 1024
    )


WATCHER = """
import json, sys, time, urllib.error, urllib.request
url = sys.argv[1]
while True:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            status = json.loads(answer.read())["status"]
    except urllib.error.HTTPError as error:
        status = json.loads(error.read())["status"]
    except (OSError, ValueError):
        status = "no answer"
    print(time.perf_counter() - started, status, flush=True)
    time.sleep(1.0)
"""


class Watch:
    """/healthz latency from a process of its own (this one is busy with the simulators and
    senders, whose GIL would add its own delays), and edumon's RSS, once a second."""

    def __init__(self, port: int, pid: int) -> None:
        self.pid = pid
        self.rss: list[float] = []
        self.process = subprocess.Popen(
            [sys.executable, "-c", WATCHER, f"http://127.0.0.1:{port}/healthz"],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: os.setpriority(os.PRIO_PROCESS, 0, 0),
        )

    async def run(self) -> None:
        while True:
            self.rss.append(rss_mb(self.pid))
            await asyncio.sleep(1.0)

    def stop(self) -> tuple[list[float], dict[str, int]]:
        """The latencies and how often each overall status was answered."""
        self.process.terminate()
        out, _ = self.process.communicate()
        latencies, statuses = [], Counter[str]()
        for line in out.splitlines():
            seconds, status = line.split(" ", 1)
            latencies.append(float(seconds))
            statuses[status] += 1
        return latencies, dict(statuses)


async def every(period_s: float, action: Any) -> None:
    while True:
        await action()
        await asyncio.sleep(period_s)


async def hostile_senders(
    full: Path, ports: dict[str, int], mqtt_port: int
) -> list[asyncio.Task[Any]]:
    env = demo_environment()
    config = load_config(full, PLUGINS, env)
    community = env["EDUMON_SNMP_COMMUNITY"].encode()
    user = UsmUser(
        b"edumon", "sha", env["EDUMON_SNMP_AUTH"].encode(), "aes", env["EDUMON_SNMP_PRIV"].encode()
    )
    genuine = encode_v3(
        V3Message(7, flags_for(user), b"\x80\x00\x1f\x88\x04soak", 3, 1000, user.name, ber.TRAP_V2, 7,
                  varbinds=[UPTIME, LINK_DOWN, IF_1]),
        user,
    )  # fmt: skip
    boot = time.time() - 3600
    rename = SimSwitch("hostile-rename", seed=7, boot=boot, access_ports=20_000, old=True)
    rename.faults.rename_every_s = 15
    loop = SimSwitch("hostile-loop", seed=8, boot=boot)
    loop.faults.walk_backwards = True
    switches = SnmpFleet(
        [(rename, "127.0.0.1", ports["rename"]), (loop, "127.0.0.1", ports["loop"])], community
    )
    await switches.start()
    idle = IdleStats()
    traps = "127.0.0.1", ports["traps"]

    def forever(make: Any) -> Any:
        return (make() for _ in iter(int, 1))

    client = MqttClient("127.0.0.1", mqtt_port, ClientOptions("soak-hostile"))
    await client.__aenter__()
    sensors = [
        SimSensor(d.dev_eui, d.id, d.profile, "chirpstack")
        for s, d in config.devices("lorawan_sensor")
        if s.id == "hostile"
    ]
    f_cnt = iter(range(1, 10**9))

    async def codec_uplinks() -> None:
        for sensor in sensors:
            n = next(f_cnt)
            for frame in (b"\x09", b"\x01\x01\xf4"):
                event = chirpstack_event(sensor, n, frame, 1, 1)
                await client.publish(topic_of(sensor), json.dumps(event).encode(), qos=1)

    async def oversized() -> None:
        payload = b'{"clients": ' + b" " * (2 << 20) + b"1}"
        await client.publish("edumon/vsk-1/ap/vsk-1-ap-101/state", payload, qos=1)

    async def replayed() -> None:
        await send_paced(*traps, [genuine], 100)

    return [
        asyncio.create_task(hold_half_sent("127.0.0.1", ports["http"], 1100, idle)),
        asyncio.create_task(
            send_paced(*traps, forever(lambda: forged_v3_trap(random.randint(30_000, 60_000))), 50)
        ),
        asyncio.create_task(send_paced(*traps, forever(lambda: forged_v3_trap(32)), 100)),
        asyncio.create_task(send_paced(*traps, forever(lambda: link_down_v2c(community)), 500)),
        asyncio.create_task(every(2.0, replayed)),
        asyncio.create_task(every(2.0, codec_uplinks)),
        asyncio.create_task(every(5.0, oversized)),
        asyncio.create_task(_close_at_cancel(switches, client)),
    ]


async def _close_at_cancel(switches: SnmpFleet, client: MqttClient) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        switches.close()
        await client.__aexit__(None, None, None)


def soak(minutes: float, work: Path, profile: Path | None = None) -> dict[str, Any]:
    with LocalStack(work / "stack") as stack:
        simulated, full, ports = write_configs(work, stack)
        env = {**demo_environment(), "PYTHONPATH": str(REPO)}
        os.environ.update(
            {k: env[k] for k in ("EDUMON_SNMP_COMMUNITY", "EDUMON_SNMP_AUTH", "EDUMON_SNMP_PRIV")}
        )
        log = (work / "edumon.log").open("w")
        edumon = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "-c", str(full)],
            cwd=REPO, env=env, stderr=log,
            preexec_fn=lambda: __import__("resource").setrlimit(7, (1024, 1024)),
        )  # fmt: skip
        spy = py_spy(edumon.pid, profile) if profile else None
        try:
            return asyncio.run(_run(minutes, simulated, full, ports, stack, edumon))
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(30)
            edumon.send_signal(signal.SIGTERM)
            edumon.wait(30)
            log.close()


async def _run(
    minutes: float, simulated: Path, full: Path, ports: dict[str, int], stack: LocalStack,
    edumon: subprocess.Popen[bytes],
) -> dict[str, Any]:  # fmt: skip
    config = load_config(simulated, PLUGINS, dict(os.environ))
    # the simulators and senders stand for other machines: edumon, its servers and the
    # /healthz watcher come first for the shared CPU
    os.nice(NICE)
    async with asyncio.timeout(60):
        while True:
            try:
                await asyncio.to_thread(get, ports["http"], "/healthz")
                break
            except OSError:
                await asyncio.sleep(0.5)
    fleet = city_fleet(config, os.environ["EDUMON_SNMP_COMMUNITY"].encode(), seed=1)
    await fleet.start()
    gateways = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 18443)
    devices = [
        asyncio.create_task(fleet_from_config(config, period_s=10).run()),
        asyncio.create_task(network_from_config(config).run(rounds=10**9, period_s=60)),
    ]
    watch = Watch(ports["http"], edumon.pid)
    watcher = asyncio.create_task(watch.run())
    hostile = await hostile_senders(full, ports, stack.mosquitto.port)
    await asyncio.sleep(minutes * 60)
    for task in hostile + devices:
        task.cancel()
    await asyncio.gather(*hostile, *devices, return_exceptions=True)
    fleet.close()
    gateways.close()
    drained_after = await _drained(ports["http"])
    watcher.cancel()
    latencies, statuses = watch.stop()
    _, metrics = await asyncio.to_thread(get, ports["http"], "/metrics")
    text = metrics.decode()
    return {
        "minutes": minutes,
        "healthz_max_s": round(max(latencies), 3),
        "healthz_p99_s": round(sorted(latencies)[int(0.99 * len(latencies))], 3),
        "healthz_answers": len(latencies),
        "healthz_statuses": statuses,
        "rss_max_mb": round(max(watch.rss), 1),
        "rss_last_mb": round(watch.rss[-1], 1),
        "drained_after_s": drained_after,
        "samples_in": metric_sum(text, "edumon_samples_in_total"),
        "samples_written": metric_sum(text, "edumon_samples_written_total"),
        "spool_evicted": metric_sum(text, "edumon_spool_evicted_points_total"),
        "dead_letters": metric_sum(text, "edumon_dead_letters_total"),
        "traps_received": metric_sum(text, "edumon_collector_outcomes_total", 'outcome="received"', "snmp-traps"),
        "traps_dropped": metric_sum(text, "edumon_collector_outcomes_total", 'outcome="dropped"'),
        "traps_refused": metric_sum(text, "edumon_collector_outcomes_total", 'outcome="rejected"', "snmp-traps"),
        "http_evicted": metric_sum(text, "edumon_http_outcomes_total", 'outcome="evicted"'),
        "intakes": _outcomes(text, ("mqtt", "lorawan", "snmp-traps")),
        "bounds_refused": {
            line.split('"')[1]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("edumon_bound_refused_total")
        },
        "log_bytes": (full.parent / "edumon.log").stat().st_size,
    }  # fmt: skip


def _outcomes(text: str, components: tuple[str, ...]) -> dict[str, float]:
    """component/outcome/reason -> count, from edumon_collector_outcomes_total."""
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("edumon_collector_outcomes_total{"):
            continue
        labels = dict(
            part.split("=", 1) for part in line[line.index("{") + 1 : line.index("}")].split(",")
        )
        component = labels["component"].strip('"')
        if component in components and float(line.rsplit(" ", 1)[1]):
            key = "/".join([component, labels["outcome"].strip('"'), labels["reason"].strip('"')])
            counts[key] = float(line.rsplit(" ", 1)[1])
    return counts


async def _drained(port: int) -> float | None:
    """Seconds until nothing waits in edumon's pipeline or spool (None: not within 120 s)."""
    started = time.monotonic()
    while time.monotonic() - started < 120:
        _, body = await asyncio.to_thread(get, port, "/healthz")
        components = json.loads(body)["components"]
        if (
            components["pipeline"]["queued_samples"] == 0
            and components["writer"]["spool_points"] == 0
        ):
            return round(time.monotonic() - started, 1)
        await asyncio.sleep(1.0)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--keep-log", type=Path, help="copy edumon's log here")
    parser.add_argument("--profile", type=Path, help="py-spy edumon into this collapsed-stack file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-hostile-") as work:
        figures = soak(args.minutes, Path(work), args.profile)
        if args.keep_log:
            shutil.copy(Path(work) / "edumon.log", args.keep_log)
    print(json.dumps(figures, indent=2))
    lost = figures["samples_in"] - figures["samples_written"] - figures["dead_letters"]
    ok = (
        figures["healthz_max_s"] < 1.0
        and figures["rss_max_mb"] < 300
        and figures["spool_evicted"] == 0
        and figures["drained_after_s"] is not None
    )
    print(f"accepted but neither written nor dead-lettered: {lost:.0f}")
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
