"""Hostile devices against the whole running service (edumon as a child process, real
Mosquitto, real InfluxDB):

- every bad-input kind the issue reported (JSON nested 100k deep, integers of 400 and 5000
  digits, NaN, a new band, a lone surrogate) is dead-lettered with its reason, good data is
  stored;
- one access point sends 40,000 distinct band values: edumon's RSS grows by less than 20 MB,
  the alert state file stays small, and another AP's data keeps reaching InfluxDB within 10 s
  throughout (the worst lag is printed)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gateway.devstack.servers import InfluxDB1, Mosquitto, free_port
from gateway.mqtt_client import ClientOptions, MqttClient
from tests.processes import REPO

pytestmark = pytest.mark.integration
FLOOD = 40_000
NOISY, QUIET = "vsk-1-ap-101", "vsk-1-ap-102"


def config(tmp_path: Path, influxdb: InfluxDB1, broker: Mosquitto, database: str) -> Path:
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"""
service: {{state_dir: {tmp_path / "state"}, http_listen: "127.0.0.1:0"}}
influxdb: {{url: {influxdb.url}, database: {database}, flush_interval_s: 0.2}}
mqtt: {{host: 127.0.0.1, port: {broker.port}, client_id: edumon-{database}}}
sites:
  - id: vsk-1
    name: School
    devices:
      - {{kind: access_point, id: {NOISY}, room: "101"}}
      - {{kind: access_point, id: {QUIET}, room: "102"}}
  - id: vizium
    name: Science centre
    kind: science_centre
    devices:
      - {{kind: exhibit, id: vizium-lightning, zone: electricity}}
"""
    )
    return path


@pytest.fixture
def edumon(tmp_path: Path) -> Iterator[Callable[..., int]]:
    """Starts `edumon run` (its log to edumon.log: a pipe nobody reads would block it at
    64 KB) with its HTTP on `port` (default: any); the pid; terminated at the end."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(path: Path, port: int | None = None) -> int:
        with (tmp_path / "edumon.log").open("ab") as log:
            command = [sys.executable, "-m", "gateway.cli", "run", "-c", str(path)]
            command += ["--listen", f"127.0.0.1:{port or free_port()}"]
            environment = {**os.environ, "PYTHONPATH": str(REPO)}
            processes.append(subprocess.Popen(command, cwd=REPO, stderr=log, env=environment))
        return processes[-1].pid

    yield start
    for process in processes:
        process.terminate()
        process.wait(20)


def state(band: str, clients: int) -> bytes:
    return json.dumps({"ts": time.time(), "radios": [{"band": band, "clients": clients}]}).encode()


def topic(ap: str) -> str:
    return f"edumon/vsk-1/ap/{ap}/state"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def dead_letters(state_dir: Path) -> list[dict[str, object]]:
    records = []
    for path in sorted((state_dir / "deadletter").glob("mqtt.jsonl*"), reverse=True):
        records += [json.loads(line) for line in path.read_text().splitlines() if line]
    return records


@dataclass
class Probe:
    """The quiet AP: one message every 0.5 s, each timed until InfluxDB returns it."""

    influxdb: InfluxDB1
    database: str
    client: MqttClient
    lags: list[float] = field(default_factory=list)
    sent: int = 0

    async def once(self) -> None:
        self.sent += 1
        published = time.monotonic()
        await self.client.publish(topic(QUIET), state("5g", self.sent), qos=1)
        async with asyncio.timeout(10):  # the Must-show bound
            while await asyncio.to_thread(self.latest) != self.sent:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        self.lags.append(time.monotonic() - published)

    def latest(self) -> int | None:
        result = self.influxdb.query(
            f'SELECT last("clients") FROM "wifi_ap" WHERE "ap" = \'{QUIET}\'', db=self.database
        )
        series = result["results"][0].get("series")
        return int(series[0]["values"][0][1]) if series else None

    async def started(self) -> None:
        """Until edumon is up and subscribed: its first message stored."""
        async with asyncio.timeout(60):
            while True:
                try:
                    return await self.once()
                except TimeoutError:
                    continue

    async def until(self, done: asyncio.Event) -> None:
        while not done.is_set():
            await self.once()
            await asyncio.sleep(0.5)


async def connected(broker: Mosquitto, name: str) -> MqttClient:
    client = MqttClient("127.0.0.1", broker.port, ClientOptions(name))
    await client.connect()
    return client


BAD = [  # (the reason's start, the payload): the inputs and more
    ("invalid JSON: nested too deep", b"[" * 100_000 + b"]" * 100_000),
    ("wrong shape: 'clients'", b'{"radios": [{"band": "5g", "clients": ' + b"9" * 400 + b"}]}"),
    ("invalid JSON: Exceeds", b'{"radios": [{"band": "5g", "clients": ' + b"9" * 5000 + b"}]}"),
    ("wrong shape: 'noise_dbm'", b'{"radios": [{"band": "5g", "noise_dbm": NaN}]}'),
    ("unknown band", state("band-x", 1)),
    ("wrong shape: 'fw'", b'{"fw": "\\ud800"}'),
]


async def test_every_reported_bad_input_is_dead_lettered_through_the_service(
    influxdb: InfluxDB1, mosquitto: Mosquitto, tmp_path: Path, edumon: Callable[..., int]
) -> None:
    influxdb.create_database("hostile")
    edumon(config(tmp_path, influxdb, mosquitto, "hostile"))
    client = await connected(mosquitto, "hostile-publisher")
    try:
        probe = Probe(influxdb, "hostile", client)
        await probe.started()
        for reason, payload in BAD:
            where = (
                "edumon/vizium/exhibit/vizium-lightning/health"
                if "'fw'" in reason
                else topic(NOISY)
            )
            for _ in range(10):
                await client.publish(where, payload, qos=1)
        await probe.once()  # published after them: they were all handled
    finally:
        await client.__aexit__(None, None, None)
    reasons = [str(letter["reason"]) for letter in dead_letters(tmp_path / "state")]
    assert len(reasons) == 10 * len(BAD)
    for reason, _ in BAD:
        assert sum(r.startswith(reason) for r in reasons) == 10, (reason, reasons)
    letters = dead_letters(tmp_path / "state")
    deepest = next(letter for letter in letters if "nested too deep" in str(letter["reason"]))
    assert deepest["raw_size"] == len(topic(NOISY)) + 1 + 200_000 and deepest["truncated"]


async def test_a_flood_of_band_values_is_bounded_and_the_city_keeps_flowing(
    influxdb: InfluxDB1, mosquitto: Mosquitto, tmp_path: Path, edumon: Callable[..., int]
) -> None:
    influxdb.create_database("flood")
    pid = edumon(config(tmp_path, influxdb, mosquitto, "flood"))
    flooder = await connected(mosquitto, "flooding-ap")
    prober = await connected(mosquitto, "quiet-ap")
    try:
        probe = Probe(influxdb, "flood", prober)
        await probe.started()
        for _ in range(5):  # warm up: the steady state is the baseline
            await probe.once()
        before = rss_kib(pid)
        done = asyncio.Event()
        probing = asyncio.create_task(probe.until(done))
        for start in range(0, FLOOD, 500):
            await asyncio.gather(
                *(
                    flooder.publish(topic(NOISY), state(f"band-{n}", 1), qos=1)
                    for n in range(start, start + 500)
                )
            )
        done.set()
        await probing
        await probe.once()  # after the whole flood
        after = rss_kib(pid)
    finally:
        for client in (flooder, prober):
            await client.__aexit__(None, None, None)
    letters = dead_letters(tmp_path / "state")
    alert_state = tmp_path / "state" / "alerts.json"
    state_size = alert_state.stat().st_size if alert_state.exists() else 0
    print(
        f"flood of {FLOOD} bands: RSS {before} -> {after} KiB (+{(after - before) / 1024:.1f} MB), "
        f"quiet AP lag max {max(probe.lags):.2f} s over {len(probe.lags)} probes, "
        f"alerts.json {state_size} B, {len(letters)} dead letters kept on disk"
    )
    assert after - before < 20 * 1024
    assert max(probe.lags) < 10
    assert state_size < 64 * 1024
    assert all(str(letter["reason"]).startswith("unknown band") for letter in letters)
    sizes = {p.name: p.stat().st_size for p in (tmp_path / "state" / "deadletter").iterdir()}
    tail = sum(size for name, size in sizes.items() if ".first-" not in name)
    assert tail <= 2 * 4 * 1024 * 1024  # the cap: 4 MiB and one rotated file
    assert sum(sizes.values()) - tail <= 4 * 1024 * 1024  # the day's first records per reason
