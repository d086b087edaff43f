"""MQTT telemetry end to end: messages per CPU-second from the broker into InfluxDB, beside
`mosquitto_sub` reading the same stream in the same run.

A publisher process fills a persistent session for each reader with N access-point messages
while the readers are offline; then each reader drains it. edumon's CPU covers receive, JSON,
samples, spool fsync, the PUBACKs and the write to a real influxd; mosquitto_sub's covers
receive and printing (-C N, QoS 1).

Usage: python bench/mqtt.py [--messages 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiomqtt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.config import load_config
from gateway.devstack.servers import InfluxDB1, Mosquitto
from gateway.service import Service

SITE, AP = "vsk-1", "vsk-1-ap-101"
TOPIC = f"edumon/{SITE}/ap/{AP}/state"


async def publish(port: int, count: int) -> None:
    async with aiomqtt.Client(
        "127.0.0.1", port, identifier="bench-publisher", max_inflight_messages=1000
    ) as client:
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
            await client.publish(TOPIC, json.dumps(body).encode(), qos=1)


def config(workdir: Path, influx: InfluxDB1, broker: Mosquitto) -> Path:
    path = workdir / "edumon.yaml"
    path.write_text(
        f"service: {{state_dir: {workdir / 'state'}, http_listen: '127.0.0.1:0'}}\n"
        f"influxdb: {{url: {influx.url}, database: bench}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker.port}, client_id: bench}}\n"
        f"sites:\n  - id: {SITE}\n    name: Bench school\n    devices:\n"
        f"      - {{kind: access_point, id: {AP}, room: '101'}}\n"
    )
    return path


async def edumon_drain(path: Path, influx: InfluxDB1, count: int) -> tuple[float, float]:
    service = Service(load_config(path))
    stop = asyncio.Event()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    runner = asyncio.create_task(service.run(stop))
    async with asyncio.timeout(300):
        await asyncio.sleep(2.0)  # time to (re)subscribe the persistent session
        while influx_count(influx) < count:  # noqa: ASYNC110 - polling the database on purpose
            await asyncio.sleep(1.0)  # rarely: the polling's own CPU counts against edumon
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    stop.set()
    await runner
    return cpu, wall


def influx_count(influx: InfluxDB1) -> int:
    return influx.count("wifi_ap", "clients", db="bench")


def mosquitto_sub_session(port: int, *until: str, check: bool = True) -> None:
    """mosquitto_sub on the same persistent QoS 1 session each time, until `until` says stop."""
    command = [
        "mosquitto_sub",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-t",
        TOPIC,
        "-q",
        "1",
        "-c",
        "-i",
        "bench-sub",
        *until,
    ]
    subprocess.run(command, stdout=subprocess.DEVNULL, check=check)


def mosquitto_sub(port: int, count: int) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall0 = time.perf_counter()
    mosquitto_sub_session(port, "-C", str(count))
    wall = time.perf_counter() - wall0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    n = args.messages
    with (
        tempfile.TemporaryDirectory() as tmp,
        InfluxDB1(Path(tmp) / "influx") as influx,
        Mosquitto(Path(tmp) / "mqtt") as broker,
    ):
        influx.create_database("bench")
        path = config(Path(tmp), influx, broker)
        # register both persistent sessions, then fill them while the readers are away
        mosquitto_sub_session(broker.port, "-W", "1", check=False)  # -W 1: leave after 1 s
        asyncio.run(edumon_drain(path, influx, 0))
        asyncio.run(publish(broker.port, n))
        cpu, wall = asyncio.run(edumon_drain(path, influx, n))
        sub_cpu, sub_wall = mosquitto_sub(broker.port, n)
    print(f"{n:,} access-point messages (QoS 1, persistent sessions), real mosquitto and influxd")
    print(f"{'':38}{'CPU s':>8}{'wall s':>8}{'msgs/CPU-s':>12}")
    for label, c, w in (
        ("edumon (broker -> spool -> InfluxDB)", cpu, wall),
        ("mosquitto_sub (receive, print)", sub_cpu, sub_wall),
    ):
        print(f"{label:38}{c:8.2f}{w:8.2f}{n / c:12,.0f}")
    print(f"ratio edumon/mosquitto_sub CPU per message: x{cpu / sub_cpu:.1f}")


if __name__ == "__main__":
    main()
