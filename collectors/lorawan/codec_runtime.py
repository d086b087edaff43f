"""A vendor codec as the service sees it: decodes awaited off the event loop, in the model's
own worker process (collectors/lorawan/codec_worker.py), within a CPU budget per second.

- Each model has one worker, started at its first uplink; its decodes are taken in turn. An
  answer later than the deadline (the CPU limit x10 plus WORKER_SLACK_S for a loaded machine)
  means the worker is stuck where the CPU limit cannot reach: it is killed and restarted.
- The CPU a model's decodes took (measured in its worker; a killed one is charged the whole
  deadline) drains a bucket of `budget_s` per second: a model past it is quarantined for
  `quarantine_s` and its uplinks are refused as `codec_quarantined` at once, without running,
  while other models' uplinks flow. Quarantines are counted per model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from collectors.lorawan.codec_worker import (
    CPU,
    LENGTH,
    command,
    environment,
    frame,
    setup_frame,
)
from collectors.lorawan.codecs import PayloadError
from collectors.lorawan.js_codec import FAILED

log = logging.getLogger(__name__)
WORKER_SLACK_S = 2.0


class WorkerStopped(Exception):
    """The worker did not answer in time, or died."""


class CodecWorker:
    def __init__(self, source: str, time_limit_s: float, memory_bytes: int) -> None:
        self.setup = setup_frame(source, time_limit_s, memory_bytes)
        self.deadline_s = WORKER_SLACK_S + 10 * time_limit_s
        self.starts = 0
        self._process: asyncio.subprocess.Process | None = None
        self._turn = asyncio.Lock()

    async def run(self, text: str) -> tuple[float, str]:
        """(CPU seconds, the runner's answer) for one input."""
        async with self._turn:
            process = self._process or await self._start()
            try:
                return await asyncio.wait_for(self._exchange(process, text), self.deadline_s)
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as error:
                self.close()
                late = isinstance(error, TimeoutError)
                raise WorkerStopped(
                    f"no answer within {self.deadline_s:g} s" if late else "its worker died"
                ) from error

    async def _start(self) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            *command(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=environment(),
        )
        assert process.stdin is not None
        process.stdin.write(self.setup)
        self._process = process
        self.starts += 1
        return process

    @staticmethod
    async def _exchange(process: asyncio.subprocess.Process, text: str) -> tuple[float, str]:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(frame(text.encode()))
        await process.stdin.drain()
        (length,) = LENGTH.unpack(await process.stdout.readexactly(LENGTH.size))
        answer = await process.stdout.readexactly(length)
        return CPU.unpack_from(answer)[0], answer[CPU.size :].decode()

    def close(self) -> None:
        """Kill the worker (asyncio reaps it while the loop runs)."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
        self._process = None

    async def stop(self) -> None:
        """Kill the worker and wait until it is gone."""
        process = self._process
        self.close()
        if process is not None:
            await process.wait()


class CpuBudget:
    """A leaky bucket of CPU seconds: `per_s` drain each second; past `per_s` in it, the
    model is quarantined for `quarantine_s`."""

    def __init__(
        self, per_s: float, quarantine_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_s, self.quarantine_s, self.clock = per_s, quarantine_s, clock
        self.spent = self.at = self.until = 0.0
        self.quarantines = 0

    def charge(self, cpu_s: float) -> bool:
        """Count a decode's CPU; whether this put the model in quarantine."""
        now = self.clock()
        self.spent = max(0.0, self.spent - (now - self.at) * self.per_s) + cpu_s
        self.at = now
        if self.spent <= self.per_s:
            return False
        self.until, self.spent = now + self.quarantine_s, 0.0
        self.quarantines += 1
        return True

    def left_s(self) -> float:
        """Seconds of quarantine left, 0 when free."""
        return max(0.0, self.until - self.clock())


class JsCodec:
    def __init__(
        self,
        name: str,
        source: str,
        *,
        time_limit_s: float,
        memory_bytes: int,
        budget: CpuBudget,
    ) -> None:
        self.name = name
        self.time_limit_s = time_limit_s
        self.memory_bytes = memory_bytes
        self.budget = budget
        self.worker = CodecWorker(source, time_limit_s, memory_bytes)
        self.cpu_s = 0.0  # all its decodes took, in its worker

    async def decode(self, payload: bytes, f_port: int, received_ns: int) -> dict[str, Any]:
        """The codec's `data`; PayloadError with the reason otherwise."""
        if left := self.budget.left_s():
            raise PayloadError(
                f"codec {self.name} quarantined for another {left:.0f} s: its decodes took "
                f"more than {self.budget.per_s:g} s of CPU in a second",
                "codec_quarantined",
            )
        milliseconds = received_ns // 1_000_000
        text = json.dumps({"bytes": list(payload), "fPort": f_port, "recvTime": milliseconds})
        try:
            cpu, answer = await self.worker.run(text)
        except WorkerStopped as error:
            self._charge(self.worker.deadline_s)
            raise PayloadError(f"codec {self.name} stopped: {error}", "codec_timeout") from error
        self._charge(cpu)
        return self._data(answer)

    def _charge(self, cpu_s: float) -> None:
        self.cpu_s += cpu_s
        if self.budget.charge(cpu_s):
            log.warning(
                "codec %s: over its CPU budget of %g s per second; quarantined for %g s",
                self.name,
                self.budget.per_s,
                self.budget.quarantine_s,
            )

    def _data(self, answer: str) -> dict[str, Any]:
        if answer.startswith(FAILED):
            kind, _, reason = answer[len(FAILED) :].partition(" ")
            if kind == "codec_timeout":
                reason = f"stopped after {self.time_limit_s:g} s of CPU time"
            elif kind == "codec_memory":
                reason = f"stopped at its {self.memory_bytes} byte heap limit"
            raise PayloadError(f"codec {self.name} {reason}", kind)
        try:
            output = json.loads(answer)
        except (ValueError, RecursionError) as error:  # nested past Python's recursion limit
            raise PayloadError(f"codec {self.name} returned {error}", "codec_output") from error
        if not isinstance(output, dict):
            raise PayloadError(
                f"codec {self.name} returned {output!r:.60}, not an object", "codec_output"
            )
        errors = output.get("errors")
        if errors:
            raise PayloadError(f"codec {self.name} reports errors: {errors!r:.200}", "codec_error")
        data = output.get("data")
        if not isinstance(data, dict):
            raise PayloadError(f"codec {self.name} returned no data object", "codec_output")
        return data

    def close(self) -> None:
        self.worker.close()

    async def stop(self) -> None:
        await self.worker.stop()
