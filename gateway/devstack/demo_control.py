"""`edumon demo fault`'s channel to the running demo: two small files in its state dir.

The command writes `fault-request.json`, the whole set of faults wanted with a fresh serial:
{"serial": n, "faults": [{"fault": "port-down", "target": "vsk-1-core"}, ...]}. The demo reads
it every POLL_S, stops the faults no longer wanted, starts the new ones on its simulators and
answers in `fault-state.json`: {"serial": n, "active": [...], "refused": [{..., "reason"}]}.
The command waits for the answer to its serial; none within its timeout means no demo runs on
that state dir. Both files are replaced whole (write, then rename), never read half-written.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from gateway.devstack.demo_faults import FAULTS, DemoWorld

log = logging.getLogger(__name__)

REQUEST, STATE = "fault-request.json", "fault-state.json"
POLL_S = 0.5
Wanted = tuple[str, str]  # (fault, target)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, path)


def _pairs(entries: object) -> list[Wanted]:
    if not isinstance(entries, list):
        return []
    return [
        (str(e.get("fault")), str(e.get("target")))
        for e in entries
        if isinstance(e, dict) and e.get("fault") and e.get("target")
    ]


def _entries(pairs: list[Wanted]) -> list[dict[str, str]]:
    return [{"fault": fault, "target": target} for fault, target in pairs]


class FaultControl:
    """The demo's side: applies the requested faults to its simulators."""

    def __init__(self, state_dir: Path, world: DemoWorld) -> None:
        self.state_dir = state_dir
        self.world = world
        self.active: list[Wanted] = []
        self.serial: object = None
        for name in (REQUEST, STATE):  # a previous demo's faults are not this one's
            (state_dir / name).unlink(missing_ok=True)
        _write(state_dir / STATE, {"serial": None, "active": [], "refused": []})

    async def run(self) -> None:
        while True:
            self.step()
            await asyncio.sleep(POLL_S)

    def step(self) -> None:
        request = _read(self.state_dir / REQUEST)
        if not request or request.get("serial") == self.serial:
            return
        self.serial = request.get("serial")
        wanted = _pairs(request.get("faults"))
        for fault, target in [pair for pair in self.active if pair not in wanted]:
            FAULTS[fault].stop(self.world, target)
            self.active.remove((fault, target))
            log.info("demo fault %s on %s cleared", fault, target)
        refused = []
        for fault, target in [pair for pair in wanted if pair not in self.active]:
            reason = self._refusal(fault, target)
            if reason:
                refused.append({"fault": fault, "target": target, "reason": reason})
                continue
            FAULTS[fault].start(self.world, target)
            self.active.append((fault, target))
            log.info("demo fault %s on %s started", fault, target)
        state = {"serial": self.serial, "active": _entries(self.active), "refused": refused}
        _write(self.state_dir / STATE, state)

    def _refusal(self, fault: str, target: str) -> str:
        if fault not in FAULTS:
            return f"no fault {fault!r} (faults: {', '.join(FAULTS)})"
        kind = FAULTS[fault].kind
        targets = self.world.targets(kind)
        if target not in targets:
            return f"no {kind} {target!r} in the demo (e.g. {', '.join(targets[:4])})"
        return ""


def active_faults(state_dir: Path) -> list[Wanted]:
    """The faults the running demo last said are on."""
    return _pairs(_read(state_dir / STATE).get("active"))


def request_faults(
    state_dir: Path, wanted: list[Wanted], timeout_s: float = 5.0
) -> dict[str, Any] | None:
    """Ask the demo for exactly `wanted`; its answer, or None when no demo answered."""
    serial = time.time_ns()
    _write(state_dir / REQUEST, {"serial": serial, "faults": _entries(wanted)})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = _read(state_dir / STATE)
        if state.get("serial") == serial:
            return state
        time.sleep(POLL_S / 5)
    return None
