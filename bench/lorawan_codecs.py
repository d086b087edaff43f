"""Decode cost per LoRaWAN uplink: the built-in byte decoder (collectors/lorawan/codecs.py)
beside a vendor decodeUplink codec in QuickJS (the engine edumon uses: a fresh context per
decode, as its codec workers run it) and, when the `mini-racer` package is installed, the same
codec in V8 - the measurement behind the choice of engine. Also the whole intake per uplink
(JSON event, dedup, samples) for a built-in and a vendor-codec sensor, whose codec runs in its
worker process: the service's CPU and the worker's (as the worker reports it) are both counted,
and the wall time per uplink is shown; and the cost of being stopped at a limit.

Times are CPU seconds (time.process_time, plus the worker's for a vendor-codec sensor), rounds
interleaved; ratios are against the built-in decoder of the same run.

Usage: python bench/lorawan_codecs.py [--uplinks 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import struct
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collectors.lorawan.codec_runtime import JsCodec  # noqa: E402
from collectors.lorawan.codecs import decode_payload  # noqa: E402
from collectors.lorawan.intake import LorawanIntake  # noqa: E402
from collectors.lorawan.js_codec import codec_source, run_codec  # noqa: E402
from collectors.lorawan.samples import SensorInfo  # noqa: E402
from collectors.lorawan.vendor import vendor_decoders  # noqa: E402
from collectors.lorawan.vendor_config import VendorModel, load_codec  # noqa: E402
from gateway.deadletter import DeadLetterFile  # noqa: E402
from simulators.lorawan.network_server import SimSensor, chirpstack_event, topic_of  # noqa: E402

CODECS = ROOT / "tests" / "fixtures" / "codecs" / "vendor"
ROOM_SENSOR = "acme-fake/room-sensor-codec.yaml"
VENDOR_FRAME = bytes.fromhex("0100d7022a030294040bb805012c06030701")  # the codec's example
ENV_FRAME = struct.pack(">BHhBHB", 1, 660, 2150, 84, 3000, 0)


def cpu_per_call(call: Callable[[], object], n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - started) / n


def mini_racer_call() -> Callable[[], object] | None:
    try:
        from py_mini_racer import MiniRacer  # type: ignore[import-not-found]
    except ImportError:
        return None
    racer = MiniRacer()
    racer.eval(codec_source(CODECS / ROOM_SENSOR))
    racer.eval(
        "function __run(t) { var i = JSON.parse(t); i.recvTime = new Date(i.recvTime);"
        " return JSON.stringify(decodeUplink(i)); }"
    )
    text = json.dumps({"bytes": list(VENDOR_FRAME), "fPort": 1, "recvTime": 0})
    return lambda: json.loads(racer.call("__run", text, timeout_sec=1))


Uplinks = Callable[[], Awaitable[object]]


def intake_calls(n: int) -> tuple[Uplinks, Uplinks, JsCodec]:
    builtin = SimSensor("70b3d57ed0070001", "env", "env-sensor", "chirpstack")
    vendor = SimSensor("70b3d57ed0070002", "room", "room", "chirpstack")
    decoders = vendor_decoders(
        CODECS,
        {"room": VendorModel(codec=ROOM_SENSOR)},
        time_limit_s=0.05,
        memory_bytes=8 << 20,
        budget_s=4.0,  # the bench measures cost, not the budget
        quarantine_s=60.0,
    )
    inventory = {s.dev_eui: SensorInfo("s1", s.name, "101", s.profile) for s in (builtin, vendor)}
    dead = DeadLetterFile(Path(tempfile.mkdtemp()) / "dead.jsonl")
    intake = LorawanIntake(inventory, dead, vendor=decoders)

    def uplinks(sensor: SimSensor, frame: bytes, f_port: int) -> Uplinks:
        bodies = iter(
            json.dumps(chirpstack_event(sensor, f_cnt, frame, f_port, 1)).encode()
            for f_cnt in range(1, 10 * n)
        )
        topic = topic_of(sensor)
        return lambda: intake.handle(topic, next(bodies))

    return uplinks(builtin, ENV_FRAME, 2), uplinks(vendor, VENDOR_FRAME, 1), decoders["room"].codec


async def cost_per_await(call: Uplinks, n: int, codec: JsCodec | None) -> tuple[float, float]:
    """(CPU per call, the service's and the codec worker's; wall time per call)."""
    cpu, worker, wall = time.process_time(), codec.cpu_s if codec else 0.0, time.perf_counter()
    for _ in range(n):
        await call()
    worker = (codec.cpu_s if codec else 0.0) - worker
    return (time.process_time() - cpu + worker) / n, (time.perf_counter() - wall) / n


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uplinks", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n = args.uplinks

    source = codec_source(CODECS / ROOM_SENSOR)
    text = json.dumps({"bytes": list(VENDOR_FRAME), "fPort": 1, "recvTime": 0})
    calls: dict[str, Callable[[], object]] = {
        "built-in decoder (struct)": lambda: decode_payload("env-sensor", 2, ENV_FRAME),
        "vendor codec, QuickJS": lambda: run_codec(
            source, text, time_limit_s=0.05, memory_bytes=8 << 20
        ),
    }
    racer = mini_racer_call()
    if racer is not None:
        calls["vendor codec, V8 (mini-racer)"] = racer
    builtin_intake, vendor_intake, codec = intake_calls(n * args.rounds)
    intakes = {
        "intake, built-in sensor": (builtin_intake, None),
        "intake, vendor-codec sensor": (vendor_intake, codec),
    }

    best: dict[str, float] = {}
    walls: dict[str, float] = {}
    for _ in range(args.rounds):  # interleaved, the best of each
        for name, call in calls.items():
            cost = cpu_per_call(call, n // 10 if "V8" in name else n)
            best[name] = min(best.get(name, cost), cost)
        for name, (uplink, worker) in intakes.items():
            cost, wall = await cost_per_await(uplink, n, worker)
            best[name] = min(best.get(name, cost), cost)
            walls[name] = min(walls.get(name, wall), wall)
    base = best["built-in decoder (struct)"]
    print(
        f"{platform.python_implementation()} {platform.python_version()}, {n} uplinks x "
        f"{args.rounds} rounds, CPU per uplink (best round)"
    )
    for name, cost in best.items():
        wall = f"  ({walls[name] * 1e6:.0f} us wall)" if name in walls else ""
        print(f"  {name:32} {cost * 1e6:9.1f} us  {cost / base:8.1f}x built-in{wall}")

    loop = load_codec("loop", CODECS / "acme-fake/endless-loop-codec.yaml", time_limit_s=0.05)
    await loop.decode(b"\x01\x01\xf4", 1, 0)  # its worker started
    stopped, cpu = time.perf_counter(), loop.cpu_s
    try:
        await loop.decode(b"\x09", 1, 0)
    except ValueError as error:
        print(
            f"  endless loop stopped after {loop.cpu_s - cpu:.3f} s CPU, "
            f"{time.perf_counter() - stopped:.3f} s wall (limit 0.05 s): {error}"
        )
    await loop.stop()
    await codec.stop()


if __name__ == "__main__":
    asyncio.run(main())
