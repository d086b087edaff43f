"""What the writer tells the operator: health status, detail and times, its log lines on each
change, and its metrics (write latency, encode dead letters, batches dropped at the cap)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from aiohttp import web

from gateway.sample import Sample
from gateway.storage.spool import Spool
from tests.unit.test_writer import FakeInflux, make_writer, points, serve, write_all

__all__ = ["serve"]  # the fixture, for the tests below


async def test_a_recovery_is_logged_and_dated(
    tmp_path: Path,
    serve,  # type: ignore[no-untyped-def]
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeInflux(lambda lines, n: web.Response(status=503 if n == 1 else 204))
    writer = make_writer(tmp_path, await serve(fake))
    before = time.time()
    with caplog.at_level(logging.INFO, logger="gateway.storage.writer"):
        await write_all(writer, points(2))
    health = writer.health
    assert (health.status, health.detail) == ("ok", "writing")
    assert health.last_success is not None and health.last_success >= before
    assert health.since >= before
    target = writer.http.target.describe()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "ERROR",
            f"writer degraded: database {target} unavailable (HTTP 503); spooling, "
            "2 points pending",
        ),
        ("INFO", "writer ok: writing again"),
    ]
    latency = writer.metrics.registry.get_sample_value("edumon_write_latency_seconds_sum")
    assert latency is not None and 0 < latency < 60


@pytest.mark.parametrize(
    ("status", "body", "detail"),
    [
        (403, "", "refused our credentials (HTTP 403)"),
        (404, "database not found", "answered 404 (database not found)"),
    ],
)
async def test_wrong_credentials_or_a_missing_database_are_an_error_that_keeps_the_data(  # type: ignore[no-untyped-def]
    tmp_path: Path, serve, status: int, body: str, detail: str
) -> None:
    fake = FakeInflux(lambda lines, n: web.Response(status=status, text=body))
    writer = make_writer(tmp_path, await serve(fake))
    task = asyncio.create_task(writer.run())
    await writer.accept(points(2))
    await asyncio.sleep(0.2)
    assert writer.health.status == "error"
    assert detail in writer.health.detail
    assert "2 points kept in the spool" in writer.health.detail
    assert writer.spool.pending_points == 2
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await writer.close()


async def test_an_unreachable_database_is_said_with_the_connection_error(tmp_path: Path) -> None:
    writer = make_writer(tmp_path, "http://127.0.0.1:9")  # discard port: refused
    task = asyncio.create_task(writer.run())
    await writer.accept(points(1))
    await asyncio.sleep(0.2)
    assert "unavailable (ClientConnectorError: " in writer.health.detail
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await writer.close()


async def test_an_unencodable_sample_is_counted_as_encode(tmp_path: Path) -> None:
    writer = make_writer(tmp_path, "http://127.0.0.1:9")
    await writer.accept([Sample("m", {}, {"v": float("inf")}, 1)])
    assert writer.metrics.dead_letters.labels(reason="encode")._value.get() == 1
    await writer.close()


async def test_a_batch_no_source_holds_is_dropped_at_the_cap_and_counted_by_source(
    tmp_path: Path,
) -> None:
    writer = make_writer(tmp_path, "http://127.0.0.1:9")
    writer.spool = Spool(tmp_path / "small", max_bytes=60, segment_bytes=200)
    await writer.accept(points(20))  # held (the default): always spooled
    await writer.accept(points(20), held=False, sources={"snmp": 20})
    assert writer.spool.pending_batches == 1
    assert writer.spool.stats.evicted_by_source == {"snmp": 20}
    writer._update_spool_gauges()
    assert writer.metrics.spool_evicted.labels(source="snmp")._value.get() == 20
    await writer.close()
