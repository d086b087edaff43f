"""Dead-letter files: one JSON object per line with the reason and the raw input, never silent.

Bounded on disk: a record keeps at most RAW_LIMIT bytes of the raw input (with its original
size), and the file is rotated at `max_bytes` into `<name>.jsonl.1` .. `.<keep>` (the oldest
is dropped), so one source's dead letters never take more than (keep + 1) * max_bytes.
A full or failing disk never raises into the intake: the record is counted as lost, the
failure is logged once a minute and shown in `error` until a write succeeds again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.log_limit import LogLimit

log = logging.getLogger(__name__)

RAW_LIMIT = 64 * 1024
MAX_BYTES = 4 * 1024 * 1024
KEEP = 1
LOG_EVERY_S = 60.0
MAX_KINDS = 1000  # reasons whose first record is logged; the rest share one


class DeadLetterFile:
    """Append-only JSON-lines file; each record says when, why, from where, and what exactly."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = MAX_BYTES,
        keep: int = KEEP,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.count = 0  # records written
        self.lost = 0  # records that could not be written (disk full, I/O error)
        self.error: str | None = None  # the last write failure, until a write succeeds
        self._seen: dict[tuple[str, str], int] = {}
        self._failure_log = LogLimit(LOG_EVERY_S, clock=clock)
        path.parent.mkdir(parents=True, exist_ok=True)

    @classmethod
    def in_state_dir(cls, state_dir: Path, name: str) -> DeadLetterFile:
        """The service's dead letters of one kind: `<state_dir>/deadletter/<name>.jsonl`."""
        return cls(Path(state_dir) / "deadletter" / f"{name}.jsonl")

    def add(self, *, source: str, reason: str, raw: str | bytes) -> None:
        data = raw.encode("utf-8", errors="backslashreplace") if isinstance(raw, str) else raw
        record: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "source": source,
            "reason": reason,
            "raw": data[:RAW_LIMIT].decode("utf-8", errors="backslashreplace"),
            "raw_size": len(data),
        }
        if len(data) > RAW_LIMIT:
            record["truncated"] = True
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")
        try:
            self._append(line)
        except OSError as error:
            self._failed(error)
            return
        self.count += 1
        if self.error is not None:
            log.warning("dead letters are written to %s again", self.path)
            self.error = None
        # log the first of each kind, then every 100th: a flood of bad input must not flood logs
        kind = (source, reason.split(":", 1)[0][:80])
        if kind not in self._seen and len(self._seen) >= MAX_KINDS:
            kind = (source, "(other kinds)")
        seen = self._seen[kind] = self._seen.get(kind, 0) + 1
        if seen == 1 or seen % 100 == 0:
            log.warning("dead letter #%d from %s: %.300s (see %s)", seen, source, reason, self.path)

    def _append(self, line: bytes) -> None:
        size = self.path.stat().st_size if self.path.exists() else 0
        if size and size + len(line) > self.max_bytes:
            self._rotate()
        with self.path.open("ab") as f:
            f.write(line)

    def _rotate(self) -> None:
        """`.jsonl` -> `.jsonl.1` -> ... -> `.jsonl.<keep>`; the oldest is replaced."""
        for n in range(self.keep, 0, -1):
            older = self._rotated(n - 1) if n > 1 else self.path
            if older.exists():
                older.replace(self._rotated(n))
        if self.keep == 0:
            self.path.unlink(missing_ok=True)

    def _rotated(self, n: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{n}")

    def _failed(self, error: OSError) -> None:
        self.lost += 1
        self.error = f"cannot write {self.path}: {error.strerror or error}"
        if self._failure_log.take() is not None:
            log.error("%s (%d dead letters lost so far)", self.error, self.lost)

    def files(self) -> list[Path]:
        """The files holding records, oldest first."""
        rotated = [self._rotated(n) for n in range(self.keep, 0, -1)]
        return [path for path in [*rotated, self.path] if path.exists()]

    def read(self) -> list[dict[str, Any]]:
        """Every record still kept, oldest first."""
        records: list[dict[str, Any]] = []
        for path in self.files():
            with path.open(encoding="utf-8") as f:
                records += [json.loads(line) for line in f if line.strip()]
        return records
