"""Load YAML like `yaml.safe_load`, and remember the line of every key and list item.

`load_with_lines(text)` returns `(data, lines)` where `lines[("sites", 3, "devices", 0,
"address")]` is the 1-based line of that key, so validation errors can say file:line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str | int, ...]


class YamlProblem(ValueError):
    """Syntax error or duplicate key; carries the 1-based line."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _Builder(yaml.SafeLoader):
    """SafeLoader whose constructor we drive node by node to record positions."""


def load_with_lines(text: str) -> tuple[Any, dict[Path, int]]:
    loader = _Builder(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        raise YamlProblem(line, f"YAML syntax error: {error.problem or error}") from error
    finally:
        loader.dispose()
    lines: dict[Path, int] = {}
    if root is None:
        return None, lines
    return _build(loader, root, (), lines), lines


def _build(loader: _Builder, node: Node, path: Path, lines: dict[Path, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, MappingNode):
        loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                raise YamlProblem(key_node.start_mark.line + 1, "a mapping key must be a scalar")
            if key in result:
                raise YamlProblem(key_node.start_mark.line + 1, f"duplicate key {key!r}")
            child = (*path, str(key))
            lines[child] = key_node.start_mark.line + 1
            result[key] = _build(loader, value_node, child, lines)
        return result
    if isinstance(node, SequenceNode):
        return [_build(loader, item, (*path, i), lines) for i, item in enumerate(node.value)]
    assert isinstance(node, ScalarNode)
    return loader.construct_object(node, deep=True)


def line_of(lines: dict[Path, int], loc: tuple[str | int, ...]) -> int | None:
    """The line of the deepest prefix of `loc` that exists in the file."""
    for end in range(len(loc), -1, -1):
        line = lines.get(tuple(str(p) if isinstance(p, str) else p for p in loc[:end]))
        if line is not None:
            return line
    return None
