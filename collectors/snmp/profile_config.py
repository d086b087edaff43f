"""The config's side of profiles: the user's profile directories are checked with the config
(`edumon check-config` lists each profile problem as file:line), and a switch's `profile:`
must name a profile that exists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from collectors.snmp.config import ProfileDir, SnmpSettings
from collectors.snmp.profile_model import Profile
from collectors.snmp.profiles import ProfileError, load_profiles
from gateway.collector import RawData
from gateway.inventory import raw_devices
from gateway.yaml_lines import Path as KeyPath


def profiles_for(settings: SnmpSettings) -> dict[str, Profile]:
    return load_profiles(settings.profile_dirs)


def profile_problems(data: RawData) -> Iterator[tuple[KeyPath, str]]:
    section = data.get("snmp")
    dirs = section.get("profile_dirs") if isinstance(section, dict) else None
    entries = [entry for d in dirs if (entry := _entry(d))] if isinstance(dirs, list) else []
    try:
        known = set(load_profiles(entries))
    except ProfileError as error:
        for problem in error.problems:
            yield ("snmp", "profile_dirs"), problem
        return
    for at, device in raw_devices(data):
        name = device.get("profile")
        if device.get("kind") == "switch" and isinstance(name, str) and name not in known:
            yield (*at, "profile"), f"unknown profile {name!r} (known: {', '.join(sorted(known))})"


def _entry(value: object) -> Path | ProfileDir | None:
    """A `profile_dirs` entry as read; one the config's own check refuses is left out here."""
    if isinstance(value, str):
        return Path(value)
    try:
        return ProfileDir.model_validate(value)
    except ValidationError:
        return None
