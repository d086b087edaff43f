"""The config's side of profiles: the user's profile directories are checked with the config
(`edumon check-config` lists each profile problem as file:line), and a switch's `profile:`
must name a profile that exists; so must a Wi-Fi controller's `wifi.profile`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
    yield from _wifi_problems(data, entries)
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


def _wifi_problems(
    data: RawData, entries: list[Path | ProfileDir]
) -> Iterator[tuple[KeyPath, str]]:
    """The Wi-Fi profiles' problems (file:line), and a controller's unknown `wifi.profile`."""
    try:
        known = {profile.name for profile in load_wifi_profiles(entries)}
    except ProfileError as error:
        for problem in error.problems:
            yield ("snmp", "profile_dirs"), problem
        return
    for at, device in raw_devices(data):
        wifi = device.get("wifi")
        name = wifi.get("profile") if isinstance(wifi, dict) else None
        if isinstance(name, str) and name not in known:
            listed = ", ".join(sorted(known))
            yield (*at, "wifi", "profile"), f"unknown Wi-Fi profile {name!r} (known: {listed})"


def _entry(value: object) -> Path | ProfileDir | None:
    """A `profile_dirs` entry as read; one the config's own check refuses is left out here."""
    if isinstance(value, str):
        return Path(value)
    try:
        return ProfileDir.model_validate(value)
    except ValidationError:
        return None
