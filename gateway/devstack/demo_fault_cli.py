"""`edumon demo fault list | NAME [--target ID] | clear`: faults in a running `edumon demo`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway.devstack.demo_control import active_faults, request_faults
from gateway.devstack.demo_faults import FAULTS

DEFAULT_STATE_DIR = "state/demo"


def _describe(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(f"{fault} on {target}" for fault, target in pairs) or "none"


def cmd_demo_fault(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    if args.fault == "list":
        for fault in FAULTS.values():
            print(
                f"{fault.name:14} {fault.what} (--target: a {fault.kind}, e.g. "
                f"{fault.default_target})"
            )
        print(f"active: {_describe(active_faults(state_dir))}")
        return 0
    if args.fault == "clear":
        wanted: list[tuple[str, str]] = []
    elif args.fault in FAULTS:
        added = (args.fault, args.target or FAULTS[args.fault].default_target)
        wanted = [pair for pair in active_faults(state_dir) if pair != added] + [added]
    else:
        print(
            f"edumon demo fault: no fault {args.fault!r}; try: list, clear, {', '.join(FAULTS)}",
            file=sys.stderr,
        )
        return 2
    state = request_faults(state_dir, wanted)
    if state is None:
        print(
            f"edumon demo fault: no demo answered in {state_dir} "
            "(start `edumon demo` first, with the same --state-dir)",
            file=sys.stderr,
        )
        return 1
    return _report(state)


def _report(state: dict[str, Any]) -> int:
    for refused in state.get("refused", []):
        print(
            f"edumon demo fault: {refused['fault']} refused: {refused['reason']}", file=sys.stderr
        )
    active = [(e["fault"], e["target"]) for e in state.get("active", [])]
    print(f"active: {_describe(active)}")
    return 1 if state.get("refused") else 0


def add_fault_command(demo_sub: Any) -> None:
    fault = demo_sub.add_parser(
        "fault", help="inject a fault into the running demo: list, clear or a fault's name"
    )
    fault.add_argument("fault", help=f"list, clear, or one of: {', '.join(FAULTS)}")
    fault.add_argument("--target", help="the device (default: the fault's own, see `list`)")
    fault.add_argument(
        "--state-dir",
        default=DEFAULT_STATE_DIR,
        help="the running demo's state dir (default: %(default)s)",
    )
    fault.set_defaults(func=cmd_demo_fault)
