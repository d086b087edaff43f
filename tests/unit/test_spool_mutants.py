"""What the spool's mutation run found untested (survivors of gateway/storage/spool.py): segment
numbering and the cursor file's exact format, rotation at exactly segment_bytes, file modes, a
write that fails half-way, corrupt records counted one by one with what the log says."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import pytest

from gateway.storage.spool import SpoolError
from tests.unit.test_spool import drain, open_spool

HEADER = 16  # bytes before each record's payload


def cursor_text(path: Path) -> str:
    return (path / "cursor").read_text()


async def test_segments_are_numbered_from_1_and_the_cursor_is_one_padded_line(
    tmp_path: Path,
) -> None:
    spool = open_spool(tmp_path, segment_bytes=HEADER + 20)
    assert cursor_text(tmp_path) == "1 0".ljust(47) + "\n"
    await spool.append(b"a" * 20, points=1)  # exactly segment_bytes: the segment is full
    await spool.append(b"b" * 20, points=1)
    names = sorted(p.name for p in tmp_path.glob("*.seg"))
    assert names == ["0000000000000001.seg", "0000000000000002.seg"]
    first = spool.next_unread()
    assert first is not None and (first.segment, first.offset, first.end) == (1, 0, HEADER + 20)
    spool.ack(first)
    assert cursor_text(tmp_path) == f"1 {HEADER + 20}".ljust(47) + "\n"
    assert len(names) == len(list(tmp_path.glob("*.seg")))
    second = spool.next_unread()
    assert second is not None and (second.segment, second.offset) == (2, 0)
    spool.ack(second)  # both consumed; the last one full too: gone, the cursor moves past it
    assert list(tmp_path.glob("*.seg")) == []
    assert cursor_text(tmp_path) == "3 0".ljust(47) + "\n"
    spool.close()
    reopened = open_spool(tmp_path, segment_bytes=HEADER + 20)
    await reopened.append(b"c", points=1)
    # numbers only grow: a restart with nothing left starts after the cursor's segment
    assert [p.name for p in tmp_path.glob("*.seg")] == ["0000000000000004.seg"]
    assert drain(reopened) == [b"c"]


async def test_a_segment_under_its_size_takes_the_next_record(tmp_path: Path) -> None:
    spool = open_spool(tmp_path, segment_bytes=HEADER + 21)
    await spool.append(b"a" * 20, points=1)
    await spool.append(b"b", points=1)
    assert len(list(tmp_path.glob("*.seg"))) == 1
    spool.close()
    reopened = open_spool(tmp_path, segment_bytes=HEADER + 40)  # appends go on in that file
    await reopened.append(b"c", points=1)
    assert len(list(tmp_path.glob("*.seg"))) == 1
    assert drain(reopened) == [b"a" * 20, b"b", b"c"]


async def test_segments_and_the_cursor_are_private_to_the_service(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    await spool.append(b"x", points=1)
    for path in [*tmp_path.glob("*.seg"), tmp_path / "cursor"]:
        assert path.stat().st_mode & 0o777 == 0o600


async def test_a_write_failing_half_way_leaves_no_half_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = open_spool(tmp_path)
    await spool.append(b"good", points=1)
    real_write = os.write
    calls = []

    def half_then_full(fd: int, data: bytes) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data)[:10])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(SpoolError) as refused:
        await spool.append(b"y" * 100, points=5)
    segment = next(tmp_path.glob("*.seg"))
    assert (
        str(refused.value)
        == f"cannot append to spool {segment}: [Errno 28] No space left on device"
    )
    assert spool.append_error == str(refused.value)
    assert spool.disk_error == str(refused.value)
    assert segment.stat().st_size == HEADER + 4  # the half record is cut off again
    assert spool.pending_points == 1
    monkeypatch.setattr(os, "write", real_write)
    await spool.append(b"after", points=2)
    assert spool.append_error is None and spool.disk_error is None
    spool.close()
    assert drain(open_spool(tmp_path)) == [b"good", b"after"]


async def test_each_corrupt_record_is_counted_and_said_with_where_and_how_much(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = open_spool(tmp_path, segment_bytes=40)  # one record per segment
    for payload in (b"A" * 40, b"B" * 40, b"C" * 40, b"D" * 40):
        await spool.append(payload, points=1)
    spool.close()
    segments = sorted(tmp_path.glob("*.seg"))
    for segment in segments[1:3]:
        data = bytearray(segment.read_bytes())
        data[0] ^= 0xFF  # a bad magic
        segment.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR, logger="gateway.storage.spool"):
        reopened = open_spool(tmp_path, segment_bytes=40)
    assert reopened.stats.corrupt_records == 2
    assert drain(reopened) == [b"A" * 40, b"D" * 40]
    quarantined = sorted((tmp_path / "corrupt").iterdir())
    assert [p.name for p in quarantined] == [f"{segments[1].name}.0", f"{segments[2].name}.0"]
    assert [len(p.read_bytes()) for p in quarantined] == [HEADER + 40, HEADER + 40]
    assert [r.getMessage() for r in caplog.records] == [
        f"spool: corrupt data in {s.name} at byte 0 ({HEADER + 40} bytes) moved to "
        f"{tmp_path / 'corrupt'}"
        for s in segments[1:3]
    ]


async def test_a_torn_tail_is_said_with_the_file_and_the_byte(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = open_spool(tmp_path)
    await spool.append(b"complete", points=1)
    await spool.append(b"torn-record-payload", points=1)
    spool.close()
    segment = next(tmp_path.glob("*.seg"))
    os.truncate(segment, segment.stat().st_size - 5)
    with caplog.at_level(logging.WARNING, logger="gateway.storage.spool"):
        reopened = open_spool(tmp_path)
    assert [r.getMessage() for r in caplog.records] == [
        f"spool: truncating torn tail of {segment.name} at byte {HEADER + 8}"
    ]
    assert segment.stat().st_size == HEADER + 8
    assert reopened.stats.corrupt_records == 0
    assert not (tmp_path / "corrupt").exists()


async def test_a_record_damaged_after_it_was_indexed_is_cut_when_read(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    for payload in (b"one", b"two", b"three"):
        await spool.append(payload, points=1)
    segment = next(tmp_path.glob("*.seg"))
    with segment.open("r+b") as f:  # the disk loses the second record's payload
        f.seek(HEADER + 3 + HEADER)
        f.write(b"XXX")
    first = spool.next_unread()
    assert first is not None and first.payload == b"one"
    assert spool.next_unread() is None  # the rest of the segment is quarantined
    assert spool.stats.corrupt_records == 1
    assert spool.pending_points == 1  # only the record before it is left
    spool.ack(first)
    assert spool.pending_batches == 0


def test_a_fresh_spool_in_a_new_nested_directory_reports_no_error(tmp_path: Path) -> None:
    spool = open_spool(tmp_path / "state" / "spool")
    assert (spool.append_error, spool.cursor_error, spool.disk_error) == (None, None, None)
    assert (spool.pending_points, spool.pending_batches, spool.size_bytes) == (0, 0, 0)


async def test_the_cursor_failure_and_recovery_are_logged_in_full(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = open_spool(tmp_path)
    for i in range(2):
        await spool.append(f"b{i}".encode(), points=1)
    assert spool._cursor_file is not None
    os.close(spool._cursor_file)  # the next write fails (EBADF), as an I/O error would
    with caplog.at_level(logging.WARNING, logger="gateway.storage.spool"):
        for _ in range(2):
            record = spool.next_unread()
            assert record is not None
            spool.ack(record)
    error = f"cannot save the spool cursor in {tmp_path}: [Errno 9] Bad file descriptor"
    assert [r.getMessage() for r in caplog.records] == [
        f"{error} (kept in memory; 0 failures not logged)",
        f"spool cursor saved again in {tmp_path}",
    ]


async def test_a_batch_dropped_at_the_cap_is_logged_with_its_sources(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = open_spool(tmp_path, max_bytes=200, segment_bytes=100)
    await spool.append(b"x" * 180, points=9, held=True)
    with caplog.at_level(logging.ERROR, logger="gateway.storage.spool"):
        await spool.append(b"y" * 80, points=3, sources={"traps": 1, "snmp": 2})
    assert spool.stats.evicted_batches == 1 and spool.stats.evicted_points == 3
    assert [r.getMessage() for r in caplog.records] == [
        "spool at its 200-byte limit: dropped a batch of 3 points from snmp, traps (0 batches "
        "dropped since the last report; acknowledged data is kept)"
    ]
