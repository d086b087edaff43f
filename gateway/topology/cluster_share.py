"""The topology across a cluster's members (gateway/cluster/): each member polls only the
switches it owns, so it tells the others which of them answer, and learns theirs.

Every second, a member writes what its own polls saw (`device -> [up, last answer, down
since, seen]`) to `/edumon/<cluster>/topology/<member>`, attached to its membership lease (a
dead member's key goes with it), and reads the other members' keys; the newest observation
of a device wins. So the member that owns a school shadows the school's alerts behind an
aggregation switch another member polls, as a single instance does.
"""

from __future__ import annotations

import asyncio
import json
import logging

from gateway.cluster.etcd_http import EtcdError
from gateway.cluster.membership import Membership
from gateway.topology.service import Topology
from gateway.topology.shadow import NodeState

log = logging.getLogger(__name__)

SHARE_INTERVAL_S = 1.0


class SharedStates:
    def __init__(self, membership: Membership, topology: Topology) -> None:
        self.membership = membership
        self.topology = topology
        self.prefix = f"/edumon/{membership.cluster}/topology/"
        self.errors = 0
        self._written: bytes | None = None

    async def run(self) -> None:
        while True:
            await asyncio.sleep(SHARE_INTERVAL_S)
            try:
                await self.share_once()
            except EtcdError as error:  # the membership reports etcd's state; counted here
                self.errors += 1
                log.debug("topology: cannot share states through etcd: %s", error)

    async def share_once(self) -> None:
        lease = self.membership.lease
        own = self.topology.local_states()
        value = json.dumps(
            {d: [s.up, s.last_answer, s.down_since, s.seen] for d, s in own.items()}
        ).encode()
        if lease is not None and value != self._written:
            await self.membership.client.put(self.prefix + self.membership.member, value, lease)
            self._written = value
        kvs, _ = await self.membership.client.range_prefix(self.prefix)
        remote: dict[str, NodeState] = {}
        for kv in kvs:
            if kv.key.removeprefix(self.prefix) == self.membership.member:
                continue
            try:
                states = json.loads(kv.value)
                for device, (up, answer, since, seen) in states.items():
                    state = NodeState(bool(up), float(answer), since and float(since), float(seen))
                    if device not in remote or remote[device].seen < state.seen:
                        remote[device] = state
            except (ValueError, TypeError, AttributeError):
                log.warning("topology: unreadable states from %s", kv.key)
        self.topology.set_remote_states(remote)
