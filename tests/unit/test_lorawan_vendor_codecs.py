"""Vendor decodeUplink codecs (device-repository shape, tests/fixtures/codecs): the files'
own examples decode, outputs map to environment fields, hostile codecs are stopped within
their limits and dead-lettered while good uplinks keep flowing, and the network server's
decoded object is preferred."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.lorawan.codecs import PayloadError
from collectors.lorawan.intake import LorawanIntake
from collectors.lorawan.js_codec import codec_source
from collectors.lorawan.samples import SensorInfo
from collectors.lorawan.vendor import vendor_decoders
from collectors.lorawan.vendor_config import VendorModel, load_codec
from collectors.lorawan.vendor_fields import map_fields
from gateway.config import check_config
from gateway.deadletter import DeadLetterFile
from gateway.plugins import PLUGINS
from simulators.lorawan.network_server import SimSensor, chirpstack_event, topic_of

CODECS = Path(__file__).resolve().parents[1] / "fixtures" / "codecs" / "vendor"
TIME_LIMIT_S = 0.2
MEMORY = 4 * 2**20


def examples() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, example)
        for path in sorted(CODECS.glob("*/*-codec.yaml"))
        for example in yaml.safe_load(path.read_text())["uplinkDecoder"]["examples"]
    ]


@pytest.mark.parametrize(("codec", "example"), examples())
def test_device_repository_examples_decode(codec: str, example: dict[str, Any]) -> None:
    js = load_codec(codec, CODECS / "acme-fake" / codec)
    given, wanted = example["input"], example["output"]
    if wanted.get("errors"):
        with pytest.raises(PayloadError, match="reports errors") as error:
            js.decode(bytes(given["bytes"]), given["fPort"], 0)
        assert error.value.kind == "codec_error"
    else:
        decoded = js.decode(bytes(given["bytes"]), given["fPort"], time.time_ns())
        assert {key: decoded.get(key) for key in wanted["data"]} == wanted["data"]


def test_outputs_map_to_environment_fields_by_default_names() -> None:
    data = {
        "temperature": 21.5,
        "humidity": 42,
        "co2": 660,
        "battery_voltage": 3,
        "light": 300,
        "motion": 3,
        "pir": "trigger",
    }
    assert map_fields("room", data) == {
        "co2_ppm": 660,
        "temp_c": 21.5,
        "humidity_pct": 42.0,
        "battery_v": 3.0,
        "light_lux": 300.0,
        "motion": 3,
        "occupancy": True,
    }
    nested = {
        "co2_concentration": {"value": 800},
        "air_temperature": {"value": 20.0},
        "voc_index": 100,
    }
    own = VendorModel(codec="x.js", fields={"tvoc_ppb": "voc_index"}).fields
    assert map_fields("air", nested, own) == {"co2_ppm": 800, "temp_c": 20.0, "tvoc_ppb": 100.0}


def uplink(sensor: SimSensor, f_cnt: int, data: bytes, f_port: int = 1, **extra: object) -> bytes:
    return json.dumps({**chirpstack_event(sensor, f_cnt, data, f_port, 1), **extra}).encode()


def intake(tmp_path: Path, *models: str) -> tuple[LorawanIntake, list[SimSensor]]:
    sensors = [
        SimSensor(f"70b3d57ed00600{i:02x}", m, m, "chirpstack") for i, m in enumerate(models)
    ]
    vendor = vendor_decoders(
        CODECS,
        {m: VendorModel(codec=f"acme-fake/{m}-codec.yaml") for m in models},
        time_limit_s=TIME_LIMIT_S,
        memory_bytes=MEMORY,
    )
    inventory = {s.dev_eui: SensorInfo("s1", s.name, "101", s.profile) for s in sensors}
    dead = DeadLetterFile(tmp_path / "lorawan.jsonl")
    return LorawanIntake(inventory, dead, vendor=vendor), sensors


def test_hostile_codecs_are_stopped_and_dead_lettered_while_good_uplinks_flow(
    tmp_path: Path,
) -> None:
    hostile = ("throws", "endless-loop", "memory-hog", "nonsense")
    lora, sensors = intake(tmp_path, "room-sensor", *hostile)
    good_room = bytes([0x03, 0x02, 0x94, 0x01, 0x00, 0xD7])
    stored: list[float] = []
    slowest = 0.0
    for f_cnt in range(1, 4):
        for sensor in sensors:
            frames = [good_room] if sensor.name == "room-sensor" else [b"\x09\x09", b"\x01\x01\xf4"]
            for n, frame in enumerate(frames):
                started = time.process_time()
                samples = lora.handle(topic_of(sensor), uplink(sensor, 2 * f_cnt + n, frame))
                slowest = max(slowest, time.process_time() - started)
                stored += [s.fields["co2_ppm"] for s in samples if s.measurement == "environment"]
    assert stored == [660, 500, 500, 500, 500] * 3  # every good uplink, hostile codecs' too
    kinds = [record["reason"].split(":")[0] for record in lora.dead_letters.read()]
    assert kinds == ["codec_error", "codec_timeout", "codec_memory", "codec_output"] * 3
    assert lora.counts == {
        "codec_error": 3,
        "codec_timeout": 3,
        "codec_memory": 3,
        "codec_output": 3,
    }
    assert slowest < 20 * TIME_LIMIT_S  # the CPU limit held (with room for a loaded machine)
    reasons = {record["reason"] for record in lora.dead_letters.read()}
    assert any("stopped after 0.2 s of CPU time" in r for r in reasons)
    assert any("heap limit" in r for r in reasons)
    assert any("threw Error: frame type 9 is not supported" in r for r in reasons)
    assert any("co2_ppm -12345 is outside" in r for r in reasons)


def test_the_network_servers_decoded_object_is_preferred(tmp_path: Path) -> None:
    lora, [sensor] = intake(tmp_path, "throws")
    body = uplink(sensor, 1, b"\x09", object={"co2": 777, "temperature": 19.5})
    [env, _radio] = lora.handle(topic_of(sensor), body)
    assert env.fields == {"co2_ppm": 777, "temp_c": 19.5}  # the codec (which throws) never ran
    foreign = uplink(sensor, 2, b"\x01\x01\xf4", object={"something": "else"})
    [env, _radio] = lora.handle(topic_of(sensor), foreign)
    assert env.fields == {"co2_ppm": 500}  # an object without our fields: the bytes decide


CONFIG = """\
lorawan:
  codec_dir: {codecs}
  models:
    room: {{codec: acme-fake/room-sensor-codec.yaml}}
    air: {{codec: acme-fake/air-probe.js, fields: {{tvoc_ppb: voc_index}}}}
sites:
  - id: s1
    name: School
    devices:
      - {{kind: lorawan_sensor, id: env-1, dev_eui: "70b3d57ed0060001", room: "1", profile: room}}
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("acme-fake/air-probe.js", "acme-fake/missing.js", 5, "cannot read"),
        ("acme-fake/air-probe.js", "../README.md", 5, "SyntaxError"),
        ("acme-fake/air-probe.js", "acme-fake/air-probe-codec.yaml", 0, ""),
        ("{tvoc_ppb: voc_index}", "{voc: voc_index}", 5, "unknown environment field 'voc'"),
        ("profile: room}", "profile: rooom}", 10, "neither built in"),
    ],
)
def test_config_problems_name_the_line(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    path = tmp_path / "edumon.yaml"
    text = CONFIG.format(codecs=CODECS)
    assert old in text
    path.write_text(text.replace(old, new))
    problems = check_config(path, PLUGINS, {})
    assert [p.line for p in problems] == ([line] if line else []), problems
    assert all(message in p.message for p in problems)


def test_a_codec_without_decode_uplink_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.js").write_text("function encodeDownlink(input) { return {}; }\n")
    with pytest.raises(ValueError, match="does not define decodeUplink"):
        load_codec("empty", tmp_path / "empty.js")
    assert "decodeUplink" in codec_source(CODECS / "acme-fake" / "room-sensor-codec.yaml")
