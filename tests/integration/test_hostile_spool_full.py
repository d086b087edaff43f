"""The spool on a real full filesystem (a small tmpfs): an append that does not fit raises
SpoolError and leaves nothing half-written; acks keep working and still save the cursor (it
is rewritten in place) while the consumed segments are deleted, which is what gives the space
back; the spool recovers by itself once space is back, and a restart finds exactly what was
unacked."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from gateway.storage.spool import Spool, SpoolError
from tests.small_disk import fill, free_bytes, small_disk

pytestmark = pytest.mark.integration
BATCH = os.urandom(64 * 1024)  # incompressible, as a spooled gzip batch is


def open_spool(disk: Path) -> Spool:
    return Spool(disk / "spool", max_bytes=1 << 30, segment_bytes=256 * 1024)


async def test_a_full_disk_is_reported_and_the_spool_recovers_by_itself(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with small_disk(tmp_path / "disk", 4) as disk:
        spool = open_spool(disk)
        appended = 0
        with pytest.raises(SpoolError):
            while True:  # until the disk is full
                await spool.append(BATCH, points=1)
                appended += 1
        assert spool.disk_error is not None and "No space left" in spool.disk_error
        assert spool.pending_batches == appended  # the failed one left nothing behind
        filler = fill(disk)
        caplog.set_level(logging.WARNING)
        assert free_bytes(disk) == 0
        for _ in range(appended // 2):  # meanwhile the database takes half of it
            record = spool.next_unread()
            assert record is not None
            spool.ack(record)  # must not raise on a full disk
        assert free_bytes(disk) > 0  # consumed segments were deleted
        assert "cannot save the spool cursor" not in caplog.text  # in place: no new block
        assert spool.cursor_error is None
        filler.unlink()
        await spool.append(BATCH, points=1)
        record = spool.next_unread()
        assert record is not None
        spool.ack(record)
        assert spool.disk_error is None
        spool.close()
        assert open_spool(disk).pending_batches == appended - appended // 2
