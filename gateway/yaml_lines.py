"""Load YAML like `yaml.safe_load`, and remember the line of every key and list item.

`load_with_lines(text)` returns `(data, lines)` where `lines[("sites", 3, "devices", 0,
"address")]` is the 1-based line of that key, so validation errors can say file:line.

Differences from `yaml.safe_load`, all deliberate for a config file: a key repeated in one
mapping is an error (keys brought in by a `<<` merge may still be overridden, as YAML says),
and a recursive alias is an error. Aliased collections are shared, not copied, so an
alias bomb stays small; their lines are recorded where the anchor is. Every failure is a
`YamlProblem` carrying the line; none of its messages quotes a value from the file.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str | int, ...]

_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"


class YamlProblem(ValueError):
    """Syntax error, duplicate key or unreadable value; carries the 1-based line."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_with_lines(text: str) -> tuple[Any, dict[Path, int]]:
    """Parse one YAML document; raise `YamlProblem` (never another exception) on bad input."""
    lines: dict[Path, int] = {}
    loader: yaml.CSafeLoader | None = None
    try:
        loader = yaml.CSafeLoader(text)  # libyaml; its reader rejects unprintable characters
        root = loader.get_single_node()
        data = None if root is None else _Walker(loader, lines).build(root, ())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        kind = "error" if isinstance(error, yaml.constructor.ConstructorError) else "syntax error"
        # not str(error): its snippet would quote the file, and a line may hold a secret
        what = "; ".join(m for m in (error.context, error.problem) if m) or "invalid document"
        raise YamlProblem(mark.line + 1 if mark else None, f"YAML {kind}: {what}") from error
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        code = error.character if isinstance(error.character, int) else ord(error.character)
        message = f"YAML syntax error: unacceptable character #x{code:04x}: {error.reason}"
        raise YamlProblem(line, message) from error
    except yaml.YAMLError as error:
        raise YamlProblem(None, f"YAML error: {type(error).__name__}") from error
    except UnicodeEncodeError as error:  # libyaml takes UTF-8: a lone surrogate cannot be
        raise YamlProblem(None, "YAML error: the text is not valid Unicode") from error
    except RecursionError as error:
        raise YamlProblem(None, "YAML error: the document is nested too deeply") from error
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


def line_of(lines: dict[Path, int], loc: tuple[str | int, ...]) -> int | None:
    """The line of the deepest prefix of `loc` that exists in the file."""
    for end in range(len(loc), -1, -1):
        line = lines.get(loc[:end])
        if line is not None:
            return line
    return None


def dotted_path(path: Path) -> str:
    """("sites", 3, "devices", 0, "id") -> "sites[3].devices[0].id"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class _Walker:
    """Builds Python values from composed nodes with SafeConstructor's scalar rules."""

    def __init__(self, loader: yaml.CSafeLoader, lines: dict[Path, int]) -> None:
        self.loader = loader
        self.lines = lines
        self.built: dict[int, Any] = {}  # id(node) -> value, for collections reached twice
        self.active: set[int] = set()  # collections being built (a recursive alias)

    def build(self, node: Node, path: Path) -> Any:
        self.lines.setdefault(path, _line(node))
        if isinstance(node, ScalarNode):
            return self._construct(node)
        if id(node) in self.built:
            return self.built[id(node)]
        if id(node) in self.active:
            raise YamlProblem(_line(node), "YAML error: a recursive alias is not supported")
        self.active.add(id(node))
        if isinstance(node, MappingNode) and node.tag == _MAP:
            value: Any = self._mapping(node, path)
        elif isinstance(node, SequenceNode) and node.tag == _SEQ:
            value = [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        else:  # !!set, !!omap, !!pairs: safe_load's value; unknown tags: its error
            value = self._construct(node)
        self.active.discard(id(node))
        self.built[id(node)] = value
        return value

    def _mapping(self, node: MappingNode, path: Path) -> dict[Any, Any]:
        explicit: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag != _MERGE:
                key = self._key(key_node)
                if key in explicit:
                    raise YamlProblem(_line(key_node), f"duplicate key {str(key)[:80]!r}")
                explicit.add(key)
        self.loader.flatten_mapping(node)  # `<<` merges first, so explicit keys win below
        winners: dict[Any, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            winners[self._key(key_node)] = (key_node, value_node)
        result: dict[Any, Any] = {}
        for key, (key_node, value_node) in winners.items():
            child = (*path, key if isinstance(key, str) else str(key))
            self.lines[child] = _line(key_node)
            result[key] = self.build(value_node, child)
        return result

    def _key(self, node: Node) -> Any:
        key = self._construct(node)
        try:
            hash(key)
        except TypeError:
            raise YamlProblem(_line(node), "YAML error: a mapping key must be a scalar") from None
        return key

    def _construct(self, node: Node) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, OverflowError) as error:  # e.g. `!!int abc`
            tag = node.tag.removeprefix("tag:yaml.org,2002:")
            message = f"YAML error: the value is not a valid !!{tag}"
            raise YamlProblem(_line(node), message) from error


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1
