"""Wi-Fi profiles: how a controller, or an AP that is its own agent, reports its access points
and their radios. Shipped in collectors/snmp/wifi_profiles/*.yaml; a user's go in the `wifi/`
folder of an `snmp.profile_dirs` entry (edumon's format), come before the shipped ones and
replace a shipped one of the same name. Numeric OIDs only.

    name: cisco-aireos
    match: {sysdescr: "^Cisco Controller"}       # or a list of alternatives (any may hold)
    aps:                                 # absent: the agent is one AP, named sysName (else its id)
      name: 1.3.6.1.4.1.14179.2.2.1.1.3          # column; its row index is the AP's key
      up: {oid: 1.3.6.1.4.1.14179.2.2.1.1.6, values: [1]}
    bands:                                       # columns naming a radio row's band
      radio: {oid: 1.3.6.1.4.1.14179.2.2.2.1.2, map: {"1": 2g, "2": 5g, "6": 6g}}
    fields:                                      # radio rows: the AP's key, then the radio
      clients: {oid: 1.3.6.1.4.1.14179.2.2.2.1.15, band: radio}
      channel_util_pct: {oid: 1.3.6.1.4.1.14179.2.2.13.1.3, band: radio, aggregate: mean}

An alternative of `match` holds when all it gives hold: sysObjectID under one of `sysobjectid`,
sysDescr matching `sysdescr`, and the agent answering inside the `present` subtree (asked
only when the rest holds, once per identity). A field's rows join its band column's rows by row
index; rows of one AP and band are summed (clients over an AP's SSIDs) or averaged. The AP's
key is the first `key_length` sub-ids. A band column `by: mhz` reads a frequency (a number, or
the number a text starts with, as MikroTik's "5180/20-Ceee/ac") instead of a label. An AP table
may take only the rows another column has (`only_rows_of`: MikroTik's CAPsMAN interfaces among
all ifName rows); with `numbered_radios`, rows named as another row and "-N" are that AP's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from collectors.snmp.config import ProfileDir
from collectors.snmp.ecosystem.library import is_library
from collectors.snmp.profile_model import NUMERIC_OID, Match, Strict
from collectors.snmp.profiles import ProfileError, load_directory

WIFI_PROFILES = Path(__file__).with_name("wifi_profiles")
USER_FOLDER = "wifi"  # in a profile_dirs entry
Band = Literal["2g", "5g", "6g"]
WifiField = Literal["clients", "channel_util_pct", "retry_pct", "noise_dbm"]
Oid = str
BANDS_MHZ: tuple[tuple[int, int, Band], ...] = ((2400, 2500, "2g"), (4900, 5900, "5g"))
BANDS_MHZ += ((5925, 7125, "6g"),)


class WifiMatch(Match):
    present: Oid | None = Field(default=None, pattern=NUMERIC_OID)  # a subtree the agent has

    @model_validator(mode="after")
    def _something(self) -> WifiMatch:
        if not self.sysobjectid and self.sysdescr is None and self.present is None:
            raise ValueError("match needs sysobjectid, sysdescr or present")
        return self


class Column(Strict):
    oid: Oid = Field(pattern=NUMERIC_OID)


class UpColumn(Column):
    values: list[int | str] = Field(min_length=1)  # the values (numbers or texts) that mean up


class ApTable(Strict):
    name: Oid = Field(pattern=NUMERIC_OID)
    up: UpColumn | None = None
    key_length: int = Field(default=6, ge=1, le=32)  # a MAC address is 6 sub-ids
    only_rows_of: Oid | None = Field(default=None, pattern=NUMERIC_OID)
    numbered_radios: bool = False  # "NAME-1", "NAME-2" beside "NAME": radios of the AP NAME


class BandColumn(Column):
    # the column's value (an integer, or text such as UniFi's "na") -> band
    map: dict[str, Band] = Field(default_factory=dict)
    by: Literal["label", "mhz"] = "label"

    @model_validator(mode="after")
    def _mapped(self) -> BandColumn:
        if self.by == "label" and not self.map:
            raise ValueError("map is needed unless by: mhz")
        return self


class FieldColumn(Column):
    band: str
    aggregate: Literal["sum", "mean"] = "sum"


class WifiProfile(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    match: list[WifiMatch] = Field(min_length=1)
    aps: ApTable | None = None
    bands: dict[str, BandColumn] = Field(min_length=1)
    fields: dict[WifiField, FieldColumn] = Field(min_length=1)
    _file: str = PrivateAttr(default="")  # where it was read, for the log
    _user: bool = PrivateAttr(default=False)  # from snmp.profile_dirs: before the shipped ones

    @field_validator("match", mode="before")
    @classmethod
    def _alternatives(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _known_bands(self) -> WifiProfile:
        for name, column in self.fields.items():
            if column.band not in self.bands:
                raise ValueError(f"fields.{name}.band: no band column {column.band!r}")
        return self


def load_wifi_profiles(dirs: Iterable[Path | ProfileDir] = ()) -> tuple[WifiProfile, ...]:
    """The user's Wi-Fi profiles (each `profile_dirs` entry's `wifi/` folder), then the shipped
    ones; a user's profile replaces a shipped one of its name. Problems: file:line each."""
    problems: list[str] = []
    user: dict[str, WifiProfile] = {}
    for entry in dirs:
        entry = entry if isinstance(entry, ProfileDir) else ProfileDir(path=entry)
        folder = entry.path / USER_FOLDER
        library = entry.format == "datadog" or (entry.format == "auto" and is_library(entry.path))
        if not library and folder.is_dir():
            user.update(_named(load_directory(folder, WifiProfile, problems), user=True))
    shipped = _named(load_directory(WIFI_PROFILES, WifiProfile, problems), user=False)
    if problems:
        raise ProfileError(problems)
    return (*user.values(), *(p for name, p in shipped.items() if name not in user))


def _named(found: list[tuple[WifiProfile, str]], user: bool) -> dict[str, WifiProfile]:
    for profile, where in found:
        profile._file, profile._user = where, user
    return {profile.name: profile for profile, _ in found}


def band_of(column: BandColumn, label: str) -> Band | None:
    """A radio row's band from its band column's value (as text)."""
    if column.by == "label":
        return column.map.get(label)
    digits = re.match(r"\s*(\d+)", label)
    mhz = int(digits.group(1)) if digits else 0
    return next((band for low, high, band in BANDS_MHZ if low <= mhz <= high), None)
