"""Device profiles: load the shipped ones and the user's (`snmp.profile_dirs`), check them with
file:line errors like the config, resolve `extends`, and pick the one a device matches."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from collectors.snmp.config import ProfileDir
from collectors.snmp.ecosystem.library import ORIGIN as ECOSYSTEM
from collectors.snmp.ecosystem.library import is_library, load_library
from collectors.snmp.profile_model import Match, Profile
from gateway.yaml_lines import YamlProblem, dotted_path, line_of, load_with_lines

log = logging.getLogger(__name__)
SHIPPED = Path(__file__).parent / "profiles"
ROOT = "generic"
SHIPPED_ORIGIN, USER = "shipped", "user"
Checked = TypeVar("Checked", bound=BaseModel)
# among matching profiles: the user's own edumon profiles first; then ecosystem and shipped
# ones by the most specific match, an ecosystem profile winning a tie (so a library's
# catch-all such as Kentik's 1.3.6.1.4.* does not displace a shipped vendor profile)
FIRST = {USER: 1, ECOSYSTEM: 0, SHIPPED_ORIGIN: 0}
TIE = {USER: 0, ECOSYSTEM: 1, SHIPPED_ORIGIN: 0}


class ProfileError(ValueError):
    """Every problem of the profiles, one `file:line: field: message` per line."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Matched:
    profile: Profile  # flattened: what it extends is merged in
    why: str


def load_profiles(dirs: Iterable[Path | ProfileDir] = ()) -> dict[str, Profile]:
    """Every profile by name, flattened; a user's profile may replace a shipped one. A
    directory in the ecosystem's format (Datadog/Kentik/Netdata) adds its profiles."""
    raw: dict[str, tuple[Profile, str]] = {}
    problems: list[str] = []
    found, problems = _shipped()
    problems = list(problems)
    raw.update((profile.name, (profile, where)) for profile, where in found)
    libraries = []
    for entry in dirs:
        entry = entry if isinstance(entry, ProfileDir) else ProfileDir(path=entry)
        directory, kind = entry.path, entry.format
        if kind == "datadog" or (kind == "auto" and directory.is_dir() and is_library(directory)):
            libraries.append(entry)
            continue
        found, trouble = _load_directory(directory)
        for profile, where in found:
            profile._origin, profile._file = USER, where
            raw[profile.name] = (profile, where)
        problems += trouble
    resolved: dict[str, Profile] = {}
    for name, (profile, where) in raw.items():
        try:
            resolved[name] = _flatten(name, {n: p for n, (p, _) in raw.items()})
        except ValueError as error:
            problems.append(f"{where}: extends: {error}")
        else:
            if name != ROOT and profile.extends is None:
                problems.append(f"{where}: extends: every profile but {ROOT} extends one")
    for library in libraries:
        ecosystem, trouble = load_library(library.path, set(resolved))
        resolved.update((profile.name, profile) for profile in ecosystem)
        if library.strict:
            problems += trouble
        for problem in trouble if not library.strict else ():
            log.warning("profile left out: %s", problem)
    if problems:
        raise ProfileError(problems)
    return resolved


@cache
def _shipped() -> tuple[list[tuple[Profile, str]], list[str]]:
    """The package's own profiles, read once per process (they are package data)."""
    return _load_directory(SHIPPED)


def _load_directory(directory: Path) -> tuple[list[tuple[Profile, str]], list[str]]:
    """(profile, file) of each profile file, and the problems of the others."""
    if not directory.is_dir():
        return [], [f"{directory}: not a directory of profiles"]
    problems: list[str] = []
    return load_directory(directory, Profile, problems), problems


def load_directory(
    directory: Path, model: type[Checked], problems: list[str]
) -> list[tuple[Checked, str]]:
    """(item, file) of each *.yaml file of the directory that `model` accepts; the problems
    of the others (file:line: field: message) added to `problems`. Wi-Fi profiles use it too."""
    found: list[tuple[Checked, str]] = []
    for path in sorted(directory.glob("*.yaml")):
        item = _load_file(path, problems, model)
        if item is not None:
            found.append((item, str(path)))
    return found


def _load_file(path: Path, problems: list[str], model: type[Checked]) -> Checked | None:
    try:
        data, lines = load_with_lines(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        problems.append(f"{path}: cannot read: {error}")
        return None
    except YamlProblem as error:
        problems.append(f"{path}:{error.line or 1}: {error.message}")
        return None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        for e in error.errors():
            loc = _without_union_parts(tuple(e["loc"]))
            line = line_of(lines, loc) or 1
            message = e["msg"].removeprefix("Value error, ")
            problems.append(f"{path}:{line}: {dotted_path(loc)}: {message}")
        return None


def _without_union_parts(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    return tuple(p for p in loc if isinstance(p, int | str) and not str(p).startswith("literal["))


def _flatten(name: str, profiles: dict[str, Profile], seen: tuple[str, ...] = ()) -> Profile:
    profile = profiles[name]
    if name in seen:
        raise ValueError(f"a cycle: {' -> '.join((*seen, name))}")
    if profile.extends is None:
        return profile
    if profile.extends not in profiles:
        raise ValueError(f"no profile named {profile.extends!r}")
    parent = _flatten(profile.extends, profiles, (*seen, name))
    return profile.model_copy(
        update={
            "device": {**parent.device, **profile.device},
            "units": {**parent.units, **profile.units},
            "sensors": profile.sensors or parent.sensors,
            "optics": [*parent.optics, *profile.optics],
            "entity": profile.entity or parent.entity,
            "interfaces": profile.interfaces or parent.interfaces,
            "metrics": [*parent.metrics, *profile.metrics],
            "identity": {**parent.identity, **profile.identity},
            "poe": profile.poe or parent.poe,
        }
    )


def match_profile(
    profiles: dict[str, Profile], sys_object_id: str, sys_descr: str, forced: str | None = None
) -> Matched:
    """The device's `profile:` when set; else the user's own edumon profiles, then ecosystem
    and shipped ones: the longest matching sysObjectID prefix, then one that also checks
    sysDescr, then an ecosystem profile before a shipped one; `generic` when nothing matches.
    An ecosystem profile is laid over the edumon profile the device matches (what it does not
    read, e.g. optics, still comes from there)."""
    if forced is not None:
        chosen = Matched(profiles[forced], f"set in the config (profile: {forced})")
    else:
        chosen = _best(profiles.values(), sys_object_id, sys_descr) or _root(
            profiles, sys_object_id
        )
    if chosen.profile._origin != ECOSYSTEM:
        return chosen
    edumon = [p for p in profiles.values() if p._origin != ECOSYSTEM]
    base = _best(edumon, sys_object_id, sys_descr) or _root(profiles, sys_object_id)
    merged = _overlay(base.profile, chosen.profile, profiles[ROOT], forced is not None)
    return Matched(merged, f"{chosen.why}; beneath it {base.why}")


def _root(profiles: dict[str, Profile], sys_object_id: str) -> Matched:
    return Matched(profiles[ROOT], f"no profile matches sysObjectID {sys_object_id or '-'}")


def _best(candidates: Iterable[Profile], sys_object_id: str, sys_descr: str) -> Matched | None:
    best: tuple[tuple[int, int, int, int], Profile, str] | None = None
    for profile in candidates:
        found = _matches(profile, sys_object_id, sys_descr)
        if found is not None:
            rank = (FIRST[profile._origin], *found[0], TIE[profile._origin])
            if best is None or rank > best[0]:
                best = (rank, profile, found[1])
    return None if best is None else Matched(best[1], best[2])


def _overlay(base: Profile, ecosystem: Profile, generic: Profile, forced: bool) -> Profile:
    """The ecosystem profile laid over the edumon profile the device matches: for each device
    field its sources come first, except where that profile has its own vendor sources for
    the field (tested against the family's answers) and the ecosystem profile was not named
    in the config: those come first and the ecosystem's are the fallback. Its metrics are
    added, its identity sources replace the base's, everything else is the base's."""
    device = {}
    for name in {*base.device, *ecosystem.device}:
        own, theirs = base.device.get(name, []), ecosystem.device.get(name, [])
        vendor = own != generic.device.get(name, [])
        device[name] = [*own, *theirs] if vendor and not forced else [*theirs, *own]
    merged = base.model_copy(
        update={
            "name": ecosystem.name,
            "device": device,
            "metrics": [*base.metrics, *ecosystem.metrics],
            "identity": {**base.identity, **ecosystem.identity},
        }
    )
    merged._origin, merged._file = ecosystem._origin, ecosystem._file
    return merged


def _matches(
    profile: Profile, sys_object_id: str, sys_descr: str
) -> tuple[tuple[int, int], str] | None:
    match = profile.match
    if not match.sysobjectid and match.sysdescr is None:
        return None
    found = identity_match(match, sys_object_id, sys_descr)
    if found is None:
        return None
    length, reasons = found
    where = f" ({profile._file})" if profile._origin != SHIPPED_ORIGIN else ""
    return (length, match.sysdescr is not None), f"{profile.name}{where}: " + "; ".join(reasons)


def identity_match(
    match: Match, sys_object_id: str, sys_descr: str
) -> tuple[int, list[str]] | None:
    """Whether the device's identity holds what `match` gives: (the length of the longest
    sysObjectID prefix it is under, 0 without one; the reasons), else None. Wi-Fi profiles
    match with it too."""
    reasons, length = [], 0
    if match.sysobjectid:
        prefixes = [
            p for p in match.sysobjectid if sys_object_id == p or sys_object_id.startswith(p + ".")
        ]
        if not prefixes:
            return None
        prefix = max(prefixes, key=len)
        length = len(prefix.split("."))
        reasons.append(f"sysObjectID {sys_object_id} is under {prefix}")
    if match.sysdescr is not None:
        if not re.search(match.sysdescr, sys_descr):
            return None
        reasons.append(f"sysDescr matches /{match.sysdescr}/")
    return length, reasons
