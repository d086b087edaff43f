"""One edumon instance of a cluster: its membership, and the polling of the targets it owns.

Polls are on a wall-clock grid: target T with interval I is due at k*I + phase(T), the phase
a hash of T's name, the same in every instance. Each due time is the timestamp of every sample
of that poll, so whoever polls T at slot k writes the same points (same series, same time): a
takeover that polls a slot twice stores it once. Ownership is asked at every slot and at every
change of members; a target taken over is polled at once for the slot that just passed (beside
its grid, so a slow or unanswering target is still polled at its next slot too).

Fenced (gateway/cluster/membership.py): a slot is polled, a sample about a cluster target
written and an alert about one sent only while this instance acts on a live lease, owns the
target, and has held that lease since the slot, the sample's time or the alert's last evidence.
A member that was paused past its lease polls, writes and sends nothing for what it lost, and
never stamps a poll with a slot that passed while it was paused.

When ownership moves away (also at start-up, for alerts restored from the state file of
targets now owned by others), this instance forgets the alert instances of the targets it gave
up (their new owner re-derives them; Alertmanager, told by both, keeps the first startsAt and
does not page again) and their failures in the poller's health. Samples about a target owned
by another member (traps reach every instance) are dropped before the pipeline (`mine`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gateway.cluster import rendezvous
from gateway.cluster.etcd_http import EtcdClient, EtcdTls
from gateway.cluster.membership import Membership
from gateway.collector import CollectorEmit, PolledCollector, PollSchedule
from gateway.sample import Sample
from gateway.sections import ClusterSection

if TYPE_CHECKING:
    from gateway.alerts.holds import AlertHolds
    from gateway.intake_health import CollectorHealth
    from gateway.scheduler import PollScheduler

log = logging.getLogger(__name__)

SAMPLE_INTERVAL_S = 10.0
_TARGET_LABELS = ("device", "ap", "exhibit", "target")


def phase_ns(target: str, interval_ns: int) -> int:
    return rendezvous.weight("phase", target) % interval_ns


def next_slot_ns(now_ns: int, interval_ns: int, phase: int) -> int:
    """The first due time strictly after `now_ns` on the grid k*interval + phase."""
    return ((now_ns - phase) // interval_ns + 1) * interval_ns + phase


def membership_of(section: ClusterSection) -> Membership:
    tls = EtcdTls(section.ca_file, section.cert_file, section.key_file)
    login = None
    if section.username is not None and section.password is not None:
        login = (section.username, section.password)
    client = EtcdClient(section.etcd_endpoints, tls=tls, login=login)
    return Membership(client, section.name, section.member_name, lease_ttl_s=section.lease_ttl_s)


class ClusterNode:
    def __init__(self, membership: Membership, clock: Callable[[], int] = time.time_ns) -> None:
        self.membership = membership
        self.clock = clock
        self.targets: set[str] = set()
        self._healths: list[CollectorHealth] = []
        self._moved = asyncio.Event()  # replaced by a fresh one at each change of members

    async def run_target(
        self,
        scheduler: PollScheduler,
        collector: PolledCollector[Any],
        target: Any,
        schedule: PollSchedule,
    ) -> None:
        """Poll `target` at its grid slots while this instance owns it. Taken over between two
        slots (its owner died), it is polled at once for the slot that just passed: if the old
        owner's last poll died with it, that fills the hole; if not, the point is the same."""
        name = schedule.target_name
        self.targets.add(name)
        if scheduler.health not in self._healths:
            self._healths.append(scheduler.health)
        interval = round(schedule.interval_s * 1e9)
        phase = phase_ns(name, interval)
        tags = self.poll_tags
        owned = False
        async with asyncio.TaskGroup() as takeovers:
            while True:
                now = self.clock()
                due = next_slot_ns(now, interval, phase)
                moved = self._moved
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout((due - now) / 1e9):
                        await moved.wait()
                owns = self.membership.owns(name)
                late = self.clock() - due
                taken_over = owns and not owned and late < 0
                owned = owns
                if not owns or late >= interval:  # not ours, or a slot that passed unseen
                    continue
                at = due - interval if taken_over else due if late >= 0 else None
                if at is None or not self.membership.held_since(at):
                    continue
                poll = scheduler.poll_once(collector, target, schedule, at_ns=at, tags=tags)
                if taken_over:  # beside the grid: the next slot is polled on time as well
                    takeovers.create_task(poll)
                else:
                    await poll

    @property
    def poll_tags(self) -> dict[str, str]:
        """What this member adds to the `collector` sample of each of its polls."""
        return {"member": self.membership.member}

    def may_poll_now(self, name: str) -> bool:
        """Whether this instance may poll `name` out of its grid now (gateway/poll_now.py): it
        owns it and acts on its lease (the other members learn the answer through etcd)."""
        return self.membership.owns(name) and self.membership.held_since(self.clock())

    async def run(self, emit: CollectorEmit, alerts: AlertHolds) -> None:
        """The membership, and what follows from its changes."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.membership.run())
                group.create_task(self._follow(emit, alerts))
        finally:
            await self.membership.leave()
            await self.membership.client.close()

    async def _follow(self, emit: CollectorEmit, alerts: AlertHolds) -> None:
        members = self.membership.members  # None: before etcd answered, every target was ours
        last_sample = 0.0
        while True:
            changed = self.membership.changed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SAMPLE_INTERVAL_S):
                    await changed.wait()
            if changed.is_set():
                changed.clear()
                self._moved.set()  # every target's loop looks at its ownership again
                self._moved = asyncio.Event()
                before, members = members, self.membership.members
                if lost := self._owned_among(before) - self._owned_among(members):
                    log.info("cluster: %d targets moved to other members", len(lost))
                    self._forget(alerts, lost)
            if time.monotonic() - last_sample >= 1.0:  # a flapping etcd: at most 1 sample/s
                last_sample = time.monotonic()
                await emit([self.membership.sample()], collector="cluster")

    def _owned_among(self, members: frozenset[str] | None) -> set[str]:
        me = self.membership.member
        return {t for t in self.targets if not members or rendezvous.owner(t, members) == me}

    def mine(self, samples: Sequence[Sample]) -> Sequence[Sample]:
        """Without the samples about polled targets another member owns (a trap, which every
        instance receives): their owner writes and alerts on them."""
        return [sample for sample in samples if self._owned(sample)]

    def _owned(self, sample: Sample) -> bool:
        name = self._target_of(sample.tags)
        if name is None:
            return True
        return self.membership.owns(name) and self.membership.held_since(sample.time_ns)

    def _target_of(self, labels: Mapping[str, str]) -> str | None:
        """The polled target these tags or labels are about, if any."""
        for label in _TARGET_LABELS:
            name = labels.get(label)
            if name is not None and name in self.targets:
                return name
        return None

    def may_alert(self, labels: Mapping[str, str], last_seen_s: float) -> bool:
        """Whether this instance may tell Alertmanager about an alert with these labels, last
        confirmed by a sample at `last_seen_s`: only its owner does, on evidence gathered
        while holding its current lease."""
        name = self._target_of(labels)
        if name is None:
            return True
        return self.membership.owns(name) and self.membership.held_since(int(last_seen_s * 1e9))

    def _forget(self, alerts: AlertHolds, targets: Iterable[str]) -> None:
        gone = set(targets)
        alerts.forget(gone)
        for health in self._healths:
            health.polled_targets -= gone
            for target in gone:
                health.failing.pop(target, None)
