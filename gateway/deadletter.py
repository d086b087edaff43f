"""Dead-letter files: one JSON object per line with the reason and the raw input, never silent.

Durable like good data: `add` writes a record at once (or keeps it in memory when it cannot),
and `sync` writes what is still waiting and fsyncs; it raises `NotDurable` while the disk
refuses (full, out of file handles). A source that can hold its input back (an MQTT consumer)
acknowledges a message only after `durable()`, so with a full disk the broker keeps the
message. While records wait, the write is retried every RETRY_S on the event loop's timer, so
`error` (shown in /healthz) clears within seconds of space coming back, without new input.
Records waiting in memory are bounded (MAX_PENDING_BYTES); beyond it they are counted as lost.

Bounded on disk: a record keeps at most RAW_LIMIT bytes of the raw input (with its original
size), and the file is rotated at `max_bytes` into `<name>.jsonl.1` .. `.<keep>` (the oldest
is dropped), so the tail of one source's dead letters never takes more than
(keep + 1) * max_bytes. A flood of garbage rotates the tail away, so the first FIRSTS records
of each (source, reason kind) of a UTC day are also kept in `<name>.first-<day>.jsonl` (at most
`max_bytes` a day; FIRST_DAYS days): the evidence of what started a flood stays. Files are
created 0600. Failures are logged once a minute, records once per kind then every 100th.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.deadletter_files import AppendFile, FirstsByDay
from gateway.log_limit import LogLimit

log = logging.getLogger(__name__)

RAW_LIMIT = 64 * 1024
MAX_BYTES = 4 * 1024 * 1024
KEEP = 1
LOG_EVERY_S = 60.0
MAX_KINDS = 1000  # reasons whose first record is logged; the rest share one
RETRY_S = 2.0
MAX_PENDING_BYTES = 64 * 1024 * 1024


class NotDurable(Exception):
    """Dead letters cannot be written or fsynced right now (disk full, no file handles)."""


class DeadLetterFile:
    """Append-only JSON-lines file; each record says when, why, from where, and what exactly."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = MAX_BYTES,
        keep: int = KEEP,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.count = 0  # records written
        self.lost = 0  # records dropped: more waiting in memory than MAX_PENDING_BYTES
        self.error: str | None = None  # the last write failure, until the waiting are written
        self._tail = AppendFile(path, max_bytes=max_bytes, keep=keep)
        self._firsts = FirstsByDay(path, max_bytes=max_bytes)
        self._wall_clock = wall_clock
        # [line, the day of the firsts file it also goes to (None: written there or not for it)]
        self._pending: list[list[Any]] = []
        self._pending_bytes = 0
        self._retry: asyncio.TimerHandle | None = None
        self._seen: dict[tuple[str, str], int] = {}
        self._failure_log = LogLimit(LOG_EVERY_S, clock=clock)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    @classmethod
    def in_state_dir(cls, state_dir: Path, name: str) -> DeadLetterFile:
        """The service's dead letters of one kind: `<state_dir>/deadletter/<name>.jsonl`."""
        return cls(Path(state_dir) / "deadletter" / f"{name}.jsonl")

    # ----------------------------------------------------------------- writing
    def add(self, *, source: str, reason: str, raw: str | bytes) -> None:
        """Write one record now, or keep it until the disk takes it; never raises."""
        now = self._wall_clock()
        data = raw.encode("utf-8", errors="backslashreplace") if isinstance(raw, str) else raw
        record: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "source": source,
            "reason": reason,
            "raw": data[:RAW_LIMIT].decode("utf-8", errors="backslashreplace"),
            "raw_size": len(data),
        }
        if len(data) > RAW_LIMIT:
            record["truncated"] = True
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")
        kind = reason.split(":", 1)[0][:80]
        if self._pending_bytes + len(line) > MAX_PENDING_BYTES:
            self.lost += 1
            self._log_failure()
            return
        self._pending.append([line, self._firsts.day_if_first(source, kind, now)])
        self._pending_bytes += len(line)
        self._log_record(source, kind, reason)
        try:
            self._write_pending()
        except OSError as error:
            self._failed(error)

    def sync(self) -> None:
        """Everything added so far is on disk and fsynced, or NotDurable says why not."""
        try:
            self._write_pending()
            self._tail.fsync()
            self._firsts.fsync()
        except OSError as error:
            self._failed(error)
            raise NotDurable(self.error) from error
        if self.error is not None:
            log.warning("dead letters are written to %s again", self.path)
            self.error = None

    async def durable(self, retry_s: float = RETRY_S) -> None:
        """Wait until `sync` succeeds (what an MQTT consumer does before it acknowledges)."""
        while True:
            try:
                return self.sync()
            except NotDurable:
                await asyncio.sleep(retry_s)

    def _write_pending(self) -> None:
        while self._pending:
            entry = self._pending[0]
            line, first_day = entry
            if first_day is not None:  # first, so a failure of the tail does not write it twice
                self._firsts.append(first_day, line)
                entry[1] = None
            self._tail.append(line)
            self._pending.pop(0)
            self._pending_bytes -= len(line)
            self.count += 1

    def _failed(self, error: OSError) -> None:
        self.error = f"cannot write {self.path}: {error.strerror or error}"
        self._log_failure()
        self._retry_later()

    def _retry_later(self) -> None:
        """Try again on the loop's timer, so the error clears once the disk takes records."""
        if self._retry is not None and not self._retry.cancelled():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a command, a test): the next add or sync retries
            return
        self._retry = loop.call_later(RETRY_S, self._retry_now)

    def _retry_now(self) -> None:
        self._retry = None
        with contextlib.suppress(NotDurable):  # sync scheduled the next attempt
            self.sync()

    def _log_failure(self) -> None:
        if (skipped := self._failure_log.take()) is not None:
            log.error(
                "%s (%d records waiting, %d lost, %d failures not logged)",
                self.error or f"too many dead letters waiting for {self.path}",
                len(self._pending),
                self.lost,
                skipped,
            )

    def _log_record(self, source: str, kind: str, reason: str) -> None:
        """The first of each kind, then every 100th: a flood of bad input must not flood logs."""
        key = (source, kind)
        if key not in self._seen and len(self._seen) >= MAX_KINDS:
            key = (source, "(other kinds)")
        seen = self._seen[key] = self._seen.get(key, 0) + 1
        if seen == 1 or seen % 100 == 0:
            log.warning("dead letter #%d from %s: %.300s (see %s)", seen, source, reason, self.path)

    def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        self._tail.close()
        self._firsts.close()

    # ----------------------------------------------------------------- reading
    @property
    def waiting(self) -> int:
        """Records added but not yet written (the disk refused them so far)."""
        return len(self._pending)

    def files(self) -> list[Path]:
        """The files of the rotating tail, oldest first."""
        return self._tail.files()

    def first_files(self) -> list[Path]:
        """The files of each day's first records per reason, oldest first."""
        return self._firsts.files()

    def read(self, *, firsts: bool = False) -> list[dict[str, Any]]:
        """Every record still kept in the tail (or in the firsts files), oldest first."""
        records: list[dict[str, Any]] = []
        for path in self.first_files() if firsts else self.files():
            with path.open(encoding="utf-8") as f:
                records += [json.loads(line) for line in f if line.strip()]
        return records


def private_state_files() -> None:
    """Files and directories edumon creates from now on are its user's only (0600 / 0700):
    dead letters hold raw input, alerts.json names every device."""
    os.umask(0o077)
