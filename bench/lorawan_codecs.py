"""Decode cost per LoRaWAN uplink: the built-in byte decoder (collectors/lorawan/codecs.py)
beside a vendor decodeUplink codec in QuickJS (the engine edumon uses) and, when the
`mini-racer` package is installed, the same codec in V8 - the measurement behind the choice of
engine. Also the whole intake per uplink (JSON event, dedup, samples) for a built-in and a
vendor-codec sensor, and the engines' cost of starting a codec and of being stopped at a limit.

Times are process CPU seconds (time.process_time), rounds interleaved; ratios are against the
built-in decoder of the same run.

Usage: python bench/lorawan_codecs.py [--uplinks 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collectors.lorawan.codecs import decode_payload  # noqa: E402
from collectors.lorawan.intake import LorawanIntake  # noqa: E402
from collectors.lorawan.js_codec import codec_source  # noqa: E402
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


def intake_calls(n: int) -> tuple[Callable[[], object], Callable[[], object]]:
    builtin = SimSensor("70b3d57ed0070001", "env", "env-sensor", "chirpstack")
    vendor = SimSensor("70b3d57ed0070002", "room", "room", "chirpstack")
    decoders = vendor_decoders(
        CODECS, {"room": VendorModel(codec=ROOM_SENSOR)}, time_limit_s=0.05, memory_bytes=8 << 20
    )
    inventory = {s.dev_eui: SensorInfo("s1", s.name, "101", s.profile) for s in (builtin, vendor)}
    dead = DeadLetterFile(Path(tempfile.mkdtemp()) / "dead.jsonl")
    intake = LorawanIntake(inventory, dead, vendor=decoders)

    def uplinks(sensor: SimSensor, frame: bytes, f_port: int) -> Callable[[], object]:
        bodies = iter(
            json.dumps(chirpstack_event(sensor, f_cnt, frame, f_port, 1)).encode()
            for f_cnt in range(1, 10 * n)
        )
        topic = topic_of(sensor)
        return lambda: intake.handle(topic, next(bodies))

    return uplinks(builtin, ENV_FRAME, 2), uplinks(vendor, VENDOR_FRAME, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uplinks", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n = args.uplinks

    quickjs = load_codec("room", CODECS / ROOM_SENSOR)
    calls: dict[str, Callable[[], object]] = {
        "built-in decoder (struct)": lambda: decode_payload("env-sensor", 2, ENV_FRAME),
        "vendor codec, QuickJS": lambda: quickjs.decode(VENDOR_FRAME, 1, 0),
    }
    racer = mini_racer_call()
    if racer is not None:
        calls["vendor codec, V8 (mini-racer)"] = racer
    builtin_intake, vendor_intake = intake_calls(n * args.rounds)
    calls["intake, built-in sensor"] = builtin_intake
    calls["intake, vendor-codec sensor"] = vendor_intake

    best: dict[str, float] = {}
    for _ in range(args.rounds):  # interleaved, the best of each
        for name, call in calls.items():
            cost = cpu_per_call(call, n // 10 if "V8" in name else n)
            best[name] = min(best.get(name, cost), cost)
    base = best["built-in decoder (struct)"]
    print(
        f"{platform.python_implementation()} {platform.python_version()}, {n} uplinks x "
        f"{args.rounds} rounds, CPU per uplink (best round)"
    )
    for name, cost in best.items():
        print(f"  {name:32} {cost * 1e6:9.1f} us  {cost / base:8.1f}x built-in")

    load = time.process_time()
    for _ in range(20):
        load_codec("room", CODECS / ROOM_SENSOR)
    print(
        f"  QuickJS codec load (parse + context) {(time.process_time() - load) / 20 * 1e3:.2f} ms"
    )
    loop = load_codec("loop", CODECS / "acme-fake/endless-loop-codec.yaml", time_limit_s=0.05)
    stopped = time.process_time()
    try:
        loop.decode(b"\x09", 1, 0)
    except ValueError as error:
        print(
            f"  endless loop stopped after {time.process_time() - stopped:.3f} s CPU "
            f"(limit 0.05 s): {error}"
        )


if __name__ == "__main__":
    main()
