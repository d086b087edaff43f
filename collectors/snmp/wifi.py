"""`wifi_ap` samples from a Wi-Fi controller (or an AP that is its own agent), by the Wi-Fi
profile it matches (wifi_match.py) or its `wifi.profile`.

Per placed AP: one sample per band with up, clients and what the profile reads; an AP that the
controller lists as down has one `band=all` sample with up=false. Tags: site and room from the
placement (wifi_place.py), ap = the AP's name as the controller reports it, band from the
profile. Rows whose band the profile does not know are left out. An AP placed nowhere is not
written: logged once with why, and once an hour per controller a line with how many there are.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from collectors.snmp import ber
from collectors.snmp.client import SnmpTransport, walk_columns
from collectors.snmp.wifi_config import WifiPlacement
from collectors.snmp.wifi_match import Chosen, Identity, choose
from collectors.snmp.wifi_model import Band, WifiField, WifiProfile, band_of, load_wifi_profiles
from collectors.snmp.wifi_place import Place, Unplaced, place
from gateway.sample import FieldValue, Sample

log = logging.getLogger(__name__)
Rows = dict[tuple[int, ...], ber.VarBind]
Key = tuple[int, ...]
Radios = dict[Band, dict[WifiField, list[int]]]  # of one AP key: band -> field -> row values
_AP_NAME = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,63}$")  # printable ASCII, 1-64 characters
SUMMARY_EVERY_NS = 3600 * 10**9  # the unplaced APs' summary line, per controller


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
    """Reads the APs of the controllers it is given; knows the APs it could not place."""

    profiles: tuple[WifiProfile, ...] = field(default_factory=load_wifi_profiles)
    unplaced: dict[str, set[str]] = field(default_factory=dict)  # controller -> APs, last poll
    unmatched: set[str] = field(default_factory=set)  # controllers no Wi-Fi profile matches
    empty: set[str] = field(default_factory=set)  # controllers whose profile finds no AP
    _chosen: dict[str, tuple[Identity, Chosen | None]] = field(default_factory=dict)
    _logged: dict[str, set[str]] = field(default_factory=dict)  # unplaced APs already logged
    _summary_at: dict[str, int] = field(default_factory=dict)  # controller -> ns

    async def read(
        self,
        transport: SnmpTransport,
        controller: tuple[str, str],  # (site, device)
        wifi: WifiController,
        identity: Identity,
        sys_name: str,
        now_ns: int,
        max_repetitions: int = 25,
    ) -> list[Sample]:
        """The controller's wifi_ap samples; [] (logged once) when no Wi-Fi profile matches."""
        profile = await self._profile(transport, controller[1], wifi, identity)
        if profile is None:
            return []
        placement = wifi.placement
        columns = [c.oid for c in profile.bands.values()] + [c.oid for c in profile.fields.values()]
        if profile.aps is not None:
            aps = profile.aps
            columns += [aps.name, *(c for c in (aps.only_rows_of,) if c)]
            columns += [aps.up.oid] if aps.up else []
        encoded = {oid: ber.encode_oid(oid) for oid in dict.fromkeys(columns)}
        walked = await walk_columns(transport, list(encoded.values()), max_repetitions)
        table = {oid: walked.get(raw, {}) for oid, raw in encoded.items()}
        aps_found = _aps(profile, table, sys_name)
        if aps_found:
            self.empty.discard(controller[1])
        elif controller[1] not in self.empty:
            self.empty.add(controller[1])
            column = f"column {profile.aps.name}" if profile.aps else "sysName"
            log.warning(
                "%s: Wi-Fi profile %s finds no AP (%s)", controller[1], profile.name, column
            )
        radios = _radios(profile, table)
        samples: list[Sample] = []
        unplaced: dict[str, str] = {}
        for name, (keys, up) in list(aps_found.items())[: placement.max_aps]:
            where = place(placement, controller[0], wifi.sites, name)
            if isinstance(where, Unplaced):
                unplaced[name] = where.why
                continue
            ap_radios = [radios.get(key, {}) for key in keys]
            samples += _samples(profile, where, name, up, ap_radios, now_ns)
        self._unplaced(controller[1], placement, unplaced, len(aps_found), now_ns)
        if len(aps_found) > placement.max_aps:
            log.warning(
                "%s: %d APs, only the first %d are written (wifi.max_aps)",
                controller[1],
                len(aps_found),
                placement.max_aps,
            )
        return samples

    def profile_of(self, device: str) -> Chosen | None:
        """The Wi-Fi profile a controller was last read with, and why."""
        known = self._chosen.get(device)
        return known[1] if known else None

    async def _profile(
        self, transport: SnmpTransport, device: str, wifi: WifiController, identity: Identity
    ) -> WifiProfile | None:
        known = self._chosen.get(device)
        if known is None or known[0] != identity:
            chosen = await choose(self.profiles, transport, identity, wifi.placement.profile)
            self._chosen[device] = known = (identity, chosen)
            if chosen is not None:
                self.unmatched.discard(device)
                log.info("%s: Wi-Fi profile %s", device, chosen.why)
            elif device not in self.unmatched:
                self.unmatched.add(device)
                log.warning(
                    "%s has wifi: but matches no Wi-Fi profile (sysObjectID %s, sysDescr %r): "
                    "name one in wifi.profile, or add one to an snmp.profile_dirs wifi/ folder",
                    device,
                    identity[0] or "-",
                    identity[1][:80],
                )
        return known[1].profile if known[1] is not None else None

    def _unplaced(
        self,
        device: str,
        placement: WifiPlacement,
        unplaced: dict[str, str],
        total: int,
        now_ns: int,
    ) -> None:
        """Each unplaced AP logged once with why; one line an hour per controller with the count."""
        self.unplaced[device] = set(unplaced)
        logged = self._logged.setdefault(device, set())
        for name, why in unplaced.items():
            if name not in logged and len(logged) < placement.max_aps:
                logged.add(name)
                log.warning("%s: AP %r is not written: %s", device, name, why)
        last = self._summary_at.get(device)
        if unplaced and (last is None or now_ns - last >= SUMMARY_EVERY_NS):
            self._summary_at[device] = now_ns
            log.warning(
                "%s: %d of %d APs are placed nowhere and not written (wifi.aps, "
                "wifi.name_pattern); each was logged once with why",
                device,
                len(unplaced),
                total,
            )


def _samples(
    profile: WifiProfile, where: Place, name: str, up: bool, radios: list[Radios], now_ns: int
) -> list[Sample]:
    """The AP's samples: its rows of a band (over its keys: radios, SSIDs) summed or averaged."""
    tags = {"site": where.site, "ap": name, "room": where.room}
    if not up:
        return [Sample("wifi_ap", {**tags, "band": "all"}, {"up": False}, now_ns)]
    merged: Radios = {}
    for radio in radios:
        for band, by_field in radio.items():
            for field_name, numbers in by_field.items():
                merged.setdefault(band, {}).setdefault(field_name, []).extend(numbers)
    samples = []
    for band, by_field in sorted(merged.items()):
        fields: dict[str, FieldValue] = {"up": True}
        for field_name, numbers in by_field.items():
            mean = profile.fields[field_name].aggregate == "mean"
            fields[field_name] = sum(numbers) / len(numbers) if mean else sum(numbers)
        samples.append(Sample("wifi_ap", {**tags, "band": band}, fields, now_ns))
    return samples


def _aps(
    profile: WifiProfile, table: Mapping[str, Rows], sys_name: str
) -> dict[str, tuple[list[Key], bool]]:
    """AP name -> (its keys, up). Without an AP table the agent is the AP: key (), its sysName."""
    if profile.aps is None:
        return {sys_name: ([()], True)} if _AP_NAME.match(sys_name) else {}
    aps = profile.aps
    ups = table[aps.up.oid] if aps.up else {}
    up_values = {str(v) for v in aps.up.values} if aps.up else set()
    only = table[aps.only_rows_of] if aps.only_rows_of else None
    found: dict[str, tuple[list[Key], bool]] = {}
    for key, varbind in table[aps.name].items():
        if only is not None and key not in only:
            continue
        name = _text(varbind)
        if _AP_NAME.match(name):
            up = aps.up is None or (key in ups and _label(ups[key]) in up_values)
            found[name] = ([key], up)
    for name in list(found) if aps.numbered_radios else ():
        numbered = re.fullmatch(r"(.+)-\d{1,2}", name)
        if numbered and numbered.group(1) in found:
            keys, up = found.pop(name)
            first_keys, first_up = found[numbered.group(1)]
            found[numbered.group(1)] = ([*first_keys, *keys], first_up or up)
    return found


def _radios(profile: WifiProfile, table: Mapping[str, Rows]) -> dict[Key, Radios]:
    """AP key -> its rows' values by band and field (the key: the first key_length sub-ids of
    a row's index; () when the agent is the AP)."""
    length = profile.aps.key_length if profile.aps is not None else 0
    radios: dict[Key, Radios] = {}
    for name, column in profile.fields.items():
        bands = profile.bands[column.band]
        band_rows = table[bands.oid]
        for index, varbind in table[column.oid].items():
            value = ber.value_of(varbind)
            band = band_of(bands, _label(band_rows[index])) if index in band_rows else None
            if band is None or not isinstance(value, int):
                continue
            by_band = radios.setdefault(index[:length], {})
            by_band.setdefault(band, {}).setdefault(name, []).append(value)
    return radios


def _label(varbind: ber.VarBind) -> str:
    value = ber.value_of(varbind)
    return str(value) if isinstance(value, int) else _text(varbind)


def _text(varbind: ber.VarBind) -> str:
    value = ber.value_of(varbind)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""
