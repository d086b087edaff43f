"""What one switch's discovery saw, as the SNMP collector hands it to the gateway.

These are plain frozen values (no SNMP types): a collector reads LLDP/CDP neighbours,
forwarding and ARP tables and PoE tables on its slow discovery cadence and emits one
`Discovery` per switch through the context's `observe`; the topology model consumes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

NeighbourProtocol = Literal["lldp", "cdp"]
MacSource = Literal["fdb", "arp"]
MAC_SOURCES: tuple[MacSource, ...] = get_args(MacSource)  # where discovery places a device
# pethPsePortDetectionStatus, as text; "unknown" when the agent gave no valid value
PoeDetection = Literal[
    "disabled", "searching", "deliveringPower", "fault", "test", "otherFault", "unknown"
]


@dataclass(frozen=True)
class Neighbour:
    """One LLDP or CDP neighbour seen on a local port.

    `chassis_id`/`port_id` are decoded text (a MAC as aa:bb:cc:dd:ee:ff, an address as
    text, a name as is); the subtypes say which kind (LLDP subtype names: "macAddress",
    "networkAddress", "interfaceName", "interfaceAlias", "local", "chassisComponent",
    "portComponent", "agentCircuitId"; CDP: "deviceId" for the chassis, "interfaceName")."""

    local_ifname: str
    local_ifindex: int | None
    chassis_id: str
    chassis_id_subtype: str
    port_id: str
    port_id_subtype: str
    port_descr: str
    sys_name: str
    mgmt_addresses: tuple[str, ...]
    protocol: NeighbourProtocol


@dataclass(frozen=True)
class MacLocation:
    """A kept MAC (an inventory device's or a neighbour's) and the port it is behind."""

    mac: str  # aa:bb:cc:dd:ee:ff
    ifname: str
    ifindex: int | None
    vlan: int | None
    source: MacSource


@dataclass(frozen=True)
class PoePort:
    ifname: str
    admin_up: bool | None
    detection: PoeDetection
    power_w: float | None
    class_: int | None  # pethPsePortPowerClassifications 0..4 (class0..class4)


@dataclass(frozen=True)
class PoeBudget:
    nominal_w: float
    consumption_w: float


@dataclass(frozen=True)
class DiscoveryCounts:
    """Rows read from the forwarding/ARP/neighbour tables, rows evicted past the per-switch
    bound, and rows refused as bad input (malformed, pointing at the switch itself, ...)."""

    read: int = 0
    evicted: int = 0
    refused: int = 0


@dataclass(frozen=True)
class Discovery:
    """One discovery round of one switch (inventory device name)."""

    device: str
    time_ns: int
    neighbours: tuple[Neighbour, ...] = ()
    macs: tuple[MacLocation, ...] = ()
    poe_ports: tuple[PoePort, ...] = ()
    poe_budget: PoeBudget | None = None
    counts: DiscoveryCounts = DiscoveryCounts()
    # the polled job that reads these rounds, to ask for the next one out of schedule
    job: str = ""
