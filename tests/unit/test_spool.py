"""The durable spool: order, acks, restart, torn tails, corruption, the cap, cancellation."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from gateway.storage.spool import Spool, SpoolError


def open_spool(path: Path, *, max_bytes: int = 1 << 30, segment_bytes: int = 1 << 20) -> Spool:
    return Spool(path, max_bytes=max_bytes, segment_bytes=segment_bytes)


def drain(spool: Spool) -> list[bytes]:
    out = []
    while (record := spool.next_unread()) is not None:
        out.append(record.payload)
        spool.ack(record)
    return out


async def test_records_come_back_in_order_and_ack_removes_them(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    for i in range(5):
        await spool.append(f"batch {i}".encode(), points=i + 1)
    assert spool.pending_points == 15
    assert drain(spool) == [f"batch {i}".encode() for i in range(5)]
    assert spool.pending_points == 0 and spool.pending_batches == 0


async def test_unacked_records_survive_a_restart_acked_ones_do_not(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    for i in range(4):
        await spool.append(f"b{i}".encode(), points=1)
    first = spool.next_unread()
    second = spool.next_unread()
    assert first is not None and second is not None
    spool.ack(second)  # out of order: cursor cannot pass `first` yet
    spool.close()
    reopened = open_spool(tmp_path)
    assert drain(reopened) == [b"b0", b"b1", b"b2", b"b3"]  # b1 re-sent: at-least-once
    spool2 = open_spool(tmp_path)
    assert drain(spool2) == []


async def test_rotation_and_deletion_of_consumed_segments(tmp_path: Path) -> None:
    spool = open_spool(tmp_path, segment_bytes=100)
    for i in range(10):
        await spool.append(bytes(60) + bytes([i]), points=1)
    assert len(list(tmp_path.glob("*.seg"))) == 5  # two 77-byte records fill a segment
    assert len(drain(spool)) == 10
    assert len(list(tmp_path.glob("*.seg"))) <= 1
    await spool.append(b"after", points=1)
    assert drain(spool) == [b"after"]


async def test_torn_tail_is_truncated_on_open(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    await spool.append(b"complete", points=1)
    await spool.append(b"torn-record-payload", points=1)
    spool.close()
    segment = next(tmp_path.glob("*.seg"))
    os.truncate(segment, segment.stat().st_size - 5)  # kill -9 in the middle of a write
    reopened = open_spool(tmp_path)
    assert drain(reopened) == [b"complete"]
    await reopened.append(b"next", points=1)
    assert drain(reopened) == [b"next"]


async def test_corrupt_record_in_the_middle_is_quarantined_not_fatal(tmp_path: Path) -> None:
    spool = open_spool(tmp_path, segment_bytes=40)  # one record per segment
    for payload in (b"A" * 40, b"B" * 40, b"C" * 40):
        await spool.append(payload, points=1)
    spool.close()
    second = sorted(tmp_path.glob("*.seg"))[1]
    data = bytearray(second.read_bytes())
    data[20] ^= 0xFF  # flip a payload byte: crc mismatch
    second.write_bytes(bytes(data))
    reopened = open_spool(tmp_path, segment_bytes=40)
    assert drain(reopened) == [b"A" * 40, b"C" * 40]
    assert reopened.stats.corrupt_records == 1
    assert list((tmp_path / "corrupt").iterdir())


async def test_at_the_cap_held_data_stays_and_what_cannot_be_held_back_is_dropped(
    tmp_path: Path,
) -> None:
    spool = open_spool(tmp_path, max_bytes=1000, segment_bytes=200)
    for i in range(10):  # MQTT batches: acknowledged once durable, never dropped
        await spool.append(bytes([i]) * 80, points=7, held=True)
        assert spool.filling is (spool.size_bytes >= 900)
    assert spool.filling and spool.size_bytes > 900
    for i in range(5):  # polls and traps, which cannot wait
        await spool.append(bytes([100 + i]) * 80, points=3, sources={"snmp": 2, "traps": 1})
    await spool.append(b"x" * 80, points=4)
    assert drain(spool) == [bytes([i]) * 80 for i in range(10)]  # every held batch, in order
    assert spool.stats.evicted_points == 5 * 3 + 4 and spool.stats.evicted_batches == 6
    assert spool.stats.evicted_by_source == {"snmp": 10, "traps": 5, "unknown": 4}


async def test_below_the_cap_nothing_is_dropped_and_room_is_signalled(tmp_path: Path) -> None:
    spool = open_spool(tmp_path, max_bytes=1000, segment_bytes=200)
    for i in range(11):
        await spool.append(bytes([i]) * 80, points=1, held=i % 2 == 0)
    assert spool.stats.evicted_points == 0 and spool.filling
    waiting = asyncio.create_task(spool.wait_for_room())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    for _ in range(4):  # the database takes some: consumed segments go, the pause ends
        record = spool.next_unread()
        assert record is not None
        spool.ack(record)
    await asyncio.wait_for(waiting, 1)
    assert not spool.filling


async def test_rewind_hands_out_unacked_records_again(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    await spool.append(b"x", points=1)
    assert spool.next_unread() is not None
    assert spool.next_unread() is None
    spool.rewind()
    assert drain(spool) == [b"x"]


async def test_cancelled_append_keeps_file_and_index_consistent(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    task = asyncio.create_task(spool.append(b"first", points=1))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.2)  # the shielded write finishes in its thread
    await spool.append(b"second", points=1)
    spool.close()
    assert drain(open_spool(tmp_path)) == [b"first", b"second"]


def test_unusable_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SpoolError, match="unusable"):
        open_spool(blocker / "spool")


async def test_a_cursor_of_the_earlier_format_is_read(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    for i in range(3):
        await spool.append(f"b{i}".encode(), points=1)
    first = spool.next_unread()
    assert first is not None
    spool.close()
    (tmp_path / "cursor").write_text(f"{first.segment} {first.end}\n")  # one short line
    assert drain(open_spool(tmp_path)) == [b"b1", b"b2"]


async def test_a_failed_cursor_save_is_reported_and_retried_on_the_next_ack(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = open_spool(tmp_path)
    for i in range(3):
        await spool.append(f"b{i}".encode(), points=1)
    assert spool._cursor_file is not None
    os.close(spool._cursor_file)  # the next write fails (EBADF), as an I/O error would
    record = spool.next_unread()
    assert record is not None
    spool.ack(record)
    assert spool.cursor_error is not None and "cannot save the spool cursor" in caplog.text
    record = spool.next_unread()
    assert record is not None
    spool.ack(record)
    assert spool.cursor_error is None and "spool cursor saved again" in caplog.text
    assert drain(open_spool(tmp_path)) == [b"b2"]  # the cursor on disk is the latest
