"""The writer's backoff grows while the database answers 5xx: full jitter up to
initial * 2**attempt, capped, never shorter than a (capped) Retry-After."""

from __future__ import annotations

import itertools
import random
import time
from pathlib import Path

import pytest
from aiohttp import web

from gateway.storage.writer import RetryPolicy
from tests.unit.test_writer import FakeInflux, make_writer, points, serve, write_all

__all__ = ["serve"]  # the fixture, for the tests below


@pytest.fixture
def upper_bound_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Full jitter drawn at its upper bound, so each delay is the backoff's ceiling."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)


@pytest.mark.usefixtures("upper_bound_jitter")
def test_the_ceiling_doubles_per_attempt_up_to_the_cap() -> None:
    policy = RetryPolicy(initial_delay_s=0.5, max_delay_s=30.0)
    assert [policy.delay(n, None) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]


def test_the_jitter_spans_zero_to_the_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[tuple[float, float]] = []
    monkeypatch.setattr(random, "uniform", lambda low, high: drawn.append((low, high)) or low)
    policy = RetryPolicy(initial_delay_s=0.5, max_delay_s=30.0)
    assert policy.delay(3, None) == 0
    assert drawn == [(0, 4.0)]


@pytest.mark.usefixtures("upper_bound_jitter")
def test_retry_after_is_a_floor_capped_at_the_maximum() -> None:
    policy = RetryPolicy(initial_delay_s=0.5, max_delay_s=30.0)
    assert policy.delay(0, 7.0) == 7.0
    assert policy.delay(5, 7.0) == 16.0
    assert policy.delay(0, 3600.0) == 30.0


@pytest.mark.usefixtures("upper_bound_jitter")
async def test_the_writer_waits_longer_after_each_5xx(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    """Four 503s then 204: the gaps between the POSTs are at least 0.05, 0.1, 0.2, 0.4 s."""
    sent_at: list[float] = []

    def respond(lines: list[bytes], n: int) -> web.Response:
        sent_at.append(time.monotonic())
        return web.Response(status=503 if n <= 4 else 204)

    fake = FakeInflux(respond)
    writer = make_writer(tmp_path, await serve(fake))
    writer.retry = RetryPolicy(initial_delay_s=0.05, max_delay_s=5.0)
    await write_all(writer, points(3), timeout_s=10)
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent_at)]
    assert len(gaps) == 4 and len(fake.stored) == 3
    for attempt, gap in enumerate(gaps):
        assert gap >= 0.05 * 2**attempt
    assert writer.metrics.write_failures.labels(outcome="retry")._value.get() == 4
