"""This instance's membership of the city's cluster, kept in etcd.

Each member holds a lease of `lease_ttl_s` and one key `/edumon/<cluster>/members/<member>`
attached to it, refreshed every third of the TTL; a member that dies stops refreshing and etcd
deletes its key when the lease expires. Every member watches the prefix and re-reads the list
on each change, so all of them see the same live members and compute the same owners
(gateway/cluster/rendezvous.py).

etcd unreachable: the last list read is kept (so each instance goes on polling what it owned,
and nobody takes over what nobody gave up), health is `degraded` and the `collector` sample of
target `etcd` says `etcd_up=false` (rule ClusterDegraded). Until etcd first answers, the
instance owns everything: better polled twice than not at all.

Fencing: the member list is acted on (`acting()`) only while this instance's lease is known to
be alive: until the TTL etcd last granted, counted from when the refresh was sent. A process
paused past its lease (SIGSTOP, a stalled VM) finds its lease expired when it resumes and acts
on nothing, polls, writes or alerts, until it holds a new lease and has read the list again
under it; `lease_since_ns` is then the start of its new tenure, and nothing stamped earlier is
polled, written or sent (gateway/cluster/node.py). Only an etcd that stopped answering while
the lease was alive lets it go on with the last list (degraded).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from gateway.cluster import rendezvous
from gateway.cluster.etcd_http import EtcdClient, EtcdError, LeaseGone
from gateway.sample import Sample

log = logging.getLogger(__name__)

RETRY_S = 1.0


class Membership:
    def __init__(
        self,
        client: EtcdClient,
        cluster: str,
        member: str,
        *,
        lease_ttl_s: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.member = member
        self.lease_ttl_s = lease_ttl_s
        self.clock = clock
        self.prefix = f"/edumon/{cluster}/members/"
        self.members: frozenset[str] | None = None  # None: etcd has not answered yet
        self.connected = False
        self.error: str | None = None
        self.since = clock()
        self.changed = asyncio.Event()  # set on every change of members or connectivity
        self._lease: int | None = None
        self._lease_until = 0.0  # monotonic time until which etcd keeps the lease for sure
        self._listed = False  # the member list was read under the current lease
        self._degraded = False  # etcd stopped answering while the lease was alive
        # wall-clock ns since which this instance has held its current lease with the list read
        # under it (None: no lease yet, or lost)
        self.lease_since_ns: int | None = None
        self.monotonic: Callable[[], float] = time.monotonic

    @property
    def lease(self) -> int | None:
        """The current lease (keys that should go when this member dies are attached to it)."""
        return self._lease

    def owns(self, target: str) -> bool:
        if not self.members:
            return True
        return rendezvous.owner(target, self.members) == self.member

    def acting(self) -> bool:
        """Whether this instance may act on the member list now: before etcd first answered
        (it owns everything), while its lease is alive and the list read under it, or while
        etcd is unreachable and the lease was alive when it stopped answering."""
        if self.members is None or self._degraded:
            return True
        return self._listed and self.monotonic() < self._lease_until

    def held_since(self, at_ns: int) -> bool:
        """Whether this instance acts now and has held its lease continuously since `at_ns`
        (a poll slot, a sample's time): nothing from before a lost lease is acted on."""
        return self.acting() and (self.lease_since_ns is None or at_ns >= self.lease_since_ns)

    # ------------------------------------------------------------------ running
    async def run(self) -> None:
        """Join, keep the lease alive and follow the member list, for ever; reconnects."""
        while True:
            try:
                await self._session()
            except* LeaseGone as errors:
                self._lease_lost(str(errors.exceptions[0]))
            except* EtcdError as errors:
                self._disconnected(str(errors.exceptions[0]))
            await asyncio.sleep(RETRY_S)

    async def leave(self) -> None:
        """Give the targets away now (clean shutdown) rather than after the lease's TTL."""
        lease, self._lease = self._lease, None
        if lease is not None:
            try:
                await self.client.revoke(lease)
            except EtcdError as error:
                log.warning("cluster: could not leave (%s); the lease expires by itself", error)

    async def _session(self) -> None:
        await self._join()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._keep_alive())
            group.create_task(self._follow())

    async def _join(self) -> None:
        if self._lease is not None:
            try:
                await self._refresh(self._lease)
            except LeaseGone as gone:
                self._lease_lost(str(gone))
        if self._lease is None:
            sent = self.monotonic()
            self._lease = await self.client.grant(self.lease_ttl_s)
            self._lease_until = sent + self.lease_ttl_s
        value = json.dumps({"member": self.member, "joined": self.clock()}).encode()
        await self.client.put(self.prefix + self.member, value, self._lease)

    async def _keep_alive(self) -> None:
        """Refresh the lease, and re-read the list each time: the watch is prompt, but a
        stalled watch stream looks just like a quiet one."""
        assert self._lease is not None
        while True:
            await asyncio.sleep(self.lease_ttl_s / 3)
            await self._refresh(self._lease)
            await self._read()

    async def _refresh(self, lease: int) -> None:
        sent = self.monotonic()
        ttl = await self.client.keepalive(lease)
        self._lease_until = sent + ttl
        self._degraded = False

    def _lease_lost(self, reason: str) -> None:
        """etcd answered that the lease is gone (it expired while this process was paused or
        cut off): act on nothing until a new lease is held and the list read under it."""
        log.warning(
            "cluster: %s; %s acts on nothing until it has joined again", reason, self.member
        )
        self._lease, self._lease_until, self._listed = None, 0.0, False
        self._degraded, self.lease_since_ns = False, None
        self.changed.set()

    async def _follow(self) -> None:
        start = await self._read()
        async for _revision in self.client.watch_prefix(self.prefix, start + 1):
            await self._read()

    async def _read(self) -> int:
        kvs, revision = await self.client.range_prefix(self.prefix)
        members = frozenset(kv.key.removeprefix(self.prefix) for kv in kvs)
        if self.member not in members:  # our key vanished: the lease expired
            raise LeaseGone(f"{self.member} is no longer listed")
        if not self._listed:
            self._listed, self.lease_since_ns = True, time.time_ns()
        self._update(members)
        return revision

    def _update(self, members: frozenset[str]) -> None:
        if not self.connected:
            log.info("cluster %s: etcd reachable at %s", self.cluster, self.client.endpoint)
            self.connected, self.error, self.since = True, None, self.clock()
            self.changed.set()
        if members != self.members:
            log.info("cluster %s: members %s", self.cluster, ", ".join(sorted(members)))
            self.members = members
            self.changed.set()

    def _disconnected(self, reason: str) -> None:
        # only an etcd that stopped answering while the lease was alive keeps the last list in
        # force; not one that failed after a pause had already outlived the lease
        if self._lease is not None and self.monotonic() < self._lease_until + self.client.timeout_s:
            self._degraded = True
        if self.connected or self.error is None:
            log.error(
                "cluster %s: etcd unreachable (%s); keeping the last assignment",
                self.cluster,
                reason,
            )
            self.connected, self.since = False, self.clock()
            self.changed.set()
        self.error = reason

    # ------------------------------------------------------------------ reporting
    def health(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.connected else "degraded",
            "detail": (
                f"etcd at {self.client.endpoint}"
                if self.connected
                else f"etcd unreachable, keeping the last assignment: {self.error or 'joining'}"
            ),
            "since": self.since,
            "member": self.member,
            "acting": self.acting(),
            "lease_since": None if self.lease_since_ns is None else self.lease_since_ns / 1e9,
            "members": sorted(self.members or ()),
        }

    def sample(self) -> Sample:
        return Sample(
            "collector",
            {"collector": "cluster", "target": "etcd", "member": self.member},
            {
                "etcd_up": self.connected,
                "members": len(self.members or ()),
                "errors": int(not self.connected),
            },
            time.time_ns(),
        )
