"""A codec worker: the process a vendor codec runs in (`python -m
collectors.lorawan.codec_worker PARENT_PID`), so no JavaScript runs in the service's process.

Over its stdin and stdout, frames of a 4-byte big-endian length and the bytes: the first frame
in is the codec (JSON: source, time_limit_s, memory_bytes), each next one an uplink's input as
JSON text ("" only loads the codec); each frame out is the CPU seconds the answer took (8-byte
double) and the answer of js_codec.run_codec (UTF-8). It dies with the service (a parent-death
signal, and end of input); the service kills it when an answer is late.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import struct
import subprocess
import sys
import time
from typing import BinaryIO

from collectors.lorawan.js_codec import run_codec

LENGTH = struct.Struct(">I")
CPU = struct.Struct(">d")
PR_SET_PDEATHSIG = 1
MODULE = "collectors.lorawan.codec_worker"


def frame(data: bytes) -> bytes:
    return LENGTH.pack(len(data)) + data


def read_frame(stream: BinaryIO) -> bytes | None:
    """The next frame; None at the end of input."""
    header = stream.read(LENGTH.size)
    if len(header) < LENGTH.size:
        return None
    data = stream.read(LENGTH.unpack(header)[0])
    return data if len(data) == LENGTH.unpack(header)[0] else None


def setup_frame(source: str, time_limit_s: float, memory_bytes: int) -> bytes:
    codec = {"source": source, "time_limit_s": time_limit_s, "memory_bytes": memory_bytes}
    return frame(json.dumps(codec).encode())


def command() -> list[str]:
    return [sys.executable, "-m", MODULE, str(os.getpid())]


def environment() -> dict[str, str]:
    """The worker's environment: what Python needs to find edumon, none of the service's
    secrets (credentials may come from environment variables)."""
    return {name: os.environ[name] for name in ("PATH", "PYTHONPATH") if name in os.environ}


def load_answer(source: str, time_limit_s: float, memory_bytes: int, timeout_s: float) -> str:
    """Load the codec once in a worker of its own: "" when it defines decodeUplink, else the
    runner's "!kind reason" (config checks: a codec that hangs on load cannot hang them)."""
    request = setup_frame(source, time_limit_s, memory_bytes) + frame(b"")
    try:
        done = subprocess.run(
            command(), input=request, capture_output=True, timeout=timeout_s, env=environment()
        )
    except subprocess.TimeoutExpired:
        return f"!codec_timeout did not load within {timeout_s:g} s"
    answer = done.stdout[LENGTH.size + CPU.size :]
    if done.returncode != 0 or len(done.stdout) < LENGTH.size + CPU.size:
        return f"!codec_error its worker failed: {done.stderr.decode(errors='replace')[-200:]}"
    return answer.decode()


def _die_with(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was set
        sys.exit(0)


def main() -> None:
    _die_with(int(sys.argv[1]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the service's Ctrl-C is not for us
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    setup = read_frame(stdin)
    if setup is None:
        return
    codec = json.loads(setup)
    limits = {"time_limit_s": codec["time_limit_s"], "memory_bytes": codec["memory_bytes"]}
    while (request := read_frame(stdin)) is not None:
        started = time.process_time()
        answer = run_codec(codec["source"], request.decode(), **limits)
        cpu = time.process_time() - started
        stdout.write(frame(CPU.pack(cpu) + answer.encode("utf-8", "replace")))
        stdout.flush()


if __name__ == "__main__":
    main()
