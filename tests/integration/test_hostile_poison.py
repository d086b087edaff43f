"""A poison uplink against edumon as a real process (real Mosquitto, real InfluxDB): its vendor
codec loops for the whole time limit (5 s), edumon is killed with SIGKILL while the uplink is
in flight, twice, and restarted each time; the broker delivers it again after each restart,
and the third edumon dead-letters it as `poison` instead of decoding it, while the other
sensor's uplinks, queued behind it, are all stored. Every file in the state directory is
edumon's user's only."""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.devstack.servers import InfluxDB1, Mosquitto, free_port
from gateway.mqtt_client import ClientOptions, MqttClient
from simulators.lorawan.network_server import SimSensor, chirpstack_event, payload, topic_of
from tests.integration.test_hostile_disk_full import health, until
from tests.integration.test_hostile_service import edumon  # noqa: F401

pytestmark = pytest.mark.integration
CODECS = Path(__file__).resolve().parents[1] / "fixtures" / "codecs" / "vendor"
POISON = SimSensor("70b3d57ed0090001", "loop-1", "endless-loop", "chirpstack")
GOOD = SimSensor("70b3d57ed0090002", "co2-1", "env-sensor", "chirpstack")
GOOD_UPLINKS = 10


def config(tmp_path: Path, influxdb: InfluxDB1, mosquitto: Mosquitto) -> Path:
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"""
service: {{state_dir: {tmp_path / "state"}, http_listen: "127.0.0.1:0"}}
influxdb: {{url: {influxdb.url}, database: poison, flush_interval_s: 0.2}}
mqtt: {{host: 127.0.0.1, port: {mosquitto.port}, client_id: edumon-poison}}
lorawan:
  codec_dir: {CODECS}
  codec_time_limit_s: 5
  models:
    endless-loop: {{codec: acme-fake/endless-loop-codec.yaml}}
sites:
  - id: vsk-1
    name: School
    devices:
      - {{kind: lorawan_sensor, id: {POISON.name}, dev_eui: "{POISON.dev_eui}", profile: endless-loop}}
      - {{kind: lorawan_sensor, id: {GOOD.name}, dev_eui: "{GOOD.dev_eui}", room: "3"}}
"""
    )
    return path


def uplink(sensor: SimSensor, f_cnt: int, frame: bytes, f_port: int) -> bytes:
    return json.dumps(chirpstack_event(sensor, f_cnt, frame, f_port, 1)).encode()


async def subscribed(edumon: Callable[..., int], path: Path) -> int:  # noqa: F811 - the fixture
    port = free_port()
    pid = edumon(path, port)

    def connected() -> bool:
        return bool(health(port)["components"]["lorawan"]["connected"])

    await until(connected, 60, "edumon did not subscribe")
    return pid


async def kill_while_in_flight(pid: int, journal: Path) -> None:
    """SIGKILL once the journal names a message being handled (the poison, decoding; a codec
    on the event loop leaves /healthz unanswered meanwhile, so the journal is what tells)."""
    await until(lambda: bool(journal.read_text().strip()), 30, "no message in flight")
    os.kill(pid, signal.SIGKILL)
    await until(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 10, "still alive")


def _zombie(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"


async def test_an_uplink_that_kills_edumon_twice_is_dead_lettered_as_poison(
    influxdb: InfluxDB1,
    mosquitto: Mosquitto,
    tmp_path: Path,
    edumon: Callable[..., int],  # noqa: F811 - the fixture
) -> None:
    influxdb.create_database("poison")
    path = config(tmp_path, influxdb, mosquitto)
    state = tmp_path / "state"
    journal = state / "inflight" / "lorawan.current"
    pid = await subscribed(edumon, path)
    async with MqttClient("127.0.0.1", mosquitto.port, ClientOptions("poison-ns")) as client:
        await client.publish(topic_of(POISON), uplink(POISON, 1, b"\x09", 1), qos=1)
        for f_cnt in range(1, GOOD_UPLINKS + 1):  # queued behind it
            f_port, frame = payload(GOOD, f_cnt, 1_796_428_800.0)
            await client.publish(topic_of(GOOD), uplink(GOOD, f_cnt, frame, f_port), qos=1)
    log = tmp_path / "edumon.log"
    for restart in (1, 2):  # the first delivery, then the broker's redelivery after a restart
        await kill_while_in_flight(pid, journal)
        pid = edumon(path, free_port())

        def journal_read(restarts: int = restart) -> bool:
            return log.read_text().count("edumon stopped while handling message") == restarts

        await until(journal_read, 60, "the restarted edumon did not read its journal")

    def dead_letters() -> list[dict[str, str]]:
        lines = (state / "deadletter" / "lorawan.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    await until(lambda: any(d["reason"].startswith("poison") for d in dead_letters()), 30, "")
    await until(lambda: influxdb.count("environment", "co2_ppm", db="poison") == 10, 30, "lost")
    [poison] = dead_letters()
    assert poison["reason"].startswith("poison: edumon stopped 2 times while handling")
    assert poison["raw"].startswith(topic_of(POISON) + "\n") and POISON.dev_eui in poison["raw"]
    assert log.read_text().count("edumon stopped while handling message") == 2
    modes = {p.relative_to(state): stat.S_IMODE(p.stat().st_mode) for p in state.rglob("*")}
    assert {"deadletter/lorawan.jsonl", "inflight/lorawan.current", "spool/cursor"} <= {
        str(p) for p in modes
    }
    assert all(mode == (0o700 if (state / p).is_dir() else 0o600) for p, mode in modes.items())
