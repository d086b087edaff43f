"""Where an AP is (site, room), from its controller's `wifi:` placement (wifi_config.py), or why
it is nowhere: the AP's name is looked up in `wifi.aps` first, then matched by
`wifi.name_pattern`; the room must be a valid room and the site (the AP's own, the pattern's
`site` group, else the controller's) a site of the inventory."""

from __future__ import annotations

import re
from dataclasses import dataclass

from collectors.snmp.wifi_config import ROOM, WifiPlacement


@dataclass(frozen=True)
class Place:
    site: str
    room: str


@dataclass(frozen=True)
class Unplaced:
    why: str


def place(
    placement: WifiPlacement, own_site: str, sites: frozenset[str], ap: str
) -> Place | Unplaced:
    known = placement.aps.get(ap)
    if known is not None:
        found = Place(known.site or own_site, known.room)
        origin = "wifi.aps"
    elif placement.name_pattern is None:
        return Unplaced("not in wifi.aps, and the controller has no wifi.name_pattern")
    else:
        match = re.fullmatch(placement.name_pattern, ap)
        if match is None:
            return Unplaced("not in wifi.aps, and wifi.name_pattern does not match its name")
        room = match.group("room") or ""
        if not re.fullmatch(ROOM, room):
            return Unplaced(f"wifi.name_pattern matched, but its room {room[:40]!r} is not a room")
        found = Place(match.groupdict().get("site") or own_site, room)
        origin = "wifi.name_pattern"
    if found.site not in sites:
        return Unplaced(
            f"{origin} places it at site {found.site[:40]!r}, not a site of the inventory"
        )
    return found
