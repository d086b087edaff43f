"""Runs the real service with a load task that emits numbered points with durable acks.

Usage: python load_service.py CONFIG COUNT
Prints "acked N" (N = number of points made durable so far) after every durable emit, so a
test can kill -9 this process at any moment and know what must survive.
"""

from __future__ import annotations

import asyncio
import sys

from gateway.config import load_config
from gateway.plugins import PLUGINS
from gateway.sample import Sample
from gateway.service import Service

BASE_TIME_NS = 1_700_000_000_000_000_000
BATCH = 500


async def main(config_path: str, count: int) -> None:
    service = Service(load_config(config_path, PLUGINS), PLUGINS)

    async def load() -> None:
        for start in range(0, count, BATCH):
            batch = [
                Sample("load", {"run": "kill9"}, {"id": i}, BASE_TIME_NS + i)
                for i in range(start, min(count, start + BATCH))
            ]
            await service.pipeline.emit(batch, collector="load", durable=True)
            print(f"acked {start + len(batch)}", flush=True)
        await asyncio.Event().wait()

    service.add_task("load", load)
    await service.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
