"""The streams' `collector` samples: every SAMPLE_INTERVAL_S, and at once when a stream goes
down or comes back (its alert rules are held or released at that moment)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from gateway.collector import CollectorEmit, Stream
from gateway.intake_health import CollectorHealth
from gateway.stream_holds import StreamHolds

SAMPLE_INTERVAL_S = 10.0
WATCH_INTERVAL_S = 1.0


async def watch_streams(
    streams: Sequence[tuple[Stream, CollectorHealth]], holds: StreamHolds, emit: CollectorEmit
) -> None:
    last_sample = 0.0
    while True:
        changed = [holds.note(stream, health) for stream, health in streams]
        now = time.monotonic()
        if any(changed) or now - last_sample >= SAMPLE_INTERVAL_S:
            last_sample = now
            samples = [health.sample() for _, health in streams]
            if samples:
                await emit(samples, collector="edumon")
        await asyncio.sleep(WATCH_INTERVAL_S)
