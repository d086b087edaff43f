"""`wifi_ap` samples from a Wi-Fi controller (or an AP that is its own agent), by the Wi-Fi
profile its sysObjectID/sysDescr matches (collectors/snmp/wifi_model.py).

Per placed AP: one sample per band with up, clients and what the profile reads; an AP that the
controller lists as down has one `band=all` sample with up=false. Tags: site and room from the
placement (wifi_config.py), ap = the AP's name as the controller reports it, band from the
profile's map. Rows whose band the map does not know are left out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from collectors.snmp import ber
from collectors.snmp.client import SnmpTransport, walk_columns
from collectors.snmp.wifi_config import ROOM, WifiPlacement
from collectors.snmp.wifi_model import Band, WifiField, WifiProfile, wifi_profiles
from gateway.sample import FieldValue, Sample

log = logging.getLogger(__name__)
Rows = dict[tuple[int, ...], ber.VarBind]
_AP_NAME = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,63}$")  # printable ASCII, 1-64 characters


@dataclass(frozen=True)
class Place:
    site: str
    room: str


@dataclass(frozen=True)
class WifiController:
    """A polled device's `wifi:` placement, with the inventory's site ids it may name."""

    placement: WifiPlacement
    sites: frozenset[str]

    @classmethod
    def of(cls, placement: WifiPlacement | None, sites: frozenset[str]) -> WifiController | None:
        return None if placement is None else cls(placement, sites)


@dataclass
class WifiReader:
    """Reads the APs of the controllers it is given; remembers the APs it could not place."""

    profiles: Sequence[WifiProfile] = field(default_factory=wifi_profiles)
    unplaced: dict[str, set[str]] = field(default_factory=dict)  # controller -> AP names
    unmatched: set[str] = field(default_factory=set)  # controllers no Wi-Fi profile matches

    def profile_for(self, sys_object_id: str, sys_descr: str) -> WifiProfile | None:
        for profile in self.profiles:
            match = profile.match
            if match.sysobjectid and not any(
                sys_object_id == p or sys_object_id.startswith(p + ".") for p in match.sysobjectid
            ):
                continue
            if match.sysdescr is not None and not re.search(match.sysdescr, sys_descr):
                continue
            return profile
        return None

    async def read(
        self,
        transport: SnmpTransport,
        controller: tuple[str, str],  # (site, device)
        wifi: WifiController,
        identity: tuple[str, str],  # (sysObjectID, sysDescr)
        sys_name: str,
        now_ns: int,
        max_repetitions: int = 25,
    ) -> list[Sample]:
        """The controller's wifi_ap samples; [] (logged once) when no Wi-Fi profile matches."""
        profile = self.profile_for(*identity)
        if profile is None:
            if controller[1] not in self.unmatched:
                self.unmatched.add(controller[1])
                log.warning("%s has wifi: but matches no Wi-Fi profile", controller[1])
            return []
        placement = wifi.placement
        columns = [c.oid for c in profile.bands.values()] + [c.oid for c in profile.fields.values()]
        if profile.aps is not None:
            columns += [profile.aps.name] + ([profile.aps.up.oid] if profile.aps.up else [])
        encoded = {oid: ber.encode_oid(oid) for oid in columns}
        walked = await walk_columns(transport, list(encoded.values()), max_repetitions)
        table = {oid: walked.get(raw, {}) for oid, raw in encoded.items()}
        aps = _aps(profile, table, sys_name)
        samples: list[Sample] = []
        for key, (name, up) in list(aps.items())[: placement.max_aps]:
            place = self._place(controller, wifi, name)
            if place is None:
                continue
            tags = {"site": place.site, "ap": name, "room": place.room}
            if not up:
                samples.append(Sample("wifi_ap", {**tags, "band": "all"}, {"up": False}, now_ns))
                continue
            for band, fields in sorted(_radios(profile, table, key).items()):
                samples.append(Sample("wifi_ap", {**tags, "band": band}, fields, now_ns))
        if len(aps) > placement.max_aps:
            log.warning(
                "%s: %d APs, only the first %d are written (wifi.max_aps)",
                controller[1],
                len(aps),
                placement.max_aps,
            )
        return samples

    def _place(self, controller: tuple[str, str], wifi: WifiController, name: str) -> Place | None:
        site, device = controller
        placement = wifi.placement
        known = placement.aps.get(name)
        place: Place | None = None
        if known is not None:
            place = Place(known.site or site, known.room)
        elif placement.name_pattern is not None:
            match = re.fullmatch(placement.name_pattern, name)
            room = match.group("room") if match else None
            if match and room and re.fullmatch(ROOM, room):
                place = Place(match.groupdict().get("site") or site, room)
        if place is not None and place.site in wifi.sites:
            return place
        seen = self.unplaced.setdefault(device, set())
        if name not in seen and len(seen) < placement.max_aps:
            seen.add(name)
            log.warning(
                "%s: AP %r is in neither wifi.aps nor wifi.name_pattern with a known site; "
                "it is not written",
                device,
                name[:64],
            )
        return None


def _aps(
    profile: WifiProfile, table: Mapping[str, Rows], sys_name: str
) -> dict[tuple[int, ...], tuple[str, bool]]:
    """AP key -> (name, up). Without an AP table the agent is the AP: key (), its sysName."""
    if profile.aps is None:
        return {(): (sys_name, True)} if _AP_NAME.match(sys_name) else {}
    ups = table[profile.aps.up.oid] if profile.aps.up else {}
    aps = {}
    for key, varbind in table[profile.aps.name].items():
        name = _text(varbind)
        if not _AP_NAME.match(name):
            continue
        up_column = profile.aps.up
        up = up_column is None or (key in ups and ber.value_of(ups[key]) in up_column.values)
        aps[key] = (name, up)
    return aps


def _radios(
    profile: WifiProfile, table: Mapping[str, Rows], ap_key: tuple[int, ...]
) -> dict[str, dict[str, FieldValue]]:
    """band -> fields of one AP, each field summed or averaged over the AP's rows of a band."""
    values: dict[Band, dict[WifiField, list[int]]] = {}
    for name, column in profile.fields.items():
        bands = profile.bands[column.band]
        band_rows = table[bands.oid]
        for index, varbind in table[column.oid].items():
            if index[: len(ap_key)] != ap_key or index not in band_rows:
                continue
            band = bands.map.get(_label(band_rows[index]))
            value = ber.value_of(varbind)
            if band is None or not isinstance(value, int):
                continue
            values.setdefault(band, {}).setdefault(name, []).append(value)
    radios: dict[str, dict[str, FieldValue]] = {}
    for band_name, by_field in values.items():
        radio: dict[str, FieldValue] = {"up": True}
        for field_name, numbers in by_field.items():
            mean = profile.fields[field_name].aggregate == "mean"
            radio[field_name] = sum(numbers) / len(numbers) if mean else sum(numbers)
        radios[band_name] = radio
    return radios


def _label(varbind: ber.VarBind) -> str:
    value = ber.value_of(varbind)
    return str(value) if isinstance(value, int) else _text(varbind)


def _text(varbind: ber.VarBind) -> str:
    value = ber.value_of(varbind)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""
