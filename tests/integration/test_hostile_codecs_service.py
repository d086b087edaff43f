"""Hostile vendor codecs against edumon running as a real process (real Mosquitto, real
InfluxDB), /healthz polled throughout (issue 26):

- codecs that throw an object whose toString loops, an Error whose message getter loops, and
  that return a Proxy whose traps loop: each bad uplink is dead-lettered within the codec's
  limits, its good uplinks are stored, and /healthz keeps answering;
- two devices of one model whose codec reports the previous uplink's CO2: each device's value
  is its own (a fresh context per decode);
- a model whose decodes stay within the per-uplink CPU limit but come too fast is quarantined
  (its uplinks dead-lettered `codec_quarantined`, counted in /metrics and /healthz, the
  component degraded, the CodecQuarantined alert) while another model's uplinks keep being stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.devstack.servers import InfluxDB1, Mosquitto, free_port
from gateway.mqtt_client import ClientOptions, MqttClient
from simulators.lorawan.network_server import SimSensor, chirpstack_event, topic_of
from tests.integration.test_hostile_disk_full import health, until
from tests.integration.test_hostile_service import edumon  # noqa: F401 - the fixture

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CODECS = Path(__file__).resolve().parents[1] / "fixtures" / "codecs" / "vendor"
TIME_LIMIT_S = 0.1  # CPU per decode
BUDGET_S = 0.2  # CPU per second and model
HOSTILE = {  # device -> its bad frame's dead letter
    SimSensor("70b3d57ed0090001", "tostring-1", "throws-looping-tostring", "chirpstack"): (
        "codec_error"
    ),
    SimSensor("70b3d57ed0090002", "message-1", "throws-looping-message", "chirpstack"): (
        "codec_error"
    ),
    SimSensor("70b3d57ed0090003", "proxy-1", "returns-proxy", "chirpstack"): "codec_timeout",
}
REMEMBERS = [
    SimSensor("70b3d57ed0090004", "remembers-a", "remembers-uplinks", "chirpstack"),
    SimSensor("70b3d57ed0090005", "remembers-b", "remembers-uplinks", "chirpstack"),
]
SLOW = SimSensor("70b3d57ed0090006", "slow-1", "slow", "chirpstack")
ROOM = SimSensor("70b3d57ed0090007", "room-1", "room-sensor", "chirpstack")
ROUNDS = 3
SLOW_UPLINKS = 30
GOOD = b"\x01\x01\xf4"  # 500 ppm for every acme-fake hostile codec
ROOM_FRAME = b"\x03\x02\x94"  # room-sensor: CO2 660 ppm


def config(tmp_path: Path, influxdb: InfluxDB1, broker: Mosquitto) -> Path:
    sensors = [*HOSTILE, *REMEMBERS, SLOW, ROOM]
    devices = "\n".join(
        f'      - {{kind: lorawan_sensor, id: {s.name}, dev_eui: "{s.dev_eui}", room: "1", '
        f"profile: {s.profile}}}"
        for s in sensors
    )
    models = "\n".join(
        f"    {p}: {{codec: acme-fake/{p}-codec.yaml}}"
        for p in sorted({s.profile for s in sensors})
    )
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"""
service: {{state_dir: {tmp_path / "state"}, http_listen: "127.0.0.1:0"}}
influxdb: {{url: {influxdb.url}, database: codecs, flush_interval_s: 0.2}}
mqtt: {{host: 127.0.0.1, port: {broker.port}, client_id: edumon-codecs}}
lorawan:
  codec_dir: {CODECS}
  codec_time_limit_s: {TIME_LIMIT_S}
  codec_budget_s: {BUDGET_S}
  codec_quarantine_s: 600
  models:
{models}
sites:
  - id: vsk-1
    name: School
    devices:
{devices}
"""
    )
    return path


class HealthPoller:
    """GET /healthz every 0.1 s; each answer's latency (a request that gets none in 5 s
    counts as 5 s)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.latencies: list[float] = []

    def once(self) -> None:
        started = time.perf_counter()
        with contextlib.suppress(OSError):  # a timeout: counted as its full wait
            health(self.port)
        self.latencies.append(time.perf_counter() - started)

    async def run(self) -> None:
        while True:
            await asyncio.to_thread(self.once)
            await asyncio.sleep(0.1)


def stored(influxdb: InfluxDB1) -> dict[str, list[float]]:
    """device -> [count, min, max] of its co2_ppm."""
    result = influxdb.query(
        'SELECT count("co2_ppm"), min("co2_ppm"), max("co2_ppm") FROM "environment" '
        'GROUP BY "device"',
        db="codecs",
    )
    series = result["results"][0].get("series", [])
    return {s["tags"]["device"]: s["values"][0][1:] for s in series}


def dead_letter_kinds(state: Path) -> dict[str, list[str]]:
    """device name -> the kinds of its dead letters, in order."""
    kinds: dict[str, list[str]] = {}
    path = state / "deadletter" / "lorawan.jsonl"
    for line in path.read_text().splitlines() if path.exists() else []:
        letter = json.loads(line)
        event = json.loads(str(letter["raw"]).split("\n", 1)[1])
        name = event["deviceInfo"]["deviceName"]
        kinds.setdefault(name, []).append(str(letter["reason"]).split(":")[0])
    return kinds


def read_metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        return str(answer.read().decode())


async def publish(client: MqttClient, sensor: SimSensor, f_cnt: int, frame: bytes) -> None:
    event = chirpstack_event(sensor, f_cnt, frame, 1, 1)
    await client.publish(topic_of(sensor), json.dumps(event).encode(), qos=1)


async def test_hostile_codecs_cannot_hang_or_starve_the_service(
    influxdb: InfluxDB1,
    mosquitto: Mosquitto,
    tmp_path: Path,
    edumon: Callable[..., int],  # noqa: F811 - the fixture
) -> None:
    influxdb.create_database("codecs")
    port = free_port()
    edumon(config(tmp_path, influxdb, mosquitto), port)
    poller = HealthPoller(port)
    async with MqttClient("127.0.0.1", mosquitto.port, ClientOptions("codec-ns")) as client:
        room_sent = 0

        async def room_uplink() -> None:
            nonlocal room_sent
            room_sent += 1
            await publish(client, ROOM, room_sent, ROOM_FRAME)

        def room_stored() -> bool:
            return stored(influxdb).get(ROOM.name, [0])[0] == room_sent

        await until(lambda: "components" in health(port), 60, "edumon did not start")
        await room_uplink()
        while not await asyncio.to_thread(room_stored):  # subscribed once one is stored
            await room_uplink()
            await asyncio.sleep(1.0)
        for _ in range(20):  # the baseline: /healthz on this machine, now
            await asyncio.to_thread(poller.once)
            await asyncio.sleep(0.1)
        baseline = max(poller.latencies)
        poller.latencies.clear()
        polling = asyncio.create_task(poller.run())

        for f_cnt in range(1, ROUNDS + 1):
            for sensor in HOSTILE:  # a frame that makes the codec misbehave, then a good one
                await publish(client, sensor, 2 * f_cnt, b"\x09")
                await publish(client, sensor, 2 * f_cnt + 1, GOOD)
            a, b = REMEMBERS
            await publish(client, a, f_cnt, GOOD)
            await publish(client, b, f_cnt, b"\x01\x02\xbc")  # 700 ppm
            await room_uplink()
            await asyncio.sleep(0.5)
        # ~80 ms of CPU each, all at once: decoded back to back, its worker takes far more
        # than 0.2 s of CPU a second, even on a busy machine
        for f_cnt in range(1, SLOW_UPLINKS + 1):
            await publish(client, SLOW, f_cnt, b"\x01\x01\xf4\x02")
            if f_cnt % 6 == 0:
                await room_uplink()

        def all_handled() -> bool:
            kinds = dead_letter_kinds(tmp_path / "state")
            values = stored(influxdb)
            return room_stored() and (
                len(kinds.get(SLOW.name, [])) + values.get(SLOW.name, [0])[0] == SLOW_UPLINKS
            )

        await until(all_handled, 60, "not every uplink was stored or dead-lettered")

        def alerting() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as answer:
                alerts = json.loads(answer.read())["alerts"]
            return any(alert["alertname"] == "CodecQuarantined" for alert in alerts)

        await until(alerting, 60, "no CodecQuarantined alert")
        polling.cancel()
        metrics = await asyncio.to_thread(read_metrics, port)
        lorawan = health(port)["components"]["lorawan"]

    kinds = dead_letter_kinds(tmp_path / "state")
    values = stored(influxdb)
    worst = max(poller.latencies)
    print(
        f"/healthz: {len(poller.latencies)} answers during the hostile uplinks, slowest "
        f"{worst * 1e3:.0f} ms (baseline before them {baseline * 1e3:.0f} ms); slow model: "
        f"{values.get(SLOW.name, [0])[0]} stored, {len(kinds[SLOW.name])} quarantined"
    )
    for sensor, kind in HOSTILE.items():
        assert kinds[sensor.name] == [kind] * ROUNDS, (sensor.name, kinds)
        assert values[sensor.name] == [ROUNDS, 500, 500]  # every good frame after a bad one
    a, b = REMEMBERS
    assert values[a.name] == [ROUNDS, 500, 500] and values[b.name] == [ROUNDS, 700, 700]
    assert set(kinds[SLOW.name]) == {"codec_quarantined"}  # once past its budget, every one
    assert values[ROOM.name][0] == room_sent and ROOM.name not in kinds  # the other model flowed
    assert 'outcome="codec_quarantines",reason="slow"} 1.0' in metrics
    assert lorawan["status"] == "degraded" and "quarantined" in lorawan["detail"]
    assert "slow" in lorawan["detail"] and lorawan["counts"]["codec_quarantines:slow"] == 1
    rejected = f'outcome="rejected",reason="codec_quarantined"}} {len(kinds[SLOW.name])}.0'
    assert rejected in metrics
    # each hostile decode is bounded by TIME_LIMIT_S of CPU in its worker, none on the loop:
    # /healthz answers within the 0.5 s the issue asks, beyond what it took before on this
    # (possibly loaded) machine
    assert worst < 0.5 + baseline, (worst, baseline)
