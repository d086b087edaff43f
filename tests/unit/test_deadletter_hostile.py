"""Dead-letter files are bounded on disk, keep the first records of each reason of a day, are
private, and hold records back on a full disk until it takes them (`sync` says so)."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import resource
import stat
from pathlib import Path

import pytest

from gateway import deadletter
from gateway.deadletter import RAW_LIMIT, DeadLetterFile, NotDurable
from gateway.deadletter_files import FIRSTS


def test_a_record_keeps_64_kib_of_the_raw_input_and_its_size(tmp_path: Path) -> None:
    letters = DeadLetterFile(tmp_path / "d.jsonl")
    letters.add(source="mqtt", reason="invalid JSON: x", raw=b"\xff" + b"a" * 5_000_000)
    letters.add(source="mqtt", reason="invalid JSON: y", raw="small")
    big, small = letters.read()
    assert big["raw_size"] == 5_000_001 and big["truncated"] is True
    assert big["raw"].startswith("\\xffaaa") and len(big["raw"]) == RAW_LIMIT + 3
    assert small == {**small, "raw": "small", "raw_size": 5} and "truncated" not in small
    assert (tmp_path / "d.jsonl").stat().st_size < 2 * RAW_LIMIT


def test_files_rotate_at_the_cap_and_the_oldest_go(tmp_path: Path) -> None:
    letters = DeadLetterFile(tmp_path / "d.jsonl", max_bytes=200_000, keep=2)
    for n in range(100):
        letters.add(source="mqtt", reason=f"bad: {n}", raw=b"x" * 20_000)
    files = letters.files()
    assert [f.name for f in files] == ["d.jsonl.2", "d.jsonl.1", "d.jsonl"]
    assert all(f.stat().st_size <= 200_000 for f in files)
    kept = [int(r["reason"].split(": ")[1]) for r in letters.read()]
    assert kept == list(range(100 - len(kept), 100))  # the newest, in order
    assert letters.count == 100


class FullDisk:
    """The tail file's appends fail as on a full disk until `space()`."""

    def __init__(self, letters: DeadLetterFile, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = True
        real = letters._tail.append

        def append(line: bytes) -> None:
            if self.full:
                raise OSError(errno.ENOSPC, "No space left on device")
            real(line)

        monkeypatch.setattr(letters._tail, "append", append)

    def space(self) -> None:
        self.full = False


def test_on_a_full_disk_records_wait_sync_refuses_and_the_error_is_logged_once_a_minute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    now = [0.0]
    letters = DeadLetterFile(tmp_path / "d.jsonl", clock=lambda: now[0])
    disk = FullDisk(letters, monkeypatch)
    with caplog.at_level(logging.ERROR):
        for second in range(150):
            now[0] = float(second)
            letters.add(source="mqtt", reason=f"bad: {second}", raw=b"x")
    assert letters.waiting == 150 and letters.count == 0 and letters.lost == 0
    assert letters.error is not None and "No space left" in letters.error
    with pytest.raises(NotDurable, match="No space left"):
        letters.sync()
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 3  # 0, 60, 120 s
    disk.space()
    letters.sync()
    assert letters.error is None and letters.count == 150 and letters.waiting == 0
    assert [r["reason"] for r in letters.read()] == [f"bad: {n}" for n in range(150)]


def test_records_beyond_the_memory_bound_are_counted_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deadletter, "MAX_PENDING_BYTES", 10_000)
    letters = DeadLetterFile(tmp_path / "d.jsonl")
    FullDisk(letters, monkeypatch)
    for _ in range(100):
        letters.add(source="mqtt", reason="bad: x", raw=b"x" * 1000)
    assert letters.waiting == 9 and letters.lost == 91


async def test_the_error_clears_on_a_timer_once_the_disk_takes_records_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deadletter, "RETRY_S", 0.05)
    letters = DeadLetterFile(tmp_path / "d.jsonl")
    disk = FullDisk(letters, monkeypatch)
    letters.add(source="mqtt", reason="bad: x", raw=b"x")
    await asyncio.sleep(0.2)
    assert letters.error is not None  # retried, still full
    disk.space()
    await asyncio.sleep(0.2)  # no add, no sync: the timer wrote it
    assert letters.error is None and letters.waiting == 0 and letters.count == 1


async def test_durable_returns_once_the_records_are_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    letters = DeadLetterFile(tmp_path / "d.jsonl")
    disk = FullDisk(letters, monkeypatch)
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd))
    letters.add(source="mqtt", reason="bad: x", raw=b"x")
    waiting = asyncio.create_task(letters.durable(retry_s=0.01))
    await asyncio.sleep(0.1)
    assert not waiting.done() and not synced
    disk.space()
    await asyncio.wait_for(waiting, 5)
    assert len(synced) == 2  # the tail and the day's first records
    assert letters.read() == letters.read(firsts=True)


def test_a_flood_keeps_the_first_records_of_each_reason_of_the_day(tmp_path: Path) -> None:
    now = [1_796_428_800.0]  # 2026-12-05T00:00:00Z
    letters = DeadLetterFile(tmp_path / "d.jsonl", max_bytes=50_000, wall_clock=lambda: now[0])
    letters.add(source="mqtt", reason="unknown topic: what started it", raw=b"first")
    for n in range(5000):
        letters.add(source="mqtt", reason=f"invalid JSON: {n}", raw=b"x" * 100)
    now[0] += 86400
    letters.add(source="mqtt", reason="invalid JSON: the next day", raw=b"y")
    letters.sync()
    tail = letters.read()
    assert "unknown topic" not in {r["reason"].split(":")[0] for r in tail}  # rotated away
    firsts = letters.read(firsts=True)
    assert [r["reason"] for r in firsts] == [
        "unknown topic: what started it",
        *(f"invalid JSON: {n}" for n in range(FIRSTS)),
        "invalid JSON: the next day",
    ]
    days = [path.name for path in letters.first_files()]
    assert days == ["d.first-2026-12-05.jsonl", "d.first-2026-12-06.jsonl"]


def test_dead_letter_files_are_private(tmp_path: Path) -> None:
    letters = DeadLetterFile(tmp_path / "state" / "d.jsonl", max_bytes=1000)
    for n in range(20):
        letters.add(source="mqtt", reason=f"bad: {n}", raw=b"x" * 100)
    letters.sync()
    files = [*letters.files(), *letters.first_files()]
    assert len(files) == 3
    assert {stat.S_IMODE(path.stat().st_mode) for path in files} == {0o600}
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700


def lowest_free_descriptor() -> int:
    fd = 0
    while True:
        try:
            os.fstat(fd)
        except OSError:
            return fd
        fd += 1


def test_out_of_file_handles_records_wait_until_a_handle_is_free(tmp_path: Path) -> None:
    """A real EMFILE: the process may open no more files while the first record comes."""
    letters = DeadLetterFile(tmp_path / "d.jsonl")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # the limit at the lowest free descriptor, which the next open would take (counting the
    # open ones is not enough: under pytest-xdist they have gaps)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free_descriptor(), hard))
    try:
        letters.add(source="mqtt", reason="bad: x", raw=b"x")
        with pytest.raises(NotDurable, match="Too many open files"):
            letters.sync()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert letters.waiting == 1
    letters.sync()
    assert [r["raw"] for r in letters.read()] == ["x"] and letters.error is None
