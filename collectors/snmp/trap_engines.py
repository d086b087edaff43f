"""The trap receiver's engine clocks across restarts, so a v3 trap replayed after edumon
restarted is still refused: `<state_dir>/snmp/trap_engines.json` (0600), one record per
authoritative engine: boots, time, the latest time taken, and when it was heard (wall clock).

Saved at most once a second while clocks move and when the receiver stops; written atomically
(temp file + rename). A trap taken in the last second before a kill -9 is not in the file.
A missing or unreadable file means a start without it, logged once; a failing save is logged
at most once a minute and retried.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path

from collectors.snmp.trap_time import TrapTimeliness
from gateway.log_limit import LogLimit

log = logging.getLogger(__name__)

SAVE_EVERY_S = 1.0
VERSION = 1


def save(timeliness: TrapTimeliness, path: Path) -> None:
    local, wall = timeliness.clock(), time.time()
    engines = {
        engine_id.hex(): [clock.boots, clock.time, clock.latest, wall - (local - clock.heard_at)]
        for engine_id, clock in timeliness.engines().items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    try:
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(descriptor, "w", encoding="utf-8") as file:
            json.dump({"version": VERSION, "engines": engines}, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except OSError:
        timeliness.changed = True  # try again at the next save
        temp.unlink(missing_ok=True)
        raise


def load(timeliness: TrapTimeliness, path: Path) -> int:
    """Restore what `save` wrote; returns how many engines."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        records = data["engines"] if data.get("version") == VERSION else {}
        engines = [
            (bytes.fromhex(engine), int(boots), int(at_time), int(latest), float(heard))
            for engine, (boots, at_time, latest, heard) in records.items()
        ]
    except FileNotFoundError:
        return 0
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        log.error("SNMP trap engines %s unreadable (%s); starting without them", path, error)
        return 0
    now = time.time()
    for engine_id, boots, at_time, latest, heard in sorted(engines, key=lambda e: e[-1]):
        timeliness.restore(engine_id, boots, at_time, latest, now - heard)
    return len(engines)


async def keep(timeliness: TrapTimeliness, path: Path, every_s: float = SAVE_EVERY_S) -> None:
    """Save the clocks while the receiver runs (when one moved), and once more at the end."""
    failures = LogLimit(60.0)

    def save_logged() -> None:
        try:
            save(timeliness, path)
        except OSError as error:
            skipped = failures.take()
            if skipped is not None:
                more = f" ({skipped} more failures since the last report)" if skipped else ""
                log.error("cannot save SNMP trap engines to %s: %s%s", path, error, more)

    try:
        while True:
            await asyncio.sleep(every_s)
            if timeliness.changed:
                save_logged()
    finally:
        if timeliness.changed:
            save_logged()
