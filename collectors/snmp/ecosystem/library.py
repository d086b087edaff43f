"""A directory of ecosystem profiles (a checkout of kentik/snmp-profiles, Datadog's
default_profiles, Netdata's snmp.profiles, or the user's own in that format), read into
edumon profiles with `file:line` problems for what cannot be read.

Files are found in the directory and its sub-directories. `extends` names a file of the same
library: the one beside the profile, else the one of that name anywhere in it (Kentik keeps its
mixins in `_general/`). Files whose name starts with `_` are mixins, not profiles; files with
neither `sysobjectid`, `metrics` nor `extends` (trap definitions) are passed over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from collectors.snmp.ecosystem.document import Document, Metric
from collectors.snmp.ecosystem.translate import identity, matches, translate
from collectors.snmp.profile_model import Profile
from gateway.yaml_lines import YamlProblem, dotted_path, line_of, load_with_lines

SUFFIXES = (".yaml", ".yml")
PROFILE_KEYS = re.compile(r"^(sysobjectid|metrics|extends)\s*:", re.MULTILINE)
EDUMON_NAME = re.compile(r"^name\s*:", re.MULTILINE)  # edumon's profiles name themselves
ORIGIN = "ecosystem"


def is_library(directory: Path) -> bool:
    """Whether a directory holds profiles in the ecosystem's format (edumon's own name
    themselves with `name:` and match with `match:`)."""
    for path in _files(directory):
        text = _text(path)
        if PROFILE_KEYS.search(text) and not EDUMON_NAME.search(text):
            return True
    return False


@dataclass
class Library:
    root: Path
    documents: dict[Path, Document | None] = field(default_factory=dict)  # None: unreadable
    lines: dict[Path, dict[tuple[str | int, ...], int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)  # file -> symbols not read

    def __post_init__(self) -> None:
        self.files = _files(self.root)

    def document(self, path: Path) -> Document | None:
        if path not in self.documents:
            self.documents[path] = self._parse(path)
        return self.documents[path]

    def _parse(self, path: Path) -> Document | None:
        try:
            data, lines = load_with_lines(_text(path))
        except YamlProblem as error:
            self.problems.append(f"{path}:{error.line or 1}: {error.message}")
            return None
        self.lines[path] = lines
        if not isinstance(data, dict):
            self.problems.append(f"{path}:1: not a profile (a mapping of keys)")
            return None
        try:
            return Document.model_validate(data)
        except ValidationError as error:
            for e in error.errors():
                loc = tuple(p for p in e["loc"] if isinstance(p, int | str))
                line = line_of(lines, loc) or 1
                message = e["msg"].removeprefix("Value error, ")
                self.problems.append(f"{path}:{line}: {dotted_path(loc)}: {message}")
            return None

    def extended(self, path: Path, name: str) -> Path | None:
        beside = path.parent / name
        if beside.is_file():
            return beside
        return next((p for p in self.files if p.name == name), None)

    def chain(self, path: Path, seen: tuple[Path, ...] = ()) -> list[Document] | None:
        """The file's document after those it extends; None when one cannot be read."""
        document = self.document(path)
        if document is None:
            return None
        merged: list[Document] = []
        for number, name in enumerate(document.extends):
            parent = self.extended(path, name)
            where = f"{path}:{line_of(self.lines[path], ('extends', number)) or 1}: extends"
            if parent is None:
                self.problems.append(f"{where}: no file {name!r} in {self.root}")
                return None
            if parent in (*seen, path):
                self.problems.append(f"{where}: a cycle through {parent.name}")
                return None
            inherited = self.chain(parent, (*seen, path))
            if inherited is None:
                return None
            merged += inherited
        return [*merged, document]

    def metrics(self, path: Path) -> list[Metric] | None:
        chain = self.chain(path)
        return None if chain is None else [m for document in chain for m in document.metrics]


def load_library(directory: Path, taken: set[str] | None = None) -> tuple[list[Profile], list[str]]:
    """Every profile of the library as an edumon profile, and the problems of the others;
    a name in `taken` (edumon's profiles) gets the file's folder in front."""
    library = Library(directory)
    profiles: list[Profile] = []
    names = set(taken or ())
    for path in library.files:
        if path.name.startswith("_") or not PROFILE_KEYS.search(_text(path)):
            continue
        chain = library.chain(path)
        if chain is None:
            continue
        document = chain[-1]
        name = _unique(_name_of(path), path, names)
        profiles.append(_placed(library, name, document.sysobjectid, None, chain, path))
        for number, (pattern, target) in enumerate(document.matches.items()):
            redirected = _redirect(library, path, document, pattern, target, names, number)
            if redirected is not None:
                profiles.append(redirected)
    return profiles, library.problems


def _redirect(
    library: Library,
    path: Path,
    document: Document,
    pattern: str,
    target: str,
    names: set[str],
    number: int,
) -> Profile | None:
    """Kentik's `matches`: a device of this file's sysObjectIDs whose sysDescr (lower-cased)
    matches `pattern` takes the profile of file `target`."""
    where = f"{path}:{line_of(library.lines[path], ('matches', pattern)) or 1}: matches"
    target_path = library.extended(path, target)
    try:
        re.compile(pattern)
    except re.error as error:
        library.problems.append(f"{where}: not a valid regular expression: {error}")
        return None
    if target_path is None:
        library.problems.append(f"{where}: no file {target!r} in {library.root}")
        return None
    chain = library.chain(target_path)
    if chain is None:
        return None
    name = _unique(f"{_name_of(target_path)}-for-{_name_of(path)}-{number + 1}", path, names)
    sysdescr = f"(?i){pattern}"
    return _placed(library, name, document.sysobjectid, sysdescr, chain, target_path)


def _placed(
    library: Library,
    name: str,
    sysobjectid: list[str],
    sysdescr: str | None,
    chain: list[Document],
    path: Path,
) -> Profile:
    translated = translate([metric for document in chain for metric in document.metrics])
    if translated.skipped:
        library.skipped[str(path)] = translated.skipped
    profile = Profile(
        name=name,
        match=matches(sysobjectid, sysdescr),
        device=translated.device,
        metrics=translated.metrics,
        identity=identity([document.metadata for document in chain]),
    )
    profile._origin = ORIGIN
    profile._file = str(path)
    return profile


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix in SUFFIXES and p.is_file())


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _name_of(path: Path) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "profile"


def _unique(name: str, path: Path, taken: set[str]) -> str:
    if name in taken:
        name = f"{_name_of(path.parent)}-{name}"
    while name in taken:
        name += "-x"
    taken.add(name)
    return name
