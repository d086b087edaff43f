"""The trap receiver's queue to the pipeline, bounded: while the pipeline is blocked (a full
state disk, a held sink) the oldest trap is dropped for the newest and counted, and the trap
stream's health is `degraded` for DROPS_RECENT_S after the last drop."""

from __future__ import annotations

import asyncio
import time
from collections import deque

from gateway.limits import LIMITS
from gateway.sample import Sample

DROPS_RECENT_S = 300.0


class TrapQueue:
    """Sample batches for the pipeline, at most `max_batches`: a new one pushes the oldest out."""

    def __init__(self, max_batches: int = LIMITS["snmp_trap_queue"]) -> None:
        self.dropped = 0
        self.max_batches = max_batches
        self.last_drop: float | None = None  # monotonic
        self._batches: deque[list[Sample]] = deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._batches)

    def put(self, samples: list[Sample]) -> None:
        if len(self._batches) >= self.max_batches:
            self._batches.popleft()
            self.dropped += 1
            self.last_drop = time.monotonic()
        self._batches.append(samples)
        self._ready.set()

    async def get(self) -> list[Sample]:
        while not self._batches:
            self._ready.clear()
            await self._ready.wait()
        return self._batches.popleft()

    def problem(self) -> str | None:
        """Why health is degraded: traps dropped within the last DROPS_RECENT_S."""
        if self.last_drop is None or time.monotonic() - self.last_drop > DROPS_RECENT_S:
            return None
        return f"{self.dropped} traps dropped: the pipeline did not keep up"
