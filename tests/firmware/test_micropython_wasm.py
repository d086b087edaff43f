"""The firmware logic under real MicroPython 1.27 (WebAssembly, in Node) must give the vector
bytes and the same results as CPython: this catches CPython-only code before a device does.

CI runs `npm ci --prefix firmware/wasm` first; without node or the package the test skips
locally and fails in CI."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
import scenario

from tests.firmware.conftest import WASM_DIR
from tests.firmware.vectors import expected_hex, load_vectors
from tests.unavailable import unavailable

PACKAGE_DIR = WASM_DIR / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
INSTALL = "npm ci --prefix firmware/wasm"


def _missing_reason() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (Node 20 runs the MicroPython WebAssembly port)"
    if not (PACKAGE_DIR / "micropython.mjs").exists():
        return f"@micropython/micropython-webassembly-pyscript is not installed: run `{INSTALL}`"
    return None


@pytest.fixture(scope="module")
def micropython_run() -> dict[str, Any]:
    if (reason := _missing_reason()) is not None:
        unavailable(reason)
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run(
        [node, str(WASM_DIR / "run_firmware.mjs")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"MicroPython run failed:\n{done.stderr}"
    output: dict[str, Any] = json.loads(done.stdout)
    return output


def test_it_really_is_micropython_1_27(micropython_run: dict[str, Any]) -> None:
    assert micropython_run["implementation"] == "micropython"
    assert micropython_run["version"][:2] == [1, 27]


def test_micropython_encodes_every_vector(micropython_run: dict[str, Any]) -> None:
    vectors = load_vectors()
    assert micropython_run["result"]["vectors"] == [expected_hex(v) for v in vectors]


@pytest.mark.parametrize("part", ["vectors", "buffer", "backoff", "monitor"])
def test_micropython_logic_equals_cpython(micropython_run: dict[str, Any], part: str) -> None:
    cpython = json.loads(json.dumps(scenario.run(load_vectors())))
    assert micropython_run["result"][part] == cpython[part]


def test_micropython_compiles_every_firmware_file(micropython_run: dict[str, Any]) -> None:
    from tests.firmware.conftest import FIRMWARE_DIR

    expected = sorted(p.name for p in FIRMWARE_DIR.glob("*.py") if p.name != "secrets.py")
    assert micropython_run["compiled"] == expected
