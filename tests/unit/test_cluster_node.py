"""The cluster node with the member list set by hand (no etcd): a target taken over between two
slots is polled at once for the slot that passed, samples about other members' targets are
dropped, the alerts of targets given away are forgotten, and a member whose lease lapsed (a
paused process) polls, writes and alerts nothing until it holds a new lease."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from gateway.alerts.engine import AlertEngine
from gateway.alerts.holds import EngineHolds
from gateway.alerts.rules import load_rules
from gateway.cluster.etcd_http import EtcdClient
from gateway.cluster.membership import Membership
from gateway.cluster.node import ClusterNode, next_slot_ns, phase_ns
from gateway.cluster.rendezvous import owner
from gateway.collector import PollSchedule
from gateway.intake_health import CollectorHealth
from gateway.sample import Sample

SECOND_NS = 10**9
HOUR_NS = 3600 * SECOND_NS
NOW_NS = 1_790_000_000 * 10**9


class RecordingScheduler:
    def __init__(self) -> None:
        self.health = CollectorHealth("snmp")
        self.polls: list[int | None] = []
        self.polled = asyncio.Event()
        self.block_first: asyncio.Event | None = None

    async def poll_once(self, collector: Any, target: Any, schedule: Any, **kw: Any) -> list[Any]:
        self.polls.append(kw.get("at_ns"))
        self.polled.set()
        if self.block_first is not None:  # the first poll hangs (an unanswering target)
            block, self.block_first = self.block_first, None
            await block.wait()
        return []


def node(member: str = "a", clock: Callable[[], int] = lambda: NOW_NS) -> ClusterNode:
    membership = Membership(EtcdClient(["http://127.0.0.1:9"]), "test", member)
    hold_lease(membership, since_ns=0)
    return ClusterNode(membership, clock=clock)


def hold_lease(membership: Membership, since_ns: int) -> None:
    """What a granted, refreshed lease and a list read under it leave behind."""
    membership._listed, membership._lease_until = True, float("inf")
    membership.lease_since_ns = since_ns


def pause_past_lease(membership: Membership) -> None:
    """The process was stopped longer than its lease: the last refresh is too old."""
    membership._lease_until = membership.monotonic() - 40


def target_of(wanted_owner: str, members: tuple[str, ...]) -> str:
    return next(f"sw-{n}" for n in range(1000) if owner(f"sw-{n}", members) == wanted_owner)


def change(cluster: ClusterNode, members: set[str]) -> None:
    """What `_follow` does when the member list changes."""
    cluster.membership.members = frozenset(members)
    cluster._moved.set()
    cluster._moved = asyncio.Event()


async def test_a_target_taken_over_between_slots_is_polled_for_the_slot_that_passed() -> None:
    cluster = node("a")
    name = target_of("b", ("a", "b"))
    assert owner(name, ("a",)) == "a"
    cluster.membership.members = frozenset({"a", "b"})
    scheduler = RecordingScheduler()
    schedule = PollSchedule(name, interval_s=3600, timeout_s=1)
    task = asyncio.create_task(cluster.run_target(scheduler, None, None, schedule))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert scheduler.polls == []  # b's target: the slot is an hour away anyway

    change(cluster, {"a"})  # b's lease expired
    await asyncio.wait_for(scheduler.polled.wait(), 5)
    due = next_slot_ns(NOW_NS, HOUR_NS, phase_ns(name, HOUR_NS))
    assert scheduler.polls == [due - HOUR_NS]

    scheduler.polled.clear()
    change(cluster, {"a"})  # another wake-up (etcd back, say) with the same owners
    await asyncio.sleep(0.05)
    assert scheduler.polls == [due - HOUR_NS]  # still owned: nothing to catch up
    task.cancel()


def test_samples_about_other_members_targets_are_dropped() -> None:
    cluster = node("a")
    cluster.membership.members = frozenset({"a", "b"})
    mine, theirs = target_of("a", ("a", "b")), target_of("b", ("a", "b"))
    cluster.targets = {mine, theirs}
    samples = [
        Sample("interface", {"device": mine, "ifname": "xe-0/0/0"}, {"oper_up": False}, 1),
        Sample("interface", {"device": theirs, "ifname": "xe-0/0/0"}, {"oper_up": False}, 1),
        Sample("wifi_ap", {"ap": "ap-1"}, {"clients": 3}, 1),  # not a polled target
        Sample("collector", {"collector": "cluster", "target": "etcd"}, {"etcd_up": True}, 1),
    ]
    assert [s.tags.get("device", s.tags.get("ap", "etcd")) for s in cluster.mine(samples)] == [
        mine,
        "ap-1",
        "etcd",
    ]


def test_without_a_member_list_the_node_owns_everything() -> None:
    cluster = node("a")
    cluster.targets = {"sw-1"}
    assert cluster.membership.owns("sw-1")
    sample = Sample("device", {"device": "sw-1"}, {"up": True}, 1)
    assert cluster.mine([sample]) == [sample]


def test_alerts_and_failures_of_targets_given_away_are_forgotten() -> None:
    cluster = node("a")
    engine = AlertEngine(load_rules(), clock=lambda: 100.0)
    engine.observe(
        [
            Sample("device", {"site": "s", "device": "sw-1", "role": "core"}, {"up": False}, 1),
            Sample("device", {"site": "s", "device": "sw-2", "role": "core"}, {"up": False}, 1),
            Sample("collector", {"collector": "snmp", "target": "sw-1"}, {"duration_ms": 3}, 1),
        ]
    )
    health = CollectorHealth("snmp")
    health.polled("sw-1", "timeout")
    health.polled("sw-2", "timeout")
    cluster._healths.append(health)
    counted_before = sum(engine.bounds.sizes.values())
    assert counted_before == len(engine.instances) == 3
    cluster._forget(EngineHolds(engine, ("device", "ap", "exhibit", "target")), {"sw-1"})
    assert {i.labels.get("device", i.labels.get("target")) for i in engine.instances.values()} == {
        "sw-2"
    }
    # the engine's own bookkeeping follows: no live entry and no bound's count for what left
    assert sum(engine.bounds.sizes.values()) == len(engine.instances) == 1
    assert all(i.labels.get("device") != "sw-1" for i in engine.to_send() + engine.firing())
    assert len(engine._live) == len(engine.instances)
    assert set(health.failing) == {"sw-2"} and health.polled_targets == {"sw-2"}


class Emitted(list[Sample]):
    async def __call__(
        self, samples: list[Sample], *, collector: str, durable: bool = False
    ) -> None:
        self.extend(samples)


async def test_alerts_restored_for_targets_now_owned_by_others_are_forgotten() -> None:
    cluster = node("a")
    mine, theirs = target_of("a", ("a", "b")), target_of("b", ("a", "b"))
    cluster.targets = {mine, theirs}
    engine = AlertEngine(load_rules(), clock=lambda: 100.0)
    engine.observe(
        [
            Sample("device", {"site": "s", "device": d, "role": "core"}, {"up": False}, 1)
            for d in (mine, theirs)
        ]
    )
    emitted = Emitted()
    task = asyncio.create_task(cluster._follow(emitted, EngineHolds(engine, ("device",))))
    await asyncio.sleep(0)
    cluster.membership._update(frozenset({"a", "b"}))  # etcd answered: b owns `theirs`
    async with asyncio.timeout(5):
        while not emitted:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    task.cancel()
    assert [i.labels["device"] for i in engine.instances.values()] == [mine]
    assert emitted[0].fields["etcd_up"] is True


def test_etcd_unreachable_for_30_s_raises_cluster_degraded() -> None:
    now = [1000.0]
    engine = AlertEngine(load_rules(), clock=lambda: now[0])
    down = node("a").membership.sample()  # never connected
    assert down.fields["etcd_up"] is False
    engine.observe([down])
    now[0] = 1029.0
    engine.tick()
    assert engine.firing() == []
    now[0] = 1031.0
    engine.tick()
    assert [i.rule for i in engine.firing()] == ["ClusterDegraded"]


class SteppedClock:
    """Wall-clock ns set by the test; counts how often the node asked."""

    def __init__(self, now_ns: int) -> None:
        self.now_ns, self.calls = now_ns, 0

    def __call__(self) -> int:
        self.calls += 1
        return self.now_ns


async def slot_passes(cluster: ClusterNode, clock: SteppedClock, at_ns: int) -> None:
    """Set the time to `at_ns` and wake the node's loop as its slot timer would; return once
    it has looked and waits again."""
    clock.now_ns = at_ns
    calls = clock.calls
    cluster._moved.set()  # the same members: only the time changed
    cluster._moved = asyncio.Event()
    async with asyncio.timeout(5):
        while clock.calls < calls + 2:  # noqa: ASYNC110 - it woke, looked and waits again
            await asyncio.sleep(0.001)


async def poll_task(
    cluster: ClusterNode, clock: SteppedClock, scheduler: RecordingScheduler, name: str
) -> asyncio.Task[None]:
    """The node's loop for `name` (interval one hour), once it waits for its first slot."""
    schedule = PollSchedule(name, interval_s=3600, timeout_s=1)
    calls = clock.calls
    task = asyncio.create_task(cluster.run_target(scheduler, None, None, schedule))  # type: ignore[arg-type]
    async with asyncio.timeout(5):
        while clock.calls == calls:  # noqa: ASYNC110
            await asyncio.sleep(0)
    return task


async def test_a_non_owner_never_polls() -> None:
    clock = SteppedClock(NOW_NS)
    cluster = node("a", clock)
    cluster.membership.members = frozenset({"a", "b"})
    mine, theirs = target_of("a", ("a", "b")), target_of("b", ("a", "b"))
    scheduler = RecordingScheduler()
    for name in (mine, theirs):
        due = next_slot_ns(NOW_NS, HOUR_NS, phase_ns(name, HOUR_NS))
        task = await poll_task(cluster, clock, scheduler, name)
        for k in range(3):
            await slot_passes(cluster, clock, due + k * HOUR_NS + 1)
        task.cancel()
        polled = [due + k * HOUR_NS for k in range(3)] if name == mine else []
        assert scheduler.polls == polled
        scheduler.polls.clear()


async def test_a_member_paused_past_its_lease_polls_nothing_until_it_holds_a_new_one() -> None:
    clock = SteppedClock(NOW_NS)
    cluster = node("a", clock)
    cluster.membership.members = frozenset({"a"})
    name = target_of("a", ("a",))
    due = next_slot_ns(NOW_NS, HOUR_NS, phase_ns(name, HOUR_NS))
    scheduler = RecordingScheduler()
    task = await poll_task(cluster, clock, scheduler, name)
    pause_past_lease(cluster.membership)
    await slot_passes(cluster, clock, due + 1)
    assert scheduler.polls == []  # its lease is gone: the target may be someone else's now

    # a new lease, the list read under it after the next slot's time: that slot passed while
    # it was away and is never stamped by it; the one after is polled
    hold_lease(cluster.membership, since_ns=due + HOUR_NS + 1)
    await slot_passes(cluster, clock, due + HOUR_NS + 1)
    await slot_passes(cluster, clock, due + 2 * HOUR_NS + 1)
    task.cancel()
    assert scheduler.polls == [due + 2 * HOUR_NS]


async def test_a_slot_that_passed_unseen_is_not_polled_late() -> None:
    clock = SteppedClock(NOW_NS)
    cluster = node("a", clock)
    name = target_of("a", ("a",))
    due = next_slot_ns(NOW_NS, HOUR_NS, phase_ns(name, HOUR_NS))
    scheduler = RecordingScheduler()
    task = await poll_task(cluster, clock, scheduler, name)
    # woken more than an interval after its slot (the process was stopped meanwhile)
    await slot_passes(cluster, clock, due + HOUR_NS + 5)
    task.cancel()
    assert scheduler.polls == []


async def test_a_takeover_poll_does_not_delay_the_next_slot() -> None:
    """An unanswering target taken over mid-interval: its catch-up poll takes the whole
    timeout, and the next slot is still polled on time (the poll runs beside the grid)."""
    clock = SteppedClock(NOW_NS)
    cluster = node("a", clock)
    cluster.membership.members = frozenset({"a", "b"})
    name = target_of("b", ("a", "b"))
    due = next_slot_ns(NOW_NS, HOUR_NS, phase_ns(name, HOUR_NS))
    scheduler = RecordingScheduler()
    stuck = asyncio.Event()
    scheduler.block_first = stuck
    task = await poll_task(cluster, clock, scheduler, name)
    change(cluster, {"a"})  # b's lease expired: the catch-up poll hangs on the dead switch
    async with asyncio.timeout(5):
        while not scheduler.polls:  # noqa: ASYNC110
            await asyncio.sleep(0.001)
    await slot_passes(cluster, clock, due + 1)
    stuck.set()
    task.cancel()
    assert scheduler.polls == [due - HOUR_NS, due]


def test_a_lapsed_lease_writes_nothing_and_a_new_one_nothing_from_before_it() -> None:
    cluster = node("a")
    cluster.membership.members = frozenset({"a"})
    name = target_of("a", ("a",))
    cluster.targets = {name}
    stale = Sample("device", {"device": name}, {"up": True}, NOW_NS - SECOND_NS)
    fresh = Sample("device", {"device": name}, {"up": True}, NOW_NS + SECOND_NS)
    other = Sample("wifi_ap", {"ap": "ap-1"}, {"clients": 3}, NOW_NS - SECOND_NS)
    pause_past_lease(cluster.membership)
    assert cluster.mine([stale, fresh, other]) == [other]
    assert not cluster.may_alert({"device": name}, (NOW_NS + SECOND_NS) / 1e9)
    hold_lease(cluster.membership, since_ns=NOW_NS)
    assert cluster.mine([stale, fresh, other]) == [fresh, other]
    assert not cluster.may_alert({"device": name}, (NOW_NS - SECOND_NS) / 1e9)
    assert cluster.may_alert({"device": name}, (NOW_NS + SECOND_NS) / 1e9)
    assert cluster.may_alert({"member": "a"}, 0)  # about no polled target: always sent


def test_etcd_failing_after_the_lease_lapsed_does_not_keep_the_old_list() -> None:
    """etcd stopping while the lease is alive keeps the last list (degraded, still polling);
    a failure seen only after the lease had lapsed (a resumed process) does not."""
    within, after = node("a").membership, node("a").membership
    for membership in (within, after):
        membership.members = frozenset({"a", "b"})
        membership._lease = 1
    within._lease_until = within.monotonic() + 1
    within._disconnected("connection refused")
    within._lease_until = within.monotonic() - 100  # and stays down past the lease
    pause_past_lease(after)
    after._disconnected("timeout")
    assert within.acting() and not after.acting()
