"""Wi-Fi profiles (collectors/snmp/wifi_profiles/*.yaml): how a controller, or an AP that is
its own agent, reports its access points and their radios. Numeric OIDs only.

    name: cisco-aireos
    match: {sysdescr: "^Cisco Controller"}       # as device profiles match
    aps:                                         # absent: the agent is one AP, named sysName
      name: 1.3.6.1.4.1.14179.2.2.1.1.3          # column; its row index is the AP's key
      up: {oid: 1.3.6.1.4.1.14179.2.2.1.1.6, values: [1]}
    bands:                                       # columns naming a radio row's band
      radio: {oid: 1.3.6.1.4.1.14179.2.2.2.1.2, map: {"1": 2g, "2": 5g, "6": 6g}}
    fields:                                      # radio rows: the AP's key, then the radio
      clients: {oid: 1.3.6.1.4.1.14179.2.2.2.1.15, band: radio}
      channel_util_pct: {oid: 1.3.6.1.4.1.14179.2.2.13.1.3, band: radio, aggregate: mean}

A field's rows join its band column's rows by row index; rows of one AP and band are summed
(clients over an AP's SSIDs) or averaged. The AP's key is the first `key_length` sub-ids.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from collectors.snmp.profile_model import NUMERIC_OID, Match, Strict

WIFI_PROFILES = Path(__file__).with_name("wifi_profiles")
Band = Literal["2g", "5g", "6g"]
WifiField = Literal["clients", "channel_util_pct", "retry_pct", "noise_dbm"]
Oid = str


class Column(Strict):
    oid: Oid = Field(pattern=NUMERIC_OID)


class UpColumn(Column):
    values: list[int] = Field(min_length=1)  # the values that mean up


class ApTable(Strict):
    name: Oid = Field(pattern=NUMERIC_OID)
    up: UpColumn | None = None
    key_length: int = Field(default=6, ge=1, le=32)  # a MAC address is 6 sub-ids


class BandColumn(Column):
    # the column's value (an integer, or text such as UniFi's "na") -> band
    map: dict[str, Band] = Field(min_length=1)


class FieldColumn(Column):
    band: str
    aggregate: Literal["sum", "mean"] = "sum"


class WifiProfile(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    match: Match
    aps: ApTable | None = None
    bands: dict[str, BandColumn] = Field(min_length=1)
    fields: dict[WifiField, FieldColumn] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_bands(self) -> WifiProfile:
        for name, column in self.fields.items():
            if column.band not in self.bands:
                raise ValueError(f"fields.{name}.band: no band column {column.band!r}")
        if not self.match.sysobjectid and self.match.sysdescr is None:
            raise ValueError("match needs sysobjectid or sysdescr")
        return self


class WifiProfileError(ValueError):
    pass


@cache
def wifi_profiles(directory: Path = WIFI_PROFILES) -> tuple[WifiProfile, ...]:
    """The shipped Wi-Fi profiles; a broken file is an error naming it and the field."""
    profiles = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            profiles.append(WifiProfile.model_validate(yaml.safe_load(path.read_text())))
        except (ValidationError, yaml.YAMLError) as error:
            raise WifiProfileError(f"{path}: {error}") from error
    return tuple(profiles)
