"""The files under a dead-letter file (gateway/deadletter.py): a rotating tail, and each day's
first records per reason. Both append whole lines or nothing (a write cut short by a full disk
is truncated away) and are created 0600."""

from __future__ import annotations

import contextlib
import os
import time
from datetime import date, timedelta
from pathlib import Path

FIRSTS = 10  # records of each (source, reason kind) kept per UTC day
FIRST_DAYS = 7  # days of first records kept


class AppendFile:
    """`<path>`, rotated at `max_bytes` into `<path>.1` .. `<path>.<keep>` (the oldest goes)."""

    def __init__(self, path: Path, *, max_bytes: int, keep: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self._fd: int | None = None
        self._size = 0
        self._unsynced = False

    def append(self, line: bytes) -> None:
        fd = self._open()
        if self._size and self._size + len(line) > self.max_bytes:
            self._rotate()
            fd = self._open()
        _write_whole(fd, line, self._size)
        self._size += len(line)
        self._unsynced = True

    @property
    def size(self) -> int:
        self._open()
        return self._size

    def fsync(self) -> None:
        if self._unsynced and self._fd is not None:
            os.fsync(self._fd)
            self._unsynced = False

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._size = os.fstat(self._fd).st_size
        return self._fd

    def _rotate(self) -> None:
        """`<path>` -> `.1` -> ... -> `.<keep>`; the oldest is replaced. What was written is
        fsynced first: a rotated file is never touched again."""
        self.fsync()
        self.close()
        for n in range(self.keep, 0, -1):
            older = self._rotated(n - 1) if n > 1 else self.path
            if older.exists():
                older.replace(self._rotated(n))
        if self.keep == 0:
            self.path.unlink(missing_ok=True)

    def _rotated(self, n: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{n}")

    def files(self) -> list[Path]:
        rotated = [self._rotated(n) for n in range(self.keep, 0, -1)]
        return [path for path in [*rotated, self.path] if path.exists()]

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


class FirstsByDay:
    """`<stem>.first-<YYYY-MM-DD>.jsonl`: the first FIRSTS records of each (source, kind) of a
    UTC day, at most `max_bytes` a day, FIRST_DAYS days. The counts are in memory: after a
    restart a day may get another FIRSTS of a kind, within the same byte cap."""

    def __init__(self, tail: Path, *, max_bytes: int) -> None:
        self.directory = tail.parent
        self.stem = tail.name.removesuffix(".jsonl")
        self.max_bytes = max_bytes
        self._day = ""
        self._counts: dict[tuple[str, str], int] = {}
        self._file: AppendFile | None = None

    def day_if_first(self, source: str, kind: str, now: float) -> str | None:
        """The day of the firsts file a record of this kind also goes to, or None."""
        day = time.strftime("%Y-%m-%d", time.gmtime(now))
        if day != self._day:
            self._day, self._counts = day, {}
        seen = self._counts.get((source, kind), 0)
        if seen >= FIRSTS or (seen == 0 and len(self._counts) >= 1000):
            return None
        self._counts[source, kind] = seen + 1
        return day

    def append(self, day: str, line: bytes) -> None:
        if self._file is None or self._file.path != self._path(day):
            self._start(day)
        assert self._file is not None
        size = self._file.size
        if not size or size + len(line) <= self.max_bytes:  # else the day's cap is reached
            self._file.append(line)

    def _start(self, day: str) -> None:
        if self._file is not None:
            self._file.fsync()
            self._file.close()
        self._file = AppendFile(self._path(day), max_bytes=2 * self.max_bytes, keep=0)
        oldest_kept = self._path(str(date.fromisoformat(day) - timedelta(days=FIRST_DAYS - 1)))
        for old in self.files():
            if old.name < oldest_kept.name:
                old.unlink(missing_ok=True)

    def _path(self, day: str) -> Path:
        return self.directory / f"{self.stem}.first-{day}.jsonl"

    def fsync(self) -> None:
        if self._file is not None:
            self._file.fsync()

    def files(self) -> list[Path]:
        return sorted(self.directory.glob(f"{self.stem}.first-*.jsonl"))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _write_whole(fd: int, data: bytes, size: int) -> None:
    """All of `data` at the end of the file, or none of it (a short write is cut off)."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
        raise
