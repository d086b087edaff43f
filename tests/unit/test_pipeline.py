"""Pipeline: batching by size and age, backpressure without drops, durable emits, fan-out; a
full disk retried, a bug in the sink dead-lettered."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from gateway.deadletter import DeadLetterFile
from gateway.metrics import Metrics
from gateway.pipeline import Pipeline, PipelineClosed
from gateway.sample import Sample
from gateway.storage.spool import SpoolError


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


@pytest.fixture
def dead_letters(tmp_path: Path) -> DeadLetterFile:
    return DeadLetterFile.in_state_dir(tmp_path, "writer")


async def run_until_drained(pipeline: Pipeline) -> None:
    pipeline.close()
    await pipeline.run()


async def test_batches_by_size(dead_letters: DeadLetterFile) -> None:
    sink = RecordingSink()
    pipeline = Pipeline(sink, Metrics(), dead_letters, batch_size=100, flush_interval_s=60)
    task = asyncio.create_task(pipeline.run())
    for i in range(5):
        await pipeline.emit(samples(50, i * 50), collector="t")
    await asyncio.sleep(0.05)
    assert [len(b) for b in sink.batches] == [100, 100]  # the 5th emit waits for its age
    task.cancel()


async def test_batches_by_age(dead_letters: DeadLetterFile) -> None:
    sink = RecordingSink()
    pipeline = Pipeline(sink, Metrics(), dead_letters, batch_size=1000, flush_interval_s=0.1)
    task = asyncio.create_task(pipeline.run())
    await pipeline.emit(samples(3), collector="t")
    await asyncio.sleep(0.05)
    assert sink.batches == []
    await asyncio.sleep(0.15)
    assert [len(b) for b in sink.batches] == [3]
    task.cancel()


async def test_full_queue_pushes_back_and_drops_nothing(dead_letters: DeadLetterFile) -> None:
    metrics = Metrics()
    sink = RecordingSink(delay_s=0.01)
    pipeline = Pipeline(
        sink, metrics, dead_letters, max_queued_samples=100, batch_size=50, flush_interval_s=0.01
    )
    task = asyncio.create_task(pipeline.run())
    for i in range(40):
        await pipeline.emit(samples(25, i * 25), collector="t")
    await run_until_drained(pipeline)
    task.cancel()
    stored = [s.time_ns for batch in sink.batches for s in batch]
    assert stored == list(range(1000))
    assert metrics.backpressure._value.get() > 0


async def test_durable_emit_returns_after_sink_and_survives_sink_errors(
    dead_letters: DeadLetterFile,
) -> None:
    sink = RecordingSink(failures=2)
    pipeline = Pipeline(
        sink, Metrics(), dead_letters, batch_size=10, flush_interval_s=0.01, sink_retry_s=0.01
    )
    task = asyncio.create_task(pipeline.run())
    await pipeline.emit(samples(5), collector="t", durable=True)
    assert [len(b) for b in sink.batches] == [5]
    assert pipeline.sink_error is None
    task.cancel()


async def test_subscribers_see_samples_at_once_and_a_failing_one_is_isolated(
    dead_letters: DeadLetterFile,
) -> None:
    seen: list[int] = []

    def broken(_batch: Sequence[Sample]) -> None:
        raise RuntimeError("bug")

    pipeline = Pipeline(RecordingSink(), Metrics(), dead_letters, flush_interval_s=60)
    pipeline.subscribe(broken)
    pipeline.subscribe(lambda batch: seen.extend(s.time_ns for s in batch))
    await pipeline.emit(samples(3), collector="t")
    assert seen == [0, 1, 2]  # before any batch is flushed


async def test_emit_after_close_is_refused(dead_letters: DeadLetterFile) -> None:
    pipeline = Pipeline(RecordingSink(), Metrics(), dead_letters)
    pipeline.close()
    with pytest.raises(PipelineClosed):
        await pipeline.emit(samples(1), collector="t")


async def test_a_batch_with_data_a_source_waits_to_acknowledge_is_held(
    dead_letters: DeadLetterFile,
) -> None:
    """The spool may drop a batch at its cap only when no source waits to acknowledge it."""
    sink = RecordingSink()
    pipeline = Pipeline(sink, Metrics(), dead_letters, batch_size=1000, flush_interval_s=0.05)
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


async def test_a_durable_emit_waits_for_room_in_the_spool_and_a_poll_does_not(
    dead_letters: DeadLetterFile,
) -> None:
    room = asyncio.Event()

    async def wait_for_room() -> None:
        await room.wait()

    sink = RecordingSink()
    pipeline = Pipeline(sink, Metrics(), dead_letters, flush_interval_s=0.01, room=wait_for_room)
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


class FailingSink(RecordingSink):
    """Fails its first `failures` calls with `error`."""

    def __init__(self, error: Exception, failures: int) -> None:
        super().__init__()
        self.error, self.failures, self.calls = error, failures, 0

    async def __call__(
        self, batch: list[Sample], *, held: bool, sources: Mapping[str, int]
    ) -> None:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise self.error
        self.batches.append(batch)


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        SpoolError("cannot append to spool: [Errno 5] Input/output error"),
    ],
)
async def test_a_full_disk_is_retried_until_the_batch_is_stored(
    dead_letters: DeadLetterFile, error: Exception
) -> None:
    sink = FailingSink(error, failures=3)
    pipeline = Pipeline(sink, Metrics(), dead_letters, batch_size=10, sink_retry_s=0.01)
    task = asyncio.create_task(pipeline.run())
    await pipeline.emit(samples(5), collector="t", durable=True)
    task.cancel()
    assert sink.calls == 4 and [len(b) for b in sink.batches] == [5]
    assert dead_letters.count == 0 and pipeline.sink_error is None


async def test_a_bug_in_the_sink_is_logged_and_its_batch_dead_lettered_not_retried(
    dead_letters: DeadLetterFile, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    sink = FailingSink(TypeError("unsupported operand"), failures=1)
    pipeline = Pipeline(sink, metrics, dead_letters, batch_size=5, sink_retry_s=0.01)
    task = asyncio.create_task(pipeline.run())
    async with asyncio.timeout(5):  # the durable emit returns: its batch is dead-lettered
        await pipeline.emit(samples(5), collector="t", durable=True)
        await pipeline.emit(samples(5, 5), collector="t", durable=True)  # the next goes through
    task.cancel()
    assert sink.calls == 2
    assert [s.time_ns for b in sink.batches for s in b] == [5, 6, 7, 8, 9]
    letters = dead_letters.read()
    assert [letter["source"] for letter in letters] == ["pipeline"] * 5
    assert letters[0]["reason"] == "sink_error: TypeError: unsupported operand"
    assert "time_ns=0" in letters[0]["raw"]
    dead = metrics.registry.get_sample_value("edumon_dead_letters_total", {"reason": "sink_error"})
    assert dead == 5
    [record] = [r for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert record.exc_info is not None and record.exc_info[0] is TypeError
    assert pipeline.sink_error is None
