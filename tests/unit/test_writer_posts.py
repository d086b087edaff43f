"""How spooled batches are grouped into POSTs: whole batches up to `max_post_points` (the one
that reaches it closes the POST at once), smaller POSTs no sooner than `post_interval_s` apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from gateway.sample import Sample
from tests.unit.test_writer import FakeInflux, make_writer, serve, write_all

__all__ = ["serve"]  # the fixture, for the tests below


@pytest.mark.parametrize(
    ("max_post_points", "post_interval_s", "posts"),
    [
        (20, 60.0, [20, 20]),  # a full POST goes at once: only a smaller one would wait
        (10, 60.0, [10, 10, 10, 10]),
        (21, 0.2, [30, 10]),  # the third batch closes the first POST; the last one waits
    ],
)
async def test_whole_batches_until_the_post_reaches_max_post_points(
    tmp_path: Path,
    serve,  # type: ignore[no-untyped-def]
    max_post_points: int,
    post_interval_s: float,
    posts: list[int],
) -> None:
    fake = FakeInflux(lambda lines, n: web.Response(status=204))
    writer = make_writer(tmp_path, await serve(fake))
    writer.max_post_points = max_post_points
    writer.post_interval_s = post_interval_s
    for first in range(0, 40, 10):
        await writer.accept([Sample("m", {}, {"n": i}, 1000 + i) for i in range(first, first + 10)])
    await write_all(writer, [], timeout_s=10)
    assert [len(lines) for lines in fake.requests] == posts
