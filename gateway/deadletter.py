"""Dead-letter files: one JSON object per line with the reason and the raw input, never silent."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)


class DeadLetterFile:
    """Append-only JSON-lines file; each record says when, why, from where, and what exactly."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._seen: dict[tuple[str, str], int] = {}
        path.parent.mkdir(parents=True, exist_ok=True)

    @classmethod
    def in_state_dir(cls, state_dir: Path, name: str) -> DeadLetterFile:
        """The service's dead letters of one kind: `<state_dir>/deadletter/<name>.jsonl`."""
        return cls(Path(state_dir) / "deadletter" / f"{name}.jsonl")

    def add(self, *, source: str, reason: str, raw: str | bytes) -> None:
        text = raw.decode("utf-8", errors="backslashreplace") if isinstance(raw, bytes) else raw
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "source": source,
            "reason": reason,
            "raw": text,
        }
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.count += 1
        # log the first of each kind, then every 100th: a flood of bad input must not flood logs
        kind = (source, reason.split(":", 1)[0])
        seen = self._seen.get(kind, 0) + 1
        self._seen[kind] = seen
        if seen == 1 or seen % 100 == 0:
            log.warning("dead letter #%d from %s: %s (see %s)", seen, source, reason, self.path)

    def read(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
