"""Source rules for firmware/ that MicroPython 1.27 itself would accept but older device
builds or small ports do not: no walrus, no f-string `=`, no CPython-only imports."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.firmware.conftest import FIRMWARE_DIR

SOURCES = sorted([*FIRMWARE_DIR.glob("*.py"), *(FIRMWARE_DIR / "wasm").glob("*.py")])
CPYTHON_ONLY = {
    "dataclasses",
    "typing",
    "typing_extensions",
    "pathlib",
    "contextlib",
    "enum",
    "abc",
    "__future__",
    "asyncio",
    "logging",
}
# `{name=}` / `{name=!r}` / `{name=:>3}` inside an f-string
FSTRING_SELF_DOC = re.compile(r"\{[^{}'\"]*[^=!<>]=(![rsa])?(:[^{}]*)?\}")


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_firmware_source_is_micropython_safe(path: Path) -> None:
    source = path.read_text()
    tree = ast.parse(source)
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.NamedExpr):
            problems.append(f"line {node.lineno}: walrus")
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "").split(".")[0]]
        else:
            continue
        problems += [f"line {node.lineno}: imports {n}" for n in names if n in CPYTHON_ONLY]
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = ast.get_source_segment(source, node) or ""
            if FSTRING_SELF_DOC.search(text):
                problems.append(f"line {node.lineno}: f-string '=' specifier")
    assert problems == []


def test_the_rules_catch_what_they_are_for() -> None:
    assert FSTRING_SELF_DOC.search("f'{x=}'") and FSTRING_SELF_DOC.search("f'{x=!r}'")
    assert not FSTRING_SELF_DOC.search("f'{x!r} {a == b}'")
