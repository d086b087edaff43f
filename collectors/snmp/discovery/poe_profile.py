"""A profile's `poe:` section: what a vendor adds to POWER-ETHERNET-MIB (vendors are data).

    poe:
      port_power: {oid: 1.3.6.1.4.1.9.9.402.1.2.1.9, scale: 0.001}  # mW -> W, per PSE port
      port_name: "{group}/0/{port}"  # how a PSE port (group, port) is named in ifName

`port_power` is a column indexed like pethPsePortTable (group, port). Without `port_name`
a PSE port's index is its ifIndex (RFC 3621 leaves the mapping to the vendor; most use it);
with it, the port is the interface whose ifName ends with that text."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

NUMERIC_OID = r"^\d+(\.\d+)+$"


class PowerColumn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    oid: str = Field(pattern=NUMERIC_OID)
    scale: float = 1.0


class PoeProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    port_power: PowerColumn | None = None
    port_name: str | None = Field(default=None, pattern=r"\{port\}")
