"""The topology across a cluster's members (gateway/cluster/): each member polls only the
switches it owns, so it tells the others which of them answer, and learns theirs; and it
runs discovery only on the switches it owns, so it tells the others the links it learned.

Every second, a member writes what its own polls saw (`device -> [up, last answer, down
since, seen]`) to `/edumon/<cluster>/topology/<member>`, attached to its membership lease (a
dead member's key goes with it), and reads the other members' keys; the newest observation
of a device wins. So the member that owns a school shadows the school's alerts behind an
aggregation switch another member polls, as a single instance does.

Every `LINKS_INTERVAL_S` it does the same with what its discovery learned, at
`/edumon/<cluster>/topology-links/<member>`: the links (`[a, a's port, b, b's port]`) and
where devices are plugged in (`device -> [switch, port, fdb|arp]`). Each member's graph is
its own links and the others'; a device it knows only by its site takes another member's
placement. Discovery runs every few minutes, so a slower exchange loses nothing; the key is
written only when its value or the lease changed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from gateway.cluster.etcd_http import EtcdError
from gateway.cluster.membership import Membership
from gateway.topology.model import Attachment, SharedLink
from gateway.topology.observations import MAC_SOURCES
from gateway.topology.service import Topology
from gateway.topology.shadow import NodeState

log = logging.getLogger(__name__)

SHARE_INTERVAL_S = 1.0
LINKS_INTERVAL_S = 10.0


class SharedStates:
    def __init__(self, membership: Membership, topology: Topology) -> None:
        self.membership = membership
        self.topology = topology
        self.prefix = f"/edumon/{membership.cluster}/topology/"
        self.links_prefix = f"/edumon/{membership.cluster}/topology-links/"
        self.errors = 0
        self._written: dict[str, tuple[int, bytes]] = {}  # key -> (lease, value) last put

    async def run(self) -> None:
        links_due = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SHARE_INTERVAL_S)
            try:
                await self.share_once()
                if loop.time() >= links_due:
                    await self.share_links_once()
                    links_due = loop.time() + LINKS_INTERVAL_S
            except EtcdError as error:  # the membership reports etcd's state; counted here
                self.errors += 1
                log.debug("topology: cannot share states through etcd: %s", error)

    async def share_links_once(self) -> None:
        model = self.topology.model
        await self._put(
            self.links_prefix,
            {
                "links": model.learned_links(),
                "attachments": {
                    device: [a.switch, a.ifname, a.learned]
                    for device, a in model.learned_attachments().items()
                },
            },
        )
        links: set[SharedLink] = set()
        attachments: dict[str, Attachment] = {}

        def take(wiring: Any) -> None:
            for a, a_if, b, b_if in wiring["links"]:
                if _names(a, b) and _ports(a_if, b_if):
                    links.add((a, a_if, b, b_if))
            for device, (switch, ifname, learned) in wiring["attachments"].items():
                if _names(device, switch) and _ports(ifname) and learned in MAC_SOURCES:
                    attachments[device] = Attachment(switch, ifname, learned, 0.0)

        await self._read_others(self.links_prefix, "links", take)
        self.topology.set_remote_wiring(sorted(links, key=str), attachments)

    async def share_once(self) -> None:
        own = self.topology.local_states()
        await self._put(
            self.prefix, {d: [s.up, s.last_answer, s.down_since, s.seen] for d, s in own.items()}
        )
        remote: dict[str, NodeState] = {}

        def take(states: Any) -> None:
            for device, (up, answer, since, seen) in states.items():
                state = NodeState(bool(up), float(answer), since and float(since), float(seen))
                if device not in remote or remote[device].seen < state.seen:
                    remote[device] = state

        await self._read_others(self.prefix, "states", take)
        self.topology.set_remote_states(remote)

    async def _put(self, prefix: str, own: object) -> None:
        """This member's key under `prefix`, on its lease; put only when the value or the
        lease changed (a key goes with the lease it was put on)."""
        lease, key = self.membership.lease, prefix + self.membership.member
        value = json.dumps(own).encode()
        if lease is not None and self._written.get(key) != (lease, value):
            await self.membership.client.put(key, value, lease)
            self._written[key] = (lease, value)

    async def _read_others(self, prefix: str, what: str, take: Callable[[Any], None]) -> None:
        """Each other member's value under `prefix`, decoded and handed to `take`."""
        kvs, _ = await self.membership.client.range_prefix(prefix)
        for kv in kvs:
            if kv.key.removeprefix(prefix) == self.membership.member:
                continue
            try:
                take(json.loads(kv.value))
            except (ValueError, TypeError, KeyError, AttributeError):
                log.warning("topology: unreadable %s from %s", what, kv.key)


def _names(*values: object) -> bool:
    return all(isinstance(v, str) for v in values)


def _ports(*values: object) -> bool:
    return all(v is None or isinstance(v, str) for v in values)
