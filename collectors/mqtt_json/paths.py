"""Topic patterns with named segments, and dotted JSON paths (the config's two little languages).

A topic pattern is an MQTT filter whose single-level segments may be named: `tele/{device}/SENSOR`
matches what `tele/+/SENSOR` matches and binds `device`; `#` may end a pattern. A JSON path is
dotted keys and list indices, `ENERGY.Power` or `sensors.0.value` (Telegraf json_v2's GJSON
paths without the query syntax).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

_NAMED = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_LITERAL = re.compile(r"[^+#{}\x00]+")
_MISSING = object()


@dataclass(frozen=True)
class TopicPattern:
    segments: tuple[str, ...]  # a literal, "+", "#", or "{name}"

    @classmethod
    def parse(cls, text: str) -> TopicPattern:
        segments = tuple(text.split("/"))
        names = []
        for i, segment in enumerate(segments):
            named = _NAMED.fullmatch(segment)
            if named:
                names.append(named.group(1))
            elif segment == "#":
                if i != len(segments) - 1:
                    raise ValueError("'#' may only end a topic pattern")
            elif segment != "+" and not _LITERAL.fullmatch(segment):
                raise ValueError(
                    f"segment {segment!r} must be a literal, '+', '#' or a name like {{device}}"
                )
        if len(set(names)) != len(names):
            raise ValueError("a segment name is used twice")
        return cls(segments)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s[1:-1] for s in self.segments if s.startswith("{"))

    @property
    def subscription(self) -> str:
        return "/".join("+" if s.startswith("{") else s for s in self.segments)

    def match(self, topic: str) -> dict[str, str] | None:
        """The named segments' values when `topic` matches, else None."""
        parts = topic.split("/")
        bound: dict[str, str] = {}
        for i, segment in enumerate(self.segments):
            if segment == "#":
                return bound
            if i >= len(parts):
                return None
            if segment.startswith("{"):
                bound[segment[1:-1]] = parts[i]
            elif segment != "+" and segment != parts[i]:
                return None
        return bound if len(parts) == len(self.segments) else None


def template_names(template: str) -> list[str]:
    """The `{name}`s of a tag template; anything beyond plain names (formats, attributes) is
    refused, so a template can only paste topic segments."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name) or spec or conversion:
            raise ValueError(f"{{{name}}} must be a plain segment name like {{device}}")
        names.append(name)
    return names


def fill(template: str, values: Mapping[str, str]) -> str:
    return template.format_map(values)


@cache
def parse_path(text: str) -> tuple[str, ...]:
    parts = tuple(text.split("."))
    if not all(parts):
        raise ValueError(f"JSON path {text!r} has an empty key")
    return parts


def lookup(document: Any, path: Sequence[str]) -> Any:
    """The value at `path`, or None when any step is missing (a key, an index out of range)."""
    current = document
    for key in path:
        if isinstance(current, dict):
            current = current.get(key, _MISSING)
        elif isinstance(current, list) and key.isdigit() and int(key) < len(current):
            current = current[int(key)]
        else:
            return None
        if current is _MISSING:
            return None
    return current
