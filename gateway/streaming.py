"""The task of one stream (MQTT, traps, LoRaWAN): it reconnects by itself; when it crashes
its health says why while the service restarts it."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from gateway.collector import CollectorEmit, Stream
from gateway.intake_health import CollectorHealth


def streaming(
    stream: Stream, health: CollectorHealth, emit: CollectorEmit
) -> Callable[[], Coroutine[Any, Any, None]]:
    async def run() -> None:
        try:
            await stream.run(emit, health)
        except Exception as error:  # the service restarts it; say why meanwhile
            health.disconnect(f"{type(error).__name__}: {error}")
            raise

    return run
