"""The config's side of profiles: the user's profile directories are checked with the config
(`edumon check-config` lists each profile problem as file:line), and a switch's `profile:`
must name a profile that exists; so must a Wi-Fi controller's `wifi.profile`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from collectors.snmp.config import ProfileDir, SnmpSettings
from collectors.snmp.profile_model import Profile
from collectors.snmp.profiles import ProfileError, load_profiles
from collectors.snmp.wifi_model import load_wifi_profiles
from gateway.collector import RawData
from gateway.inventory import raw_devices
from gateway.yaml_lines import Path as KeyPath


def profiles_for(settings: SnmpSettings) -> dict[str, Profile]:
    return load_profiles(settings.profile_dirs)


def profile_problems(data: RawData) -> Iterator[tuple[KeyPath, str]]:
    section = data.get("snmp")
    dirs = section.get("profile_dirs") if isinstance(section, dict) else None
    entries = [entry for d in dirs if (entry := _entry(d))] if isinstance(dirs, list) else []
    yield from _unknown_names(
        data,
        lambda: {profile.name for profile in load_wifi_profiles(entries)},
        _wifi_profile_of,
        ("wifi", "profile"),
        "Wi-Fi profile",
    )
    yield from _unknown_names(
        data, lambda: set(load_profiles(entries)), _switch_profile_of, ("profile",), "profile"
    )


def _unknown_names(
    data: RawData,
    load_names: Callable[[], set[str]],
    named: Callable[[dict[str, Any]], object],
    key: KeyPath,
    what: str,
) -> Iterator[tuple[KeyPath, str]]:
    """The profile files' problems (file:line), else each device that names a profile the
    directories do not have."""
    try:
        known = load_names()
    except ProfileError as error:
        for problem in error.problems:
            yield ("snmp", "profile_dirs"), problem
        return
    for at, device in raw_devices(data):
        name = named(device)
        if isinstance(name, str) and name not in known:
            yield (*at, *key), f"unknown {what} {name!r} (known: {', '.join(sorted(known))})"


def _switch_profile_of(device: dict[str, Any]) -> object:
    return device.get("profile") if device.get("kind") == "switch" else None


def _wifi_profile_of(device: dict[str, Any]) -> object:
    wifi = device.get("wifi")
    return wifi.get("profile") if isinstance(wifi, dict) else None


def _entry(value: object) -> Path | ProfileDir | None:
    """A `profile_dirs` entry as read; one the config's own check refuses is left out here."""
    if isinstance(value, str):
        return Path(value)
    try:
        return ProfileDir.model_validate(value)
    except ValidationError:
        return None
