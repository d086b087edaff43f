"""Firmware tests import the firmware as the device does (top-level modules) plus CPython
shims for the MicroPython modules. Both directories go at the end of sys.path, so a local
firmware/secrets.py can never shadow the standard library's `secrets`."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRMWARE_DIR = HERE.parents[1] / "firmware"
SHIMS_DIR = HERE / "shims"
WASM_DIR = FIRMWARE_DIR / "wasm"
VECTORS_FILE = FIRMWARE_DIR / "test_vectors" / "lorawan_payloads.json"

for directory in (FIRMWARE_DIR, WASM_DIR, SHIMS_DIR):
    if str(directory) not in sys.path:
        sys.path.append(str(directory))

FIRMWARE_MODULES = ("lorawan_encoder", "offline_buffer", "reconnect_backoff", "exhibit_monitor")
WASM_MODULES = ("fakes", "scenario")
SHIM_MODULES = ("machine", "network", "umqtt.simple")


def _check_origins() -> None:
    """Fail loudly if an installed package of the same name would be tested instead."""
    import importlib.util

    for names, directory in (
        (FIRMWARE_MODULES, FIRMWARE_DIR),
        (WASM_MODULES, WASM_DIR),
        (SHIM_MODULES, SHIMS_DIR),
    ):
        for name in names:
            spec = importlib.util.find_spec(name)
            origin = Path(spec.origin) if spec is not None and spec.origin else None
            if origin is None or directory not in origin.parents:
                raise RuntimeError(f"{name} resolves to {origin}, not to {directory}")


_check_origins()
