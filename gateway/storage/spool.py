"""Durable, bounded, append-only spool of line-protocol batches (the writer's write-ahead log).

Every batch is appended and fsynced before it is sent, and the read cursor only moves past a
batch once the database (or the dead-letter file) has taken it, so a kill -9 at any moment loses
nothing that `append` returned for. A crash between "database answered 204" and "cursor saved"
re-sends that batch after restart; points carry their own timestamps, so InfluxDB and
VictoriaMetrics store them once.

On disk: `<dir>/<seq:016d>.seg` segment files of records, and `<dir>/cursor` ("seq offset",
padded to a fixed width and rewritten in place: one pwrite per ack, which needs no new disk
block, so it works on a full disk too; a rewrite and rename per ack was 5-8% of the MQTT
bench's CPU).
Record = header (magic, payload length, point count, crc32 of payload) + gzip payload.
A torn record at the tail (kill -9 mid-write) is truncated on open; a corrupt record elsewhere
moves the rest of its segment to `<dir>/corrupt/` and is counted, never a crash.

The size cap (`max_bytes`) never costs acknowledged data. From PAUSE_FRACTION of it on,
`filling` is set and the MQTT consumers stop taking messages (the broker keeps them) until
`wait_for_room` returns, once acks shrank the spool again. A batch appended with `held=True`
(it carries data a source acknowledged, or will once it is durable) is always appended; one
without (polls, traps, edumon's own metrics: sources that cannot be held back) that does not fit
under the cap is dropped instead, its points counted per source (`stats.evicted_by_source`).

A full disk: `append` raises SpoolError (the pipeline keeps the batch and retries, collectors
feel backpressure, MQTT acks wait). Saving the cursor never raises: when it fails (an I/O
error, a directory that became read-only) the cursor stays in memory, consumed segments are
still deleted (after a crash a stale cursor only re-sends), and the save is retried on every
ack. `disk_error` says what fails until it works again; failures are logged once a minute.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import os
import struct
import zlib
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gateway.log_limit import LogLimit

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<4sIII")
_MAGIC = b"EDS1"
_CURSOR = "cursor"
_CURSOR_WIDTH = 48  # bytes: two 64-bit numbers, a space and the newline fit with room
PAUSE_FRACTION = 0.9  # of max_bytes: held-back sources pause, the rest is their headroom


class SpoolError(Exception):
    """The spool directory cannot be used (permissions, disk full, ...)."""


@dataclass(frozen=True, slots=True)
class Record:
    segment: int
    offset: int
    end: int
    points: int
    payload: bytes


@dataclass
class _Segment:
    seq: int
    path: Path
    size: int = 0
    # (record start offset, points) for every record, in file order
    records: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class SpoolStats:
    evicted_points: int = 0  # points of batches dropped at the cap
    evicted_batches: int = 0
    evicted_by_source: Counter[str] = field(default_factory=Counter)
    corrupt_records: int = 0


class Spool:
    """Segments of records with a persisted read cursor; one writer, in-order acks."""

    def __init__(self, directory: Path, *, max_bytes: int, segment_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.stats = SpoolStats()
        self._segments: list[_Segment] = []
        self._write_file: int | None = None
        self._cursor_file: int | None = None
        self._read_pos: tuple[int, int] = (0, 0)  # next record to hand out
        self._cursor: tuple[int, int] = (0, 0)  # first record not yet acknowledged
        self._in_flight: deque[list[Record | bool]] = deque()
        self._appending = False
        self.append_error: str | None = None
        self.cursor_error: str | None = None
        self._disk_log = LogLimit(60.0)
        self._room = asyncio.Event()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._recover()
        except OSError as error:
            raise SpoolError(f"spool directory {directory} is unusable: {error}") from error

    # ----------------------------------------------------------------- recovery
    def _recover(self) -> None:
        seqs = sorted(int(p.stem) for p in self.directory.glob("*.seg") if p.stem.isdigit())
        self._cursor = self._load_cursor()
        for seq in seqs:
            segment = _Segment(seq, self._segment_path(seq))
            self._scan(segment, is_last=seq == seqs[-1])
            self._segments.append(segment)
        self._drop_consumed_segments()
        if not self._segments or self._cursor < (self._segments[0].seq, 0):
            first = self._segments[0].seq if self._segments else self._cursor[0] + 1
            self._cursor = (first, 0)
        self._read_pos = self._cursor
        self._save_cursor()

    def _load_cursor(self) -> tuple[int, int]:
        try:
            seq, offset = (self.directory / _CURSOR).read_text().split()
            return int(seq), int(offset)
        except (OSError, ValueError):
            return (0, 0)

    def _scan(self, segment: _Segment, *, is_last: bool) -> None:
        """Index a segment's records; truncate a torn tail, quarantine a corrupt middle."""
        with segment.path.open("rb") as f:
            data = f.read()
        offset = 0
        while offset < len(data):
            header = data[offset : offset + _HEADER.size]
            valid = len(header) == _HEADER.size
            if valid:
                magic, length, points, crc = _HEADER.unpack(header)
                end = offset + _HEADER.size + length
                valid = magic == _MAGIC and end <= len(data)
                if valid and is_last and end == len(data):
                    # only the tail can be torn by a crash mid-append: check its checksum now
                    valid = zlib.crc32(data[offset + _HEADER.size : end]) == crc
            if not valid:
                self._cut(segment, offset, len(data), torn=is_last)
                break
            segment.records.append((offset, points))
            offset = end
        segment.size = min(offset, len(data))

    def _cut(self, segment: _Segment, offset: int, length: int, *, torn: bool) -> None:
        if torn:
            log.warning("spool: truncating torn tail of %s at byte %d", segment.path.name, offset)
        else:
            quarantine = self.directory / "corrupt"
            quarantine.mkdir(exist_ok=True)
            with segment.path.open("rb") as src:
                src.seek(offset)
                (quarantine / f"{segment.path.name}.{offset}").write_bytes(src.read())
            self.stats.corrupt_records += 1
            log.error(
                "spool: corrupt data in %s at byte %d (%d bytes) moved to %s",
                segment.path.name,
                offset,
                length - offset,
                quarantine,
            )
        os.truncate(segment.path, offset)

    # ------------------------------------------------------------------- append
    async def append(
        self,
        payload: bytes,
        points: int,
        *,
        held: bool = False,
        sources: Mapping[str, int] | None = None,
    ) -> None:
        """Append one gzip-compressed batch; returns once it is fsynced (durable).

        The write and fsync run in a worker thread so a slow disk never stalls the event loop;
        the record only becomes visible to readers after it is durable. One append at a time.
        A batch that is not `held` and does not fit under the cap is dropped and counted under
        its `sources` (points per source) instead.
        """
        if not held and self.size_bytes + _HEADER.size + len(payload) > self.max_bytes:
            self._evict(points, sources or {"unknown": points})
            return
        segment = self._writable_segment()
        header = _HEADER.pack(_MAGIC, len(payload), points, zlib.crc32(payload))
        fd = self._write_file
        assert fd is not None
        self._appending = True
        # Shielded: if the caller is cancelled mid-write, the record is still registered (or
        # rolled back) once the thread finishes, so the file and the index never disagree.
        loop = asyncio.get_running_loop()
        write = loop.run_in_executor(None, _write_durably, fd, header + payload)
        write.add_done_callback(
            lambda done: self._finish_append(done, segment, fd, len(header) + len(payload), points)
        )
        try:
            await asyncio.shield(write)
        except OSError as error:
            self.append_error = f"cannot append to spool {segment.path}: {error}"
            raise SpoolError(self.append_error) from error
        self.append_error = None

    def _finish_append(
        self, write: asyncio.Future[None], segment: _Segment, fd: int, length: int, points: int
    ) -> None:
        self._appending = False
        if write.cancelled() or write.exception() is not None:
            # leave no half-written record behind, so the next append starts clean
            os.ftruncate(fd, segment.size)
            return
        segment.records.append((segment.size, points))
        segment.size += length

    def _writable_segment(self) -> _Segment:
        last = self._segments[-1] if self._segments else None
        if last is None or last.size >= self.segment_bytes or self._write_file is None:
            if last is not None and last.size < self.segment_bytes and self._write_file is None:
                self._write_file = os.open(last.path, os.O_WRONLY | os.O_APPEND)
                return last
            self._close_write_file()
            seq = last.seq + 1 if last else self._cursor[0]
            last = _Segment(seq, self._segment_path(seq))
            self._write_file = os.open(last.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._segments.append(last)
            self._fsync_directory()
        return last

    def _evict(self, points: int, sources: Mapping[str, int]) -> None:
        self.stats.evicted_points += points
        self.stats.evicted_batches += 1
        self.stats.evicted_by_source.update(sources)
        if (skipped := self._disk_log.take("cap")) is not None:
            log.error(
                "spool at its %d-byte limit: dropped a batch of %d points from %s (%d batches "
                "dropped since the last report; acknowledged data is kept)",
                self.max_bytes,
                points,
                ", ".join(sorted(sources)),
                skipped,
            )

    @property
    def filling(self) -> bool:
        """At PAUSE_FRACTION of the cap: sources that can be held back wait for room."""
        return self.size_bytes >= self.max_bytes * PAUSE_FRACTION

    async def wait_for_room(self) -> None:
        """Return once the spool is below PAUSE_FRACTION of its cap."""
        while self.filling:
            self._room.clear()
            await self._room.wait()

    # --------------------------------------------------------------- read / ack
    def next_unread(self) -> Record | None:
        """The next record not yet handed out, or None. It stays pending until `ack`."""
        while True:
            seq, offset = self._read_pos
            segment = self._segment(seq)
            if segment is None:
                return None
            if offset >= segment.size:
                if segment is self._segments[-1]:
                    return None
                self._read_pos = (self._segments[self._segments.index(segment) + 1].seq, 0)
                continue
            record = self._read(segment, offset)
            if record is None:  # corrupt: the rest of this segment was quarantined
                continue
            self._read_pos = (seq, record.end)
            self._in_flight.append([record, False])
            return record

    def _read(self, segment: _Segment, offset: int) -> Record | None:
        with segment.path.open("rb") as f:
            f.seek(offset)
            header = f.read(_HEADER.size)
            magic, length, points, crc = _HEADER.unpack(header)
            payload = f.read(length)
        if magic != _MAGIC or len(payload) != length or zlib.crc32(payload) != crc:
            self._cut(segment, offset, segment.size, torn=False)
            segment.records = [r for r in segment.records if r[0] < offset]
            segment.size = offset
            return None
        return Record(segment.seq, offset, offset + _HEADER.size + length, points, payload)

    def ack(self, *records: Record) -> None:
        """The records are in the database (or dead-lettered): advance the cursor past them."""
        for entry in self._in_flight:
            if entry[0] in records:
                entry[1] = True
        while self._in_flight and self._in_flight[0][1]:
            done = self._record_of(self._in_flight.popleft())
            self._cursor = (done.segment, done.end)
        if not self._in_flight:
            self._cursor = max(self._cursor, self._read_pos)
        self._save_cursor()
        self._drop_consumed_segments()

    def rewind(self) -> None:
        """Forget what was handed out but not acked; it will be handed out again."""
        self._in_flight.clear()
        self._read_pos = self._cursor

    # ---------------------------------------------------------------- accounting
    @property
    def size_bytes(self) -> int:
        return sum(s.size for s in self._segments)

    @property
    def pending_points(self) -> int:
        """Points appended but not yet acknowledged (sent or in flight)."""
        return sum(points for _, points in self._unacked_records())

    @property
    def pending_batches(self) -> int:
        return sum(1 for _ in self._unacked_records())

    def _unacked_records(self) -> Iterator[tuple[int, int]]:
        """(offset, points) of the records at or after the cursor (found by bisection: the
        gauges read this on every append and ack, and a segment holds thousands of records)."""
        seq, offset = self._cursor
        for segment in self._segments:
            if segment.seq == seq:
                yield from segment.records[bisect.bisect_left(segment.records, (offset,)) :]
            elif segment.seq > seq:
                yield from segment.records

    def close(self) -> None:
        self._close_write_file()
        self._save_cursor()
        self._close_cursor_file()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _record_of(entry: list[Record | bool]) -> Record:
        record = entry[0]
        assert isinstance(record, Record)
        return record

    def _segment(self, seq: int) -> _Segment | None:
        return next((s for s in self._segments if s.seq == seq), None)

    def _segment_path(self, seq: int) -> Path:
        return self.directory / f"{seq:016d}.seg"

    def _drop_consumed_segments(self) -> None:
        while len(self._segments) > 1 and self._cursor[0] > self._segments[0].seq:
            self._segments.pop(0).path.unlink(missing_ok=True)
            self._room.set()
        only = self._segments[0] if len(self._segments) == 1 else None
        if only is not None and self._full_and_consumed(only) and not self._appending:
            self._close_write_file()
            self._segments.pop(0).path.unlink(missing_ok=True)
            self._room.set()
            self._cursor = (self._cursor[0] + 1, 0)
            self._read_pos = self._cursor
            self._save_cursor()

    def _full_and_consumed(self, segment: _Segment) -> bool:
        return segment.size >= self.segment_bytes and self._cursor == (segment.seq, segment.size)

    def _save_cursor(self) -> None:
        record = f"{self._cursor[0]} {self._cursor[1]}".ljust(_CURSOR_WIDTH - 1) + "\n"
        try:
            if self._cursor_file is None:
                self._cursor_file = os.open(
                    self.directory / _CURSOR, os.O_WRONLY | os.O_CREAT, 0o600
                )
            os.pwrite(self._cursor_file, record.encode(), 0)
        except OSError as error:
            self._close_cursor_file()  # the next save opens it again
            self.cursor_error = f"cannot save the spool cursor in {self.directory}: {error}"
            if (skipped := self._disk_log.take("cursor")) is not None:
                log.error("%s (kept in memory; %d failures not logged)", self.cursor_error, skipped)
            return
        if self.cursor_error is not None:
            log.warning("spool cursor saved again in %s", self.directory)
            self.cursor_error = None

    @property
    def disk_error(self) -> str | None:
        """Why the spool cannot write to its disk right now (e.g. it is full), else None."""
        return self.append_error or self.cursor_error

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _close_cursor_file(self) -> None:
        if self._cursor_file is not None:
            with contextlib.suppress(OSError):
                os.close(self._cursor_file)
            self._cursor_file = None

    def _close_write_file(self) -> None:
        if self._write_file is not None:
            os.close(self._write_file)
            self._write_file = None


def _write_durably(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)
