"""Writer status handling against a scripted HTTP server at our own HTTP boundary.

The real-database behaviour (400 partial writes, outages, VictoriaMetrics) is covered in
tests/integration; here each status code's handling is pinned down exactly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from gateway.deadletter import DeadLetterFile
from gateway.metrics import Metrics
from gateway.sample import Sample
from gateway.storage.influx_http import InfluxHttp, InfluxTarget
from gateway.storage.spool import Spool
from gateway.storage.writer import InfluxWriter, RetryPolicy

FAST_RETRY = RetryPolicy(initial_delay_s=0.01, max_delay_s=0.05, operator_delay_s=0.05)


@dataclass
class FakeInflux:
    """Answers each POST with `respond(lines, attempt)`; records every request."""

    respond: Callable[[list[bytes], int], web.Response]
    requests: list[list[bytes]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    stored: list[bytes] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()  # aiohttp has already undone Content-Encoding: gzip
        lines = [line for line in raw.split(b"\n") if line]
        self.requests.append(lines)
        self.headers.append(dict(request.headers))
        response = self.respond(lines, len(self.requests))
        if response.status == 204:
            self.stored.extend(lines)
        return response


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[FakeInflux], asyncio.Future[str]]]:
    runners: list[web.AppRunner] = []

    async def start(fake: FakeInflux) -> str:
        app = web.Application()
        app.router.add_post("/write", fake.handle)
        app.router.add_post("/api/v2/write", fake.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start  # type: ignore[misc]
    for runner in runners:
        await runner.cleanup()


def make_writer(tmp_path: Path, url: str, **target: object) -> InfluxWriter:
    spool = Spool(tmp_path / "spool", max_bytes=1 << 30, segment_bytes=1 << 20)
    return InfluxWriter(
        InfluxHttp(InfluxTarget(url=url, **target)),  # type: ignore[arg-type]
        spool,
        DeadLetterFile(tmp_path / "dead.jsonl"),
        Metrics(),
        retry=FAST_RETRY,
    )


def points(n: int) -> list[Sample]:
    return [Sample("m", {"k": "v"}, {"n": i}, 1000 + i) for i in range(n)]


async def write_all(writer: InfluxWriter, batch: list[Sample], timeout_s: float = 5) -> None:
    task = asyncio.create_task(writer.run())
    await writer.accept(batch)
    assert await writer.drain(timeout_s), writer.health.detail
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await writer.close()


async def test_204_stores_everything_gzip_v1(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    fake = FakeInflux(lambda lines, n: web.Response(status=204))
    writer = make_writer(tmp_path, await serve(fake))
    await write_all(writer, points(10))
    assert len(fake.stored) == 10
    assert fake.headers[0]["Content-Encoding"] == "gzip"
    assert writer.spool.pending_points == 0


async def test_v2_sends_token_header_and_no_secret_in_logs(
    tmp_path: Path,
    serve,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    from pydantic import SecretStr

    fake = FakeInflux(
        lambda lines, n: web.Response(status=401) if n == 1 else web.Response(status=204)
    )
    token = SecretStr("test-only-token")
    writer = make_writer(tmp_path, await serve(fake), api="v2", org="city", bucket="b", token=token)
    await write_all(writer, points(3))
    assert fake.headers[0]["Authorization"] == "Token test-only-token"
    assert "test-only-token" not in caplog.text


async def test_401_keeps_data_reports_error_then_recovers(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    answers = {"status": 401}
    fake = FakeInflux(lambda lines, n: web.Response(status=answers["status"]))
    writer = make_writer(tmp_path, await serve(fake))
    task = asyncio.create_task(writer.run())
    await writer.accept(points(5))
    await asyncio.sleep(0.2)
    assert writer.health.status == "error"
    assert "credentials" in writer.health.detail
    assert writer.spool.pending_points == 5
    answers["status"] = 204
    assert await writer.drain(5)
    assert writer.health.status == "ok"
    assert len(fake.stored) == 5
    task.cancel()
    await writer.close()


async def test_413_splits_until_it_fits(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    fake = FakeInflux(lambda lines, n: web.Response(status=413 if len(lines) > 3 else 204))
    writer = make_writer(tmp_path, await serve(fake))
    await write_all(writer, points(10))
    assert sorted(fake.stored) == sorted(f"m,k=v n={i}i {1000 + i}".encode() for i in range(10))
    accepted = [r for r in fake.requests if len(r) <= 3]
    assert sum(len(r) for r in accepted) == 10  # every point went in exactly one accepted request


async def test_400_bisects_to_the_bad_lines(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    def respond(lines: list[bytes], n: int) -> web.Response:
        if any(b"n=3i" in line or b"n=7i" in line for line in lines):
            return web.json_response({"error": "field type conflict"}, status=400)
        return web.Response(status=204)

    fake = FakeInflux(respond)
    writer = make_writer(tmp_path, await serve(fake))
    await write_all(writer, points(10))
    assert len(fake.stored) == 8
    dead = writer.dead_letters.read()
    assert sorted(d["raw"] for d in dead) == ["m,k=v n=3i 1003", "m,k=v n=7i 1007"]
    assert all("field type conflict" in d["reason"] and "400" in d["reason"] for d in dead)


async def test_429_honours_retry_after(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    fake = FakeInflux(
        lambda lines, n: (
            web.Response(status=429, headers={"Retry-After": "1"})
            if n == 1
            else web.Response(status=204)
        )
    )
    writer = make_writer(tmp_path, await serve(fake))
    writer.retry = RetryPolicy(initial_delay_s=0.01, max_delay_s=5)
    started = time.monotonic()
    await write_all(writer, points(2))
    assert time.monotonic() - started >= 0.95
    assert len(fake.stored) == 2


async def test_5xx_and_refused_connections_are_retried(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    fake = FakeInflux(lambda lines, n: web.Response(status=503 if n < 3 else 204))
    writer = make_writer(tmp_path, await serve(fake))
    await write_all(writer, points(4))
    assert len(fake.requests) == 3 and len(fake.stored) == 4

    refused = make_writer(tmp_path / "other", "http://127.0.0.1:9")  # discard port: refused
    task = asyncio.create_task(refused.run())
    await refused.accept(points(2))
    await asyncio.sleep(0.2)
    assert refused.health.status == "degraded"
    assert refused.spool.pending_points == 2
    task.cancel()
    await refused.close()


async def test_unencodable_samples_are_dead_lettered(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    fake = FakeInflux(lambda lines, n: web.Response(status=204))
    writer = make_writer(tmp_path, await serve(fake))
    bad = Sample("m", {}, {"v": float("nan")}, 1)
    await write_all(writer, [*points(2), bad])
    assert len(fake.stored) == 2
    [dead] = writer.dead_letters.read()
    assert dead["source"] == "encoder" and "finite" in dead["reason"]


async def test_small_spooled_batches_share_a_post_up_to_max_post_points(
    tmp_path: Path,
    serve,  # type: ignore[no-untyped-def]
) -> None:
    fake = FakeInflux(lambda lines, n: web.Response(status=204))
    writer = make_writer(tmp_path, await serve(fake))
    writer.max_post_points = 25
    for first in range(0, 60, 10):  # six batches spooled before the writer runs
        await writer.accept(
            [Sample("m", {"k": "v"}, {"n": i}, 1000 + i) for i in range(first, first + 10)]
        )
    await write_all(writer, [])
    assert [len(lines) for lines in fake.requests] == [30, 30]  # whole batches, up to 25 and one
    assert fake.stored == [b"m,k=v n=%di %d" % (i, 1000 + i) for i in range(60)]
    assert writer.spool.pending_batches == 0


async def test_a_small_post_waits_for_company_until_the_post_interval(
    tmp_path: Path,
    serve,  # type: ignore[no-untyped-def]
) -> None:
    fake = FakeInflux(lambda lines, n: web.Response(status=204))
    writer = make_writer(tmp_path, await serve(fake))
    writer.post_interval_s = 0.3
    task = asyncio.create_task(writer.run())
    await writer.accept(points(1))
    for _ in range(5):  # the first POST goes at once; these five arrive within the interval
        await asyncio.sleep(0.02)
        await writer.accept(points(2))
    assert await writer.drain(5)
    assert [len(lines) for lines in fake.requests] == [1, 10]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await writer.close()
