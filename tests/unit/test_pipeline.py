"""Pipeline: batching by size and age, backpressure without drops, durable emits, fan-out."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest

from gateway.metrics import Metrics
from gateway.pipeline import Pipeline, PipelineClosed
from gateway.sample import Sample


def samples(n: int, start: int = 0) -> list[Sample]:
    return [Sample("m", {}, {"v": i}, i) for i in range(start, start + n)]


class RecordingSink:
    def __init__(self, delay_s: float = 0.0, failures: int = 0) -> None:
        self.batches: list[list[Sample]] = []
        self.held: list[tuple[bool, dict[str, int]]] = []  # per batch: held, sources
        self.delay_s = delay_s
        self.failures = failures

    async def __call__(
        self, batch: list[Sample], *, held: bool, sources: Mapping[str, int]
    ) -> None:
        await asyncio.sleep(self.delay_s)
        if self.failures:
            self.failures -= 1
            raise OSError("disk full")
        self.batches.append(batch)
        self.held.append((held, dict(sources)))


async def run_until_drained(pipeline: Pipeline) -> None:
    pipeline.close()
    await pipeline.run()


async def test_batches_by_size() -> None:
    sink = RecordingSink()
    pipeline = Pipeline(sink, Metrics(), batch_size=100, flush_interval_s=60)
    task = asyncio.create_task(pipeline.run())
    for i in range(5):
        await pipeline.emit(samples(50, i * 50), collector="t")
    await asyncio.sleep(0.05)
    assert [len(b) for b in sink.batches] == [100, 100]  # the 5th emit waits for its age
    task.cancel()


async def test_batches_by_age() -> None:
    sink = RecordingSink()
    pipeline = Pipeline(sink, Metrics(), batch_size=1000, flush_interval_s=0.1)
    task = asyncio.create_task(pipeline.run())
    await pipeline.emit(samples(3), collector="t")
    await asyncio.sleep(0.05)
    assert sink.batches == []
    await asyncio.sleep(0.15)
    assert [len(b) for b in sink.batches] == [3]
    task.cancel()


async def test_full_queue_pushes_back_and_drops_nothing() -> None:
    metrics = Metrics()
    sink = RecordingSink(delay_s=0.01)
    pipeline = Pipeline(sink, metrics, max_queued_samples=100, batch_size=50, flush_interval_s=0.01)
    task = asyncio.create_task(pipeline.run())
    for i in range(40):
        await pipeline.emit(samples(25, i * 25), collector="t")
    await run_until_drained(pipeline)
    task.cancel()
    stored = [s.time_ns for batch in sink.batches for s in batch]
    assert stored == list(range(1000))
    assert metrics.backpressure._value.get() > 0


async def test_durable_emit_returns_after_sink_and_survives_sink_errors() -> None:
    sink = RecordingSink(failures=2)
    pipeline = Pipeline(sink, Metrics(), batch_size=10, flush_interval_s=0.01, sink_retry_s=0.01)
    task = asyncio.create_task(pipeline.run())
    await pipeline.emit(samples(5), collector="t", durable=True)
    assert [len(b) for b in sink.batches] == [5]
    assert pipeline.sink_error is None
    task.cancel()


async def test_subscribers_see_samples_at_once_and_a_failing_one_is_isolated() -> None:
    seen: list[int] = []

    def broken(_batch: Sequence[Sample]) -> None:
        raise RuntimeError("bug")

    pipeline = Pipeline(RecordingSink(), Metrics(), flush_interval_s=60)
    pipeline.subscribe(broken)
    pipeline.subscribe(lambda batch: seen.extend(s.time_ns for s in batch))
    await pipeline.emit(samples(3), collector="t")
    assert seen == [0, 1, 2]  # before any batch is flushed


async def test_emit_after_close_is_refused() -> None:
    pipeline = Pipeline(RecordingSink(), Metrics())
    pipeline.close()
    with pytest.raises(PipelineClosed):
        await pipeline.emit(samples(1), collector="t")


async def test_a_batch_with_data_a_source_waits_to_acknowledge_is_held() -> None:
    """The spool may drop a batch at its cap only when no source waits to acknowledge it."""
    sink = RecordingSink()
    pipeline = Pipeline(sink, Metrics(), batch_size=1000, flush_interval_s=0.05)
    runner = asyncio.create_task(pipeline.run())
    await pipeline.emit(samples(3), collector="snmp")
    await pipeline.emit(samples(1), collector="traps")
    await asyncio.sleep(0.2)
    await asyncio.gather(
        pipeline.emit(samples(2), collector="mqtt", durable=True),
        pipeline.emit(samples(5), collector="snmp"),
    )
    await run_until_drained(pipeline)
    await runner
    assert sink.held == [(False, {"snmp": 3, "traps": 1}), (True, {"mqtt": 2, "snmp": 5})]


async def test_a_durable_emit_waits_for_room_in_the_spool_and_a_poll_does_not() -> None:
    room = asyncio.Event()

    async def wait_for_room() -> None:
        await room.wait()

    sink = RecordingSink()
    pipeline = Pipeline(sink, Metrics(), flush_interval_s=0.01, room=wait_for_room)
    runner = asyncio.create_task(pipeline.run())
    held_back = asyncio.create_task(pipeline.emit(samples(2), collector="mqtt", durable=True))
    await pipeline.emit(samples(3), collector="snmp")
    await asyncio.sleep(0.1)
    assert not held_back.done() and sink.held == [(False, {"snmp": 3})]
    room.set()
    await asyncio.wait_for(held_back, 1)
    await run_until_drained(pipeline)
    await runner
    assert sink.held == [(False, {"snmp": 3}), (True, {"mqtt": 2})]
