"""Vendor decodeUplink codecs (device-repository shape, tests/fixtures/codecs): the files'
own examples decode, outputs map to environment fields, hostile codecs are stopped within
their limits and dead-lettered while good uplinks keep flowing, and the network server's
decoded object is preferred."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.lorawan.codec_runtime import CpuBudget
from collectors.lorawan.codecs import PayloadError
from collectors.lorawan.intake import LorawanIntake
from collectors.lorawan.js_codec import codec_source
from collectors.lorawan.plugin import stop_codec_workers, vendor_of
from collectors.lorawan.samples import SensorInfo
from collectors.lorawan.vendor import quarantine_totals, vendor_decoders
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
async def test_device_repository_examples_decode(codec: str, example: dict[str, Any]) -> None:
    js = load_codec(codec, CODECS / "acme-fake" / codec)
    given, wanted = example["input"], example["output"]
    try:
        if wanted.get("errors"):
            with pytest.raises(PayloadError, match="reports errors") as error:
                await js.decode(bytes(given["bytes"]), given["fPort"], 0)
            assert error.value.kind == "codec_error"
        else:
            decoded = await js.decode(bytes(given["bytes"]), given["fPort"], time.time_ns())
            assert {key: decoded.get(key) for key in wanted["data"]} == wanted["data"]
    finally:
        await js.stop()


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


def intake(
    tmp_path: Path, *models: str, budget_s: float = 4.0, quarantine_s: float = 60.0
) -> tuple[LorawanIntake, list[SimSensor]]:
    sensors = [
        SimSensor(f"70b3d57ed00600{i:02x}", m, m, "chirpstack") for i, m in enumerate(models)
    ]
    vendor = vendor_decoders(
        CODECS,
        {m: VendorModel(codec=f"acme-fake/{m}-codec.yaml") for m in set(models)},
        time_limit_s=TIME_LIMIT_S,
        memory_bytes=MEMORY,
        budget_s=budget_s,
        quarantine_s=quarantine_s,
    )
    inventory = {s.dev_eui: SensorInfo("s1", s.name, "101", s.profile) for s in sensors}
    dead = DeadLetterFile(tmp_path / "lorawan.jsonl")
    return LorawanIntake(inventory, dead, vendor=vendor), sensors


HOSTILE = {  # codec -> how its bad frame ends
    "throws": "codec_error",
    "endless-loop": "codec_timeout",
    "memory-hog": "codec_memory",
    "nonsense": "codec_output",
    "throws-looping-tostring": "codec_error",  # never turned into text by calling it
    "throws-looping-message": "codec_error",  # the getter is never called
    "returns-proxy": "codec_timeout",  # its traps run under the limit
    "poisons-intrinsics": "codec_timeout",  # the engine's error is not the codec's to rewrite
}


async def test_hostile_codecs_are_stopped_and_dead_lettered_while_good_uplinks_flow(
    tmp_path: Path,
) -> None:
    lora, sensors = intake(tmp_path, "room-sensor", *HOSTILE)
    good_room = bytes([0x03, 0x02, 0x94, 0x01, 0x00, 0xD7])
    stored: list[float] = []
    slowest = 0.0
    for f_cnt in range(1, 3):
        for sensor in sensors:
            frames = [good_room] if sensor.name == "room-sensor" else [b"\x09\x09", b"\x01\x01\xf4"]
            for n, frame in enumerate(frames):
                started = time.monotonic()
                samples = await lora.handle(topic_of(sensor), uplink(sensor, 2 * f_cnt + n, frame))
                slowest = max(slowest, time.monotonic() - started)
                stored += [s.fields["co2_ppm"] for s in samples if s.measurement == "environment"]
    assert stored == ([660] + [500] * len(HOSTILE)) * 2  # every good uplink, hostile codecs' too
    kinds = [record["reason"].split(":")[0] for record in lora.dead_letters.read()]
    assert kinds == list(HOSTILE.values()) * 2
    assert sum(lora.counts.values()) == 2 * len(HOSTILE)
    assert slowest < 20 * TIME_LIMIT_S  # the CPU limit held (with room for a loaded machine)
    reasons = {record["reason"] for record in lora.dead_letters.read()}
    assert any("stopped after 0.2 s of CPU time" in r for r in reasons)
    assert any("heap limit" in r for r in reasons)
    assert any("threw Error: frame type 9 is not supported" in r for r in reasons)
    assert any("co2_ppm -12345 is outside" in r for r in reasons)
    assert any("throws-looping-tostring threw an object: " in r for r in reasons)
    await stop_codec_workers(lora)


async def test_the_event_loop_runs_while_codecs_decode(tmp_path: Path) -> None:
    """Decodes are awaited in the codec's worker process: the loop keeps ticking meanwhile."""
    lora, sensors = intake(tmp_path, "endless-loop", "returns-proxy", "throws-looping-tostring")
    loop = asyncio.get_running_loop()
    lags: list[float] = []

    async def tick() -> None:
        while True:
            before = loop.time()
            await asyncio.sleep(0.005)
            lags.append(loop.time() - before - 0.005)

    ticker = asyncio.create_task(tick())
    for f_cnt in range(1, 4):
        for sensor in sensors:
            await lora.handle(topic_of(sensor), uplink(sensor, f_cnt, b"\x09"))
    ticker.cancel()
    assert lora.counts == {"codec_timeout": 6, "codec_error": 3}
    # a decode on the loop would allow about one tick per decode: it ticked throughout ~9 CPU
    # limits' worth of decodes instead, mostly on time (a loaded machine may delay a few)
    assert len(lags) > 9 * TIME_LIMIT_S / 0.02
    assert sorted(lags)[len(lags) // 2] < TIME_LIMIT_S / 4
    await stop_codec_workers(lora)


async def test_two_devices_of_one_model_see_only_their_own_bytes(tmp_path: Path) -> None:
    """remembers-uplinks reports the previous uplink's CO2: a context shared between uplinks
    would give device B device A's value."""
    lora, [a, b] = intake(tmp_path, "remembers-uplinks", "remembers-uplinks")
    frames = {a: b"\x01\x01\xf4", b: b"\x01\x02\xbc"}  # 500 and 700 ppm
    stored = []
    for f_cnt in range(1, 4):
        for sensor in (a, b):
            samples = await lora.handle(topic_of(sensor), uplink(sensor, f_cnt, frames[sensor]))
            stored += [(s.tags["device"], s.fields["co2_ppm"]) for s in samples[:1]]
    assert stored == [(a.name, 500), (b.name, 700)] * 3
    await stop_codec_workers(lora)


async def test_a_model_over_its_cpu_budget_is_quarantined_while_others_flow(
    tmp_path: Path,
) -> None:
    """slow burns ~40 ms of CPU per uplink (frame byte 3 = 1), within its 0.2 s limit: three
    of them a second are past a 0.05 s/s budget."""
    lora, [slow, room] = intake(tmp_path, "slow", "room-sensor", budget_s=0.05)
    good_room = bytes([0x03, 0x02, 0x94])
    room_stored = 0
    for f_cnt in range(1, 7):
        await lora.handle(topic_of(slow), uplink(slow, f_cnt, b"\x01\x01\xf4\x01"))
        samples = await lora.handle(topic_of(room), uplink(room, f_cnt, good_room))
        room_stored += len(samples) == 2
    assert room_stored == 6
    assert lora.counts["codec_quarantined"] >= 4  # at most two decoded before the quarantine
    reasons = [r["reason"] for r in lora.dead_letters.read()]
    assert all(
        r.startswith("codec_quarantined: codec slow quarantined for another") for r in reasons
    )
    assert quarantine_totals(vendor_of(lora)) == {
        ("codec_quarantines", "slow"): 1,
        ("codec_quarantines", "room-sensor"): 0,
    }
    await stop_codec_workers(lora)


def test_the_budget_quarantines_past_its_rate_and_frees_after_the_quarantine() -> None:
    now = [0.0]
    budget = CpuBudget(0.1, 30.0, clock=lambda: now[0])
    for _ in range(10):  # 0.05 s of CPU every second: half the budget, forever fine
        now[0] += 1.0
        assert not budget.charge(0.05)
    now[0] += 1.0
    assert not budget.charge(0.06)
    now[0] += 0.1
    assert budget.charge(0.06) and budget.quarantines == 1  # 0.11 s left in the bucket
    assert budget.left_s() == 30.0
    now[0] += 30.0
    assert budget.left_s() == 0.0


@pytest.mark.parametrize(
    ("returns", "kind", "reason"),
    [
        (  # nested deeper than Python's json parses
            "(function () { var a = {}; for (var i = 0; i < 1500; i++) { a = {a: a}; } "
            "return a; })()",
            "codec_output",
            "recursion",
        ),
        ("Symbol('x')", "codec_output", "returned symbol"),
        ("{ data: { co2: 10n } }", "codec_error", "threw TypeError"),  # JSON has no BigInt
        ("'x'.repeat(100000)", "codec_output", "more than 65536 characters"),
    ],
)
async def test_odd_outputs_are_refused(
    tmp_path: Path, returns: str, kind: str, reason: str
) -> None:
    (tmp_path / "odd.js").write_text(f"function decodeUplink(input) {{ return {returns}; }}\n")
    js = load_codec("odd", tmp_path / "odd.js", 1.0)
    with pytest.raises(PayloadError, match=reason) as error:
        await js.decode(b"\x01", 1, 0)
    assert error.value.kind == kind
    await js.stop()


LOOP = "for (;;) {}"
HOG = "var hoard = []; for (;;) { hoard.push(new Array(4096).fill(1)); }"


@pytest.mark.parametrize(
    ("attack", "then", "kind"),
    [  # what the engine turns into text outside the limits, were the codec to reach it
        ("Error.prototype.toString = function () { for (;;) {} };", LOOP, "codec_timeout"),
        ("InternalError.prototype.toString = function () { for (;;) {} };", LOOP, "codec_timeout"),
        (
            "Object.defineProperty(InternalError.prototype, 'message', "
            "{ get: function () { for (;;) {} } });",
            LOOP,
            "codec_timeout",
        ),
        (
            "Object.prototype[Symbol.toPrimitive] = function () { for (;;) {} };",
            LOOP,
            "codec_timeout",
        ),
        ("Object.prototype.toString = function () { for (;;) {} };", LOOP, "codec_timeout"),
        (
            "Object.defineProperty(Error.prototype, 'stack', { get: function () { for (;;) {} } });",
            LOOP,
            "codec_timeout",
        ),
        ("Error.prepareStackTrace = function () { for (;;) {} };", LOOP, "codec_timeout"),
        ("Error.prototype.toString = function () { for (;;) {} };", HOG, "codec_memory"),
    ],
)
async def test_the_engines_own_errors_are_out_of_the_codecs_reach(
    tmp_path: Path, attack: str, then: str, kind: str
) -> None:
    """Each attack is tried (and may fail) before the codec loops or hoards: the decode still
    ends within its limits in the sandbox, without the worker being killed."""
    source = f"try {{ {attack} }} catch (e) {{}}\nfunction decodeUplink(input) {{ {then} }}\n"
    (tmp_path / "attack.js").write_text(source)
    js = load_codec("attack", tmp_path / "attack.js", TIME_LIMIT_S, MEMORY)
    with pytest.raises(PayloadError) as error:
        await js.decode(b"\x09", 1, 0)
    assert error.value.kind == kind, error.value
    assert js.worker.starts == 1 and js.cpu_s < 2 * TIME_LIMIT_S  # no kill was needed
    await js.stop()


async def test_a_stuck_worker_is_killed_at_its_deadline_and_restarted() -> None:
    """The backstop for anything the CPU limit cannot stop: a worker that does not answer by
    its deadline is killed, the uplink dead-lettered, and the next decode gets a new worker."""
    path = CODECS / "acme-fake" / "endless-loop-codec.yaml"
    js = load_codec("endless-loop", path, 5.0, budget=CpuBudget(per_s=4.0, quarantine_s=60.0))
    js.worker.deadline_s = 0.5  # shorter than the CPU limit: the worker looks stuck
    started = time.monotonic()
    with pytest.raises(PayloadError, match=r"no answer within 0\.5 s") as error:
        await js.decode(b"\x09", 1, 0)
    assert error.value.kind == "codec_timeout"
    assert time.monotonic() - started < 5.0
    assert await js.decode(b"\x01\x01\xf4", 1, 0) == {"co2": 500}
    assert js.worker.starts == 2
    await js.stop()


async def test_a_codec_worker_gets_none_of_the_services_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EDUMON_MQTT_PASSWORD", "not-for-codecs")
    js = load_codec("room", CODECS / "acme-fake" / "room-sensor-codec.yaml")
    await js.decode(b"\x03\x02\x94", 1, 0)
    assert js.worker._process is not None
    pid = js.worker._process.pid
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert {variable.split(b"=")[0] for variable in environ if variable} <= {b"PATH", b"PYTHONPATH"}
    await js.stop()


async def test_the_network_servers_decoded_object_is_preferred(tmp_path: Path) -> None:
    lora, [sensor] = intake(tmp_path, "throws")
    body = uplink(sensor, 1, b"\x09", object={"co2": 777, "temperature": 19.5})
    [env, _radio] = await lora.handle(topic_of(sensor), body)
    assert env.fields == {"co2_ppm": 777, "temp_c": 19.5}  # the codec (which throws) never ran
    foreign = uplink(sensor, 2, b"\x01\x01\xf4", object={"something": "else"})
    [env, _radio] = await lora.handle(topic_of(sensor), foreign)
    assert env.fields == {"co2_ppm": 500}  # an object without our fields: the bytes decide
    await stop_codec_workers(lora)


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
