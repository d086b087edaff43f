"""Health says "behind", with the backlog's age, whenever the oldest unsent point is older than
`behind_after_s`, even while every answer the database gives is a success (a stalled or slow
database, a batch held up by refusals): it said "ok writing" then."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from gateway.storage.writer import InfluxWriter
from tests.unit.test_writer import make_writer, points, serve

__all__ = ["serve"]  # the fixture, for the tests below


class HeldInflux:
    """Answers 204 to each POST once `answer` is set; `posted` is set when a POST arrives."""

    def __init__(self) -> None:
        self.answer = asyncio.Event()
        self.posted = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.posted.set()
        await self.answer.wait()
        return web.Response(status=204)


async def held_writer(tmp_path: Path, serve) -> tuple[InfluxWriter, HeldInflux]:  # type: ignore[no-untyped-def]
    held = HeldInflux()
    writer = make_writer(tmp_path, await serve(held))
    writer.behind_after_s = 0.3
    return writer, held


async def test_a_stalled_database_shows_behind_with_the_age_then_ok(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    writer, held = await held_writer(tmp_path, serve)
    task = asyncio.create_task(writer.run())
    await writer.accept(points(3))
    await held.posted.wait()
    assert writer.health.status == "ok"
    await asyncio.sleep(0.4)
    age = writer.backlog_age_s()
    assert age > 0.3
    health = writer.health
    assert health.status == "degraded"
    assert health.detail.startswith("behind: the oldest unsent point is ")
    assert "3 points pending" in health.detail
    assert writer.metrics.value("spool_oldest_unsent_age_seconds")[0] >= age
    held.answer.set()
    assert await writer.drain(5)
    assert writer.backlog_age_s() == 0
    assert writer.health.status == "ok"
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await writer.close()


async def test_the_age_is_the_oldest_batch_s_not_the_newest(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    writer, _ = await held_writer(tmp_path, serve)
    await writer.accept(points(1))
    await asyncio.sleep(0.4)
    await writer.accept(points(1))  # a fresh batch behind the old one
    assert writer.backlog_age_s() > 0.3
    assert writer.health.status == "degraded"
    await writer.close()


async def test_behind_is_added_to_a_delivery_failure(tmp_path: Path) -> None:
    writer = make_writer(tmp_path, "http://127.0.0.1:9")  # discard port: refused
    writer.behind_after_s = 0.3
    task = asyncio.create_task(writer.run())
    await writer.accept(points(2))
    await asyncio.sleep(0.5)
    health = writer.health
    assert health.status == "degraded"
    assert health.detail.startswith("behind: ")
    assert "unavailable" in health.detail
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await writer.close()


async def test_batches_found_in_the_spool_at_start_count_from_the_start(tmp_path: Path) -> None:
    first = make_writer(tmp_path, "http://127.0.0.1:9")
    await first.accept(points(2))
    first.spool.close()
    again = make_writer(tmp_path, "http://127.0.0.1:9")
    again.behind_after_s = 0.3
    assert 0 <= again.backlog_age_s() < 0.3
    await asyncio.sleep(0.4)
    assert again.health.status == "degraded"
    await again.close()
