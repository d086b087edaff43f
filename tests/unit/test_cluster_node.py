"""The cluster node with the member list set by hand (no etcd): a target taken over between two
slots is polled at once for the slot that passed, samples about other members' targets are
dropped, and the alerts of targets given away are forgotten."""

from __future__ import annotations

import asyncio
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

HOUR_NS = 3600 * 10**9
NOW_NS = 1_790_000_000 * 10**9


class RecordingScheduler:
    def __init__(self) -> None:
        self.health = CollectorHealth("snmp")
        self.polls: list[int | None] = []
        self.polled = asyncio.Event()

    async def poll_once(self, collector: Any, target: Any, schedule: Any, **kw: Any) -> list[Any]:
        self.polls.append(kw.get("at_ns"))
        self.polled.set()
        return []


def node(member: str = "a") -> ClusterNode:
    membership = Membership(EtcdClient(["http://127.0.0.1:9"]), "test", member)
    return ClusterNode(membership, clock=lambda: NOW_NS)


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
