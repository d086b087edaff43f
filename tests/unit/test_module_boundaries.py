"""The core has no back-references: only the command line (gateway/cli*.py) and the registry
(gateway/plugins.py) name collectors, only the command line builds the service, nothing imports
the registry inside a function, and every module imports on its own in a fresh interpreter
(no import cycle hidden by import order)."""

from __future__ import annotations

import ast
import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "collectors", "simulators", "dashboards")
COMMAND_LINE = {"gateway.cli", "gateway.cli_common"}
REGISTRY = "gateway.plugins"


def modules() -> Iterator[tuple[str, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, ast.parse(path.read_text(encoding="utf-8"), str(path))


def imports(tree: ast.Module, *, top_level: bool | None = None) -> Iterator[str]:
    """Every module an `import` names (with `from a import b`: a and a.b); only those at the
    top level, or only those inside functions, when `top_level` says so."""
    nested = {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
    }
    for node in ast.walk(tree):
        if top_level is not None and (id(node) in nested) == top_level:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def is_in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_only_the_command_line_and_the_registry_name_collectors() -> None:
    offenders = {
        name: sorted({m for m in imports(tree) if is_in(m, "collectors") or is_in(m, REGISTRY)})
        for name, tree in modules()
        if is_in(name, "gateway") and name not in COMMAND_LINE | {REGISTRY}
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_only_the_command_line_builds_the_service() -> None:
    offenders = [
        name
        for name, tree in modules()
        if name not in COMMAND_LINE | {"gateway.service"}
        and any(is_in(m, "gateway.service") for m in imports(tree))
    ]
    assert offenders == []


def test_nothing_imports_the_registry_inside_a_function() -> None:
    offenders = [
        name
        for name, tree in modules()
        if any(is_in(m, REGISTRY) for m in imports(tree, top_level=False))
    ]
    assert offenders == []


def test_every_module_imports_on_its_own_in_a_fresh_interpreter() -> None:
    """One forked child per module (the parent has imported only third-party libraries, so
    each child starts with none of the project's modules): an import cycle fails there with
    "partially initialized module" whatever the order the rest of the suite imported things."""
    found = dict(modules())
    project = {name.split(".")[0] for name in found}
    for library in sorted({m.split(".")[0] for tree in found.values() for m in imports(tree)}):
        if library not in project and library not in sys.modules:
            # an optional library missing: the module that needs it reports it below
            with contextlib.suppress(ImportError):
                importlib.import_module(library)
    saved = {name: module for name, module in sys.modules.items() if name.split(".")[0] in project}
    for name in saved:
        del sys.modules[name]
    failed: dict[str, str] = {}
    try:
        for name in found:
            read, write = os.pipe()
            child = os.fork()
            if child == 0:  # pragma: no cover - the child reports through the pipe
                os.close(read)
                try:
                    importlib.import_module(name)
                    message = b""
                except BaseException as error:
                    message = f"{type(error).__name__}: {error}".encode()
                os.write(write, message or b"ok")
                os._exit(0)
            os.close(write)
            with os.fdopen(read, "rb") as pipe:
                answer = pipe.read().decode()
            os.waitpid(child, 0)
            if answer != "ok":
                failed[name] = answer
    finally:
        sys.modules.update(saved)
    assert failed == {}
