"""The city's topology as edumon knows it: nodes (inventory devices, and neighbours no inventory
entry matches, bounded) and links between ports, learned from LLDP/CDP (`Discovery` rounds),
MAC locations and the config (`links:` on a device).

Consistency rules for what switches report:
- a neighbour that is the reporting switch itself is refused (counted);
- a link is kept while at least one of its ends' latest discovery round reports it, or while
  the peer of an end that stopped reporting it has not answered since: a switch that fails
  takes its neighbours' LLDP entries for it with its links, often before a poll finds it
  down, and the path still goes through it. A neighbour that vanishes while it answers (a
  link removed, a port rewired) is gone once both ends' reports went; it returns when reported;
- a MAC seen behind several ports is placed behind an edge port (a port with no neighbour)
  rather than a trunk, the newest report winning among equals;
- unknown neighbours are at most `max_unknown` nodes (the least recently seen evicted, counted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from gateway.topology.observations import (
    MAC_SOURCES,
    Discovery,
    Neighbour,
    PoeBudget,
    PoePort,
)

# "site": assumed (a switch no link places hangs off its site's core) until LLDP/CDP says more
Learned = Literal["lldp", "cdp", "manual", "site", "fdb", "arp"]
_KEPT = ("manual", "site")  # links from the config: they never vanish
_PORT_NAMES = {"interfaceName", "interfaceAlias", "local"}

# (a, a's port, b, b's port)
SharedLink = tuple[str, str | None, str, str | None]
# (node, since): whether the node answered after `since` (a node nothing polls: True)
AnsweredSince = Callable[[str, float], bool]


def _always(_node: str, _since: float) -> bool:
    return True


@dataclass
class InventoryNode:
    """What the config says of a device: matched against what neighbours report."""

    id: str
    site: str
    kind: str
    role: str | None = None
    mac: str | None = None
    address: str | None = None


@dataclass
class Link:
    a: str
    a_ifname: str | None
    b: str
    b_ifname: str | None
    learned: Learned
    first_seen: float
    last_seen: float
    reporters: set[str] = field(default_factory=set)
    # reporter -> when its round stopped reporting the link (kept while the peer is silent)
    vanished: dict[str, float] = field(default_factory=dict)

    def ends(self) -> tuple[str, str]:
        return self.a, self.b

    def other(self, node: str) -> tuple[str, str | None]:
        return (self.b, self.b_ifname) if node == self.a else (self.a, self.a_ifname)

    def ifname_at(self, node: str) -> str | None:
        return self.a_ifname if node == self.a else self.b_ifname


@dataclass
class Attachment:
    """Where an inventory device (not a switch) is plugged in."""

    switch: str
    ifname: str | None
    learned: Learned | Literal["site"]
    last_seen: float


@dataclass
class Counts:
    refused_self: int = 0
    unknown_evicted: int = 0


class TopologyModel:
    def __init__(self, inventory: Iterable[InventoryNode], max_unknown: int = 2000) -> None:
        self.inventory: dict[str, InventoryNode] = {}
        self.max_unknown = max_unknown
        self.unknown: dict[str, dict[str, Any]] = {}  # node id -> what was reported, last seen
        self.links: list[Link] = []
        self.attachments: dict[str, Attachment] = {}
        self.poe: dict[str, dict[str, PoePort]] = {}  # switch -> ifname -> latest state
        self.budgets: dict[str, PoeBudget] = {}
        self.discovered_at: dict[str, float] = {}  # switch -> time of its latest round
        self.discovery_jobs: dict[str, str] = {}  # switch -> the job reading its rounds
        self.counts = Counts()
        self.set_inventory(inventory)

    def set_inventory(self, inventory: Iterable[InventoryNode]) -> None:
        """The config (again, after a reload): what was learned stays for the devices that
        stay; the config's links and assumed attachments go (the caller adds the new ones)."""
        learned = self.snapshot()
        self.inventory = {node.id: node for node in inventory}
        self._by_mac = {n.mac: n.id for n in self.inventory.values() if n.mac}
        self._by_address = {n.address: n.id for n in self.inventory.values() if n.address}
        self.links, self.unknown, self.attachments = [], {}, {}
        self.restore(learned)
        for table in (self.poe, self.budgets, self.discovered_at, self.discovery_jobs):
            for switch in [s for s in table if s not in self.inventory]:
                del table[switch]

    # ----------------------------------------------------------------- learning
    def add_manual(
        self,
        device: str,
        peer: str,
        ifname: str | None,
        peer_ifname: str | None,
        learned: Learned = "manual",
    ) -> None:
        link = self._find(device, ifname, peer, peer_ifname)
        if link is None:
            self.links.append(Link(device, ifname, peer, peer_ifname, learned, 0.0, 0.0))
        elif link.learned != "manual":
            link.learned = learned

    def apply(
        self, discovery: Discovery, answered: AnsweredSince = _always, at: float | None = None
    ) -> None:
        """One discovery round of one switch, arrived at `at` (on `answered`'s clock; default:
        the round's time), replaces what that switch reported before; a link it stopped
        reporting stays until its peer has answered since (see `forget_vanished`)."""
        switch, now = discovery.device, discovery.time_ns / 1e9
        self.discovered_at[switch] = now
        if discovery.job:
            self.discovery_jobs[switch] = discovery.job
        reported: set[int] = set()
        for neighbour in discovery.neighbours:
            peer = self._node_of(neighbour, now)
            if peer == switch:
                self.counts.refused_self += 1
                continue
            peer_ifname = _port_name(neighbour)
            link = self._find(switch, neighbour.local_ifname, peer, peer_ifname)
            if link is None:
                link = Link(
                    switch, neighbour.local_ifname, peer, peer_ifname, neighbour.protocol, now, now
                )
                self.links.append(link)
            if link.learned == "site":
                link.learned = neighbour.protocol
            link.last_seen = now
            link.reporters.add(switch)
            link.vanished.pop(switch, None)
            reported.add(id(link))
        for link in self.links:
            if switch in link.reporters and id(link) not in reported:
                link.vanished.setdefault(switch, now if at is None else at)
        self.forget_vanished(answered)
        self._drop_orphans()
        self._place_macs(switch, discovery, now)
        self.poe[switch] = {port.ifname: port for port in discovery.poe_ports}
        if discovery.poe_budget is not None:
            self.budgets[switch] = discovery.poe_budget

    def forget_vanished(self, answered: AnsweredSince) -> bool:
        """A report that vanished while its peer answers is gone: the link was removed or
        rewired. One whose peer has not answered since stays: the peer failed, the path goes
        through it. A link no report holds any more is gone (then True)."""
        for link in self.links:
            for reporter, since in list(link.vanished.items()):
                if answered(link.other(reporter)[0], since):
                    link.reporters.discard(reporter)
                    del link.vanished[reporter]
        if not any(k.learned not in _KEPT and not k.reporters for k in self.links):
            return False
        self.links = [k for k in self.links if k.learned in _KEPT or k.reporters]
        self._drop_orphans()
        return True

    def _node_of(self, neighbour: Neighbour, now: float) -> str:
        """The inventory device a neighbour is (by chassis MAC, management address or
        sysName), else an unknown node named by its chassis ID."""
        if neighbour.chassis_id.lower() in self._by_mac:
            return self._by_mac[neighbour.chassis_id.lower()]
        for address in neighbour.mgmt_addresses:
            if address in self._by_address:
                return self._by_address[address]
        name = neighbour.sys_name.split(".")[0].lower()
        if name in self.inventory:
            return name
        node = f"unknown:{neighbour.chassis_id}"
        if node not in self.unknown and len(self.unknown) >= self.max_unknown:
            if not self.unknown:
                return node  # max_unknown 0: links to it still show, the node is not kept
            oldest = min(self.unknown, key=lambda n: self.unknown[n]["last_seen"])
            del self.unknown[oldest]
            self.counts.unknown_evicted += 1
        self.unknown[node] = {
            "chassis_id": neighbour.chassis_id,
            "chassis_id_subtype": neighbour.chassis_id_subtype,
            "sys_name": neighbour.sys_name,
            "mgmt_addresses": list(neighbour.mgmt_addresses),
            "last_seen": now,
        }
        return node

    def _drop_orphans(self) -> None:
        """Unknown nodes no link reaches any more, and links to evicted unknown nodes."""
        self.links = [
            k for k in self.links if all(n in self.inventory or n in self.unknown for n in k.ends())
        ]
        linked = {n for k in self.links for n in k.ends()}
        for node in [n for n in self.unknown if n not in linked]:
            del self.unknown[node]

    def _find(self, a: str, a_if: str | None, b: str, b_if: str | None) -> Link | None:
        """The link between nodes a and b that is this one (an end's port agrees, or was not
        known yet: then it is filled in)."""
        for link in self.links:
            if {link.a, link.b} != {a, b}:
                continue
            mine, theirs = link.ifname_at(a), link.ifname_at(b)
            if mine == a_if or (theirs is not None and theirs == b_if) or mine is None:
                _fill(link, a, a_if)
                _fill(link, b, b_if)
                return link
        return None

    def _place_macs(self, switch: str, discovery: Discovery, now: float) -> None:
        trunks = self.trunk_ports(switch)
        for location in discovery.macs:
            device = self._by_mac.get(location.mac.lower())
            node = self.inventory.get(device or "")
            if node is None or node.kind == "switch" or device is None:
                continue
            current = self.attachments.get(device)
            on_trunk = location.ifname in trunks
            if (
                current is not None
                and current.learned in (*MAC_SOURCES, "manual")
                and on_trunk
                and current.ifname not in self.trunk_ports(current.switch)
            ):
                continue  # an edge port beats a trunk
            if current is not None and current.learned == "manual":
                continue
            self.attachments[device] = Attachment(switch, location.ifname, location.source, now)

    def attach(self, device: str, attachment: Attachment) -> None:
        self.attachments[device] = attachment

    # ------------------------------------------------------------------ reading
    def trunk_ports(self, switch: str) -> set[str]:
        return {
            name
            for link in self.links
            if switch in link.ends() and (name := link.ifname_at(switch)) is not None
        }

    def neighbours(self, node: str) -> Iterator[str]:
        for link in self.links:
            if node in link.ends():
                yield link.other(node)[0]

    def adjacency(self, shared: Iterable[SharedLink] = ()) -> dict[str, set[str]]:
        """Who is linked to whom: the model's links, and `shared` ones (a cluster's other
        members' discovery, gateway/topology/cluster_share.py)."""
        graph: dict[str, set[str]] = {n: set() for n in self.inventory}
        ends = [(k.a, k.b) for k in self.links] + [(k[0], k[2]) for k in shared]
        for a, b in ends:
            graph.setdefault(a, set()).add(b)
            graph.setdefault(b, set()).add(a)
        return graph

    def learned_links(self) -> list[SharedLink]:
        """The links this instance's own discovery rounds hold (not the config's)."""
        links = [(k.a, k.a_ifname, k.b, k.b_ifname) for k in self.links if k.learned not in _KEPT]
        return sorted(links, key=str)  # a port may be None

    def learned_attachments(self) -> dict[str, Attachment]:
        """Where this instance's own discovery rounds placed devices (not the config)."""
        return {d: a for d, a in sorted(self.attachments.items()) if a.learned in MAC_SOURCES}

    def poe_of(self, device: str) -> PoePort | None:
        attachment = self.attachments.get(device)
        if attachment is None or attachment.ifname is None:
            return None
        return self.poe.get(attachment.switch, {}).get(attachment.ifname)

    def snapshot(self) -> dict[str, Any]:
        return {
            "nodes": [
                {"id": n.id, "site": n.site, "kind": n.kind, "role": n.role}
                for n in self.inventory.values()
            ]
            + [{"id": node, "kind": "unknown", **seen} for node, seen in self.unknown.items()],
            "links": [{**asdict(link), "reporters": sorted(link.reporters)} for link in self.links],
            "attachments": {d: asdict(a) for d, a in sorted(self.attachments.items())},
            "counts": asdict(self.counts),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """What `snapshot` wrote (the state file): learned links, unknown nodes, attachments."""
        for record in data.get("links", []):
            if record["learned"] in _KEPT:
                continue  # the config's, added at start
            link = Link(**{**record, "reporters": set(record["reporters"])})
            self.links.append(link)
        for node in data.get("nodes", []):
            if node.get("kind") == "unknown" and len(self.unknown) < self.max_unknown:
                seen = {k: v for k, v in node.items() if k not in ("id", "kind")}
                self.unknown[node["id"]] = seen
        for device, record in data.get("attachments", {}).items():
            if device in self.inventory and record["learned"] != "site":
                self.attachments.setdefault(device, Attachment(**record))
        self._drop_orphans()


def _port_name(neighbour: Neighbour) -> str:
    if neighbour.port_id_subtype in _PORT_NAMES or not neighbour.port_descr:
        return neighbour.port_id
    return neighbour.port_descr


def _fill(link: Link, node: str, ifname: str | None) -> None:
    if link.ifname_at(node) is not None:
        return
    if link.a == node:
        link.a_ifname = ifname
    else:
        link.b_ifname = ifname
