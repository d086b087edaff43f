"""The order of the spool's calls at its own boundary (the os module): a batch's bytes are
written and fsynced to its segment, and a new segment's directory entry is fsynced, before
`append` returns (the writer's `accept` returns then, and MQTT acks after it)."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from gateway.storage.spool import Spool


class DiskCalls:
    """Records os.write and os.fsync as ("write"|"fsync", what the fd is); fsync can be held."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fsync_may_finish = threading.Event()
        self.fsync_may_finish.set()
        self.fsync_started = threading.Event()
        real_write, real_fsync = os.write, os.fsync

        def write(fd: int, data: bytes) -> int:
            self.calls.append(("write", _what(fd)))
            return real_write(fd, data)

        def fsync(fd: int) -> None:
            self.fsync_started.set()
            self.fsync_may_finish.wait(10)
            real_fsync(fd)
            self.calls.append(("fsync", _what(fd)))

        monkeypatch.setattr(os, "write", write)
        monkeypatch.setattr(os, "fsync", fsync)


def _what(fd: int) -> str:
    target = os.readlink(f"/proc/self/fd/{fd}")
    return "directory" if os.path.isdir(target) else Path(target).suffix


async def test_append_returns_after_the_batch_is_written_and_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1 << 30, segment_bytes=1 << 20)
    disk = DiskCalls(monkeypatch)
    await spool.append(b"first", points=1)  # opens the first segment
    assert disk.calls == [("fsync", "directory"), ("write", ".seg"), ("fsync", ".seg")]

    disk.calls.clear()
    disk.fsync_may_finish.clear()
    disk.fsync_started.clear()
    append = asyncio.create_task(spool.append(b"second", points=1))
    assert await asyncio.to_thread(disk.fsync_started.wait, 10)
    await asyncio.sleep(0.05)  # the loop runs while the fsync is held
    assert not append.done()  # no ack before the fsync returned
    assert spool.pending_batches == 1  # nor is the batch visible to the sender yet
    disk.fsync_may_finish.set()
    await append
    assert disk.calls == [("write", ".seg"), ("fsync", ".seg")]
    assert spool.pending_batches == 2


async def test_a_new_segment_is_fsynced_into_its_directory_before_append_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1 << 30, segment_bytes=64)
    await spool.append(b"x" * 80, points=1)  # fills the first segment
    disk = DiskCalls(monkeypatch)
    await spool.append(b"y", points=1)
    assert disk.calls == [("fsync", "directory"), ("write", ".seg"), ("fsync", ".seg")]
    assert len(list((tmp_path / "spool").glob("*.seg"))) == 2
