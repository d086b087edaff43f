"""Where a controller's access points are: `wifi:` on a `switch` device that is a Wi-Fi
controller (or an AP that is its own agent).

    - {kind: switch, id: vsk-1-wlc, address: ..., credentials: ...,
       wifi: {name_pattern: '^(?P<site>vsk-\\d+)-ap-(?P<room>\\w+)$',
              aps: {AP-HALL-EAST: {site: vsk-1, room: hall}}}}

An AP's name is looked up in `aps` first, then matched by `name_pattern`, whose `site` group
(default: the controller's own site) must be a site of the inventory (wifi_place.py). An AP
placed by neither is logged once with why and counted, never written. At most `max_aps` APs
of one controller become series. `profile` names the Wi-Fi profile to read the controller
with, instead of matching one (collectors/snmp/wifi_match.py).
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from gateway.inventory import Section, Slug

ROOM = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}$"


class ApPlace(Section):
    site: Slug | None = None  # default: the controller's site
    room: str = Field(pattern=ROOM)


class WifiPlacement(Section):
    name_pattern: str | None = None  # named groups `room` and optionally `site`
    aps: dict[str, ApPlace] = Field(default_factory=dict)  # AP name -> place
    max_aps: int = Field(default=2000, ge=1, le=100_000)
    profile: str | None = None  # a Wi-Fi profile's name (shipped or in snmp.profile_dirs)

    @field_validator("name_pattern")
    @classmethod
    def _groups(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            groups = re.compile(value).groupindex
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from None
        if "room" not in groups or not set(groups) <= {"site", "room"}:
            raise ValueError("name_pattern needs a (?P<room>...) group, and may have (?P<site>...)")
        return value
