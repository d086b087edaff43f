"""Membership driven through a fake of edumon's own etcd client (gateway/cluster/etcd_http.py):
joining, lease grant/refresh/expiry, member list reads, the fencing rules and what /healthz and
the `collector` sample say. The real etcd is exercised by the integration tests; these run in
milliseconds so that every line of membership.py is under a unit test."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from gateway.cluster import membership as membership_module
from gateway.cluster import rendezvous
from gateway.cluster.etcd_http import EtcdClient, EtcdError, KeyValue, LeaseGone
from gateway.cluster.membership import Membership
from gateway.cluster.rendezvous import owner, weight

PREFIX = "/edumon/city/members/"
TARGETS = [f"school-{n:03d}-sw" for n in range(60)]


class FakeEtcd(EtcdClient):
    """The client's interface over an in-memory key space: leases with a TTL, keys attached
    to them, a revision counter and a watch fed by puts. `down` makes every call fail as an
    unreachable etcd does; `expire()` drops a lease and its keys as etcd does at its TTL."""

    def __init__(self, ttl_answer: int | None = None) -> None:
        super().__init__(["http://127.0.0.1:9"], timeout_s=2.0)
        self.keys: dict[str, KeyValue] = {}
        self.leases: dict[int, int] = {}
        self.revision = 100
        self.down = False
        self.ttl_answer = ttl_answer  # the TTL keepalive answers (None: the granted one)
        self.calls: list[tuple[Any, ...]] = []
        self.changes: asyncio.Queue[int] = asyncio.Queue()

    def _call(self, *call: Any) -> None:
        self.calls.append(call)
        if self.down:
            raise EtcdError(f"{call[0]}: connection refused")

    def other_member(self, name: str, lease: int = 999) -> None:
        self.keys[PREFIX + name] = KeyValue(PREFIX + name, b"{}", lease)
        self._changed()

    def remove(self, name: str) -> None:
        del self.keys[PREFIX + name]
        self._changed()

    def expire(self, lease: int) -> None:
        self.leases.pop(lease, None)
        self.keys = {k: kv for k, kv in self.keys.items() if kv.lease != lease}
        self._changed()

    def _changed(self) -> None:
        self.revision += 1
        self.changes.put_nowait(self.revision)

    async def grant(self, ttl_s: int) -> int:
        self._call("grant", ttl_s)
        lease = 0x1000 + len(self.leases) + len(self.calls)
        self.leases[lease] = ttl_s
        return lease

    async def keepalive(self, lease: int) -> int:
        self._call("keepalive", lease)
        if lease not in self.leases:
            raise LeaseGone(f"lease {lease:x} expired")
        return self.ttl_answer or self.leases[lease]

    async def revoke(self, lease: int) -> None:
        self._call("revoke", lease)
        self.expire(lease)

    async def put(self, key: str, value: bytes, lease: int = 0) -> None:
        self._call("put", key, value, lease)
        self.keys[key] = KeyValue(key, value, lease)
        self._changed()

    async def range_prefix(self, prefix: str) -> tuple[list[KeyValue], int]:
        self._call("range", prefix)
        return [kv for k, kv in self.keys.items() if k.startswith(prefix)], self.revision

    async def watch_prefix(self, prefix: str, start_revision: int) -> AsyncIterator[int]:
        self._call("watch", prefix, start_revision)
        while True:
            revision = await self.changes.get()
            if self.down:
                raise EtcdError("watch: connection reset")
            yield revision


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def joined(fake: FakeEtcd, member: str = "a", ttl: int = 6) -> tuple[Membership, Clock, Clock]:
    wall, mono = Clock(), Clock()
    wall.now = 1_790_000_000.0
    membership = Membership(fake, "city", member, lease_ttl_s=ttl, clock=wall)
    membership.monotonic = mono
    return membership, wall, mono


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never met")


def grants(fake: FakeEtcd) -> list[tuple[Any, ...]]:
    return [c for c in fake.calls if c[0] == "grant"]


# ------------------------------------------------------------------ before etcd answers
def test_before_etcd_answers_the_instance_owns_everything_and_acts() -> None:
    membership, _, _ = joined(FakeEtcd())
    assert membership.members is None and membership.lease is None
    assert membership.prefix == PREFIX
    assert all(membership.owns(t) for t in TARGETS)
    assert membership.acting() and membership.held_since(0)
    health = membership.health()
    assert health == {
        "status": "degraded",
        "detail": "etcd unreachable, keeping the last assignment: joining",
        "since": 1_790_000_000.0,
        "member": "a",
        "acting": True,
        "lease_since": None,
        "members": [],
    }
    sample = membership.sample()
    assert sample.measurement == "collector"
    assert sample.tags == {"collector": "cluster", "target": "etcd", "member": "a"}
    assert sample.fields == {"etcd_up": False, "members": 0, "errors": 1}


def test_an_empty_member_list_still_owns_everything() -> None:
    membership, _, _ = joined(FakeEtcd())
    membership.members = frozenset()
    assert membership.owns("school-001-sw")


# ------------------------------------------------------------------ joining
async def test_join_grants_a_lease_puts_the_member_key_and_reads_the_list(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    fake = FakeEtcd()
    fake.other_member("b")
    membership, wall, mono = joined(fake)
    before_ns = time.time_ns()
    await membership._join()
    assert grants(fake) == [("grant", 6)]
    lease = membership.lease
    assert lease is not None and lease in fake.leases
    assert membership._lease_until == mono.now + 6
    put = [c for c in fake.calls if c[0] == "put"]
    assert len(put) == 1 and put[0][1] == PREFIX + "a" and put[0][3] == lease
    assert json.loads(put[0][2]) == {"member": "a", "joined": wall.now}
    assert not membership.acting() or membership.members is None  # not listed yet

    wall.now += 5
    revision = await membership._read()
    after_ns = time.time_ns()
    assert revision == fake.revision
    assert membership.members == frozenset({"a", "b"})
    assert membership.connected and membership.error is None and membership.since == wall.now
    assert membership.changed.is_set()
    assert membership.lease_since_ns is not None
    assert before_ns <= membership.lease_since_ns <= after_ns
    assert membership.acting()
    assert "cluster city: etcd reachable at http://127.0.0.1:9" in caplog.messages
    assert "cluster city: members a, b" in caplog.messages
    health = membership.health()
    assert health["status"] == "ok" and health["detail"] == "etcd at http://127.0.0.1:9"
    assert health["members"] == ["a", "b"]
    assert health["lease_since"] == membership.lease_since_ns / 1e9
    assert health["acting"] is True
    assert membership.sample().fields == {"etcd_up": True, "members": 2, "errors": 0}
    for target in TARGETS:
        assert membership.owns(target) == (owner(target, ["a", "b"]) == "a")


async def test_a_second_read_keeps_the_tenure_and_flags_only_real_changes() -> None:
    fake = FakeEtcd()
    membership, wall, _ = joined(fake)
    await membership._join()
    await membership._read()
    since_ns, since = membership.lease_since_ns, membership.since
    membership.changed.clear()
    wall.now += 10
    await membership._read()  # same list
    assert not membership.changed.is_set()
    assert membership.lease_since_ns == since_ns and membership.since == since
    fake.other_member("c")
    await membership._read()
    assert membership.changed.is_set() and membership.members == frozenset({"a", "c"})
    assert membership.lease_since_ns == since_ns


async def test_rejoin_refreshes_a_live_lease_instead_of_granting_a_new_one() -> None:
    fake = FakeEtcd(ttl_answer=9)
    membership, _, mono = joined(fake)
    await membership._join()
    lease = membership.lease
    mono.now += 3
    await membership._join()
    assert membership.lease == lease and len(grants(fake)) == 1
    assert ("keepalive", lease) in fake.calls
    assert membership._lease_until == mono.now + 9  # the TTL etcd answered, from the send


async def test_rejoin_after_the_lease_expired_grants_a_new_one_and_starts_a_new_tenure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeEtcd()
    membership, _, mono = joined(fake)
    await membership._join()
    await membership._read()
    old = membership.lease
    assert old is not None
    fake.expire(old)
    mono.now += 100
    await membership._join()
    assert membership.lease != old and len(grants(fake)) == 2
    assert f"cluster: lease {old:x} expired; a acts on nothing until it has joined again" in (
        caplog.messages
    )
    assert membership._lease_until == mono.now + 6
    assert membership.lease_since_ns is None and not membership.acting()  # not listed yet
    await membership._read()
    assert membership.acting() and membership.lease_since_ns is not None


# ------------------------------------------------------------------ lease refresh and fencing
async def test_the_lease_is_alive_until_the_ttl_counted_from_the_refresh_send() -> None:
    fake = FakeEtcd()
    membership, _, mono = joined(fake)
    await membership._join()
    await membership._read()
    assert membership.acting()
    mono.now += 5.999
    assert membership.acting()
    mono.now += 0.001  # exactly at the TTL: no longer known alive
    assert not membership.acting()
    assert not membership.held_since(0)
    await membership._refresh(membership.lease or 0)
    assert membership._lease_until == mono.now + 6 and membership.acting()


async def test_held_since_refuses_what_was_stamped_before_the_tenure() -> None:
    fake = FakeEtcd()
    membership, _, _ = joined(fake)
    await membership._join()
    await membership._read()
    start = membership.lease_since_ns
    assert start is not None
    assert membership.held_since(start) and membership.held_since(start + 1)
    assert not membership.held_since(start - 1)


async def test_a_lost_lease_acts_on_nothing(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeEtcd()
    membership, _, _ = joined(fake)
    await membership._join()
    await membership._read()
    membership.changed.clear()
    membership._lease_lost("lease 1 expired")
    assert membership.lease is None and membership._lease_until == 0.0
    assert not membership._listed and not membership._degraded
    assert membership.lease_since_ns is None
    assert membership.changed.is_set()
    assert not membership.acting()
    assert (
        "cluster: lease 1 expired; a acts on nothing until it has joined again" in caplog.messages
    )


async def test_our_key_gone_from_the_list_is_a_lost_lease() -> None:
    fake = FakeEtcd()
    membership, _, _ = joined(fake)
    await membership._join()
    fake.remove("a")
    with pytest.raises(LeaseGone, match="a is no longer listed"):
        await membership._read()


# ------------------------------------------------------------------ etcd unreachable
async def test_etcd_down_while_the_lease_is_alive_keeps_the_last_list_degraded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeEtcd()
    fake.other_member("b")
    membership, wall, mono = joined(fake)
    await membership._join()
    await membership._read()
    membership.changed.clear()
    wall.now += 7
    mono.now += 5
    membership._disconnected("connection refused")
    assert membership._degraded and not membership.connected
    assert membership.error == "connection refused" and membership.since == wall.now
    assert membership.changed.is_set()
    assert (
        "cluster city: etcd unreachable (connection refused); keeping the last assignment"
        in caplog.messages
    )
    mono.now += 1000  # far past the lease: still the last list (nobody answers to say otherwise)
    assert membership.acting() and membership.members == frozenset({"a", "b"})
    health = membership.health()
    assert health["status"] == "degraded"
    assert health["detail"] == "etcd unreachable, keeping the last assignment: connection refused"
    assert membership.sample().fields == {"etcd_up": False, "members": 2, "errors": 1}

    membership.changed.clear()
    wall.now += 1
    membership._disconnected("timeout")  # still down: no new transition
    assert not membership.changed.is_set() and membership.since == wall.now - 1
    assert membership.error == "timeout"

    mono.now += 1
    await membership._refresh(membership.lease or 0)  # etcd answers again
    assert not membership._degraded


async def test_etcd_down_just_within_the_lease_plus_the_request_timeout_still_degrades() -> None:
    fake = FakeEtcd()
    membership, _, mono = joined(fake)
    await membership._join()
    await membership._read()
    mono.now += 6 + fake.timeout_s - 0.001
    membership._disconnected("timeout")
    assert membership._degraded


async def test_etcd_failing_after_the_lease_outlived_does_not_keep_the_old_list() -> None:
    fake = FakeEtcd()
    membership, _, mono = joined(fake)
    await membership._join()
    await membership._read()
    mono.now += 6 + fake.timeout_s  # the failure came after a pause past the lease
    membership._disconnected("connection refused")
    assert not membership._degraded and not membership.acting()


def test_etcd_down_before_any_lease_is_not_degraded_fencing() -> None:
    membership, _, _ = joined(FakeEtcd())
    membership._lease_until = float("inf")
    membership._disconnected("connection refused")
    assert not membership._degraded and membership.error == "connection refused"
    assert membership.changed.is_set()


# ------------------------------------------------------------------ running and leaving
def record_sleeps(monkeypatch: pytest.MonkeyPatch, *, keepalive: bool) -> list[float]:
    """asyncio.sleep recorded and cut to a yield; the keepalive's periods (any sleep but the
    retry or a yield) hang unless `keepalive`, so that only the watch or only the refresh fails."""
    slept: list[float] = []
    real_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def sleep(delay: float) -> None:
        slept.append(delay)
        quiet = not keepalive and delay not in (0, membership_module.RETRY_S)
        await real_sleep(3600 if quiet else 0)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    return slept


@pytest.fixture
def fast_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    return record_sleeps(monkeypatch, keepalive=True)


@pytest.fixture
def quiet_keepalive(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    return record_sleeps(monkeypatch, keepalive=False)


@contextlib.asynccontextmanager
async def running(membership: Membership) -> AsyncIterator[None]:
    """`membership.run()` as a task for the block, cancelled after it (and it ends so)."""
    task = asyncio.create_task(membership.run())
    try:
        yield
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_run_joins_keeps_alive_and_follows_the_watch(fast_sleep: list[float]) -> None:
    fake = FakeEtcd()
    membership, _, _ = joined(fake, ttl=6)
    async with running(membership):
        await until(lambda: membership.members == frozenset({"a"}))
        lease = membership.lease
        await until(lambda: ("keepalive", lease) in fake.calls)
        assert 2.0 in fast_sleep  # a third of the TTL
        watch = [c for c in fake.calls if c[0] == "watch"]
        assert watch and watch[0][1] == PREFIX
        assert watch[0][2] == fake.revision + 1
        fake.other_member("b")
        await until(lambda: membership.members == frozenset({"a", "b"}))
        assert membership.acting() and membership.connected


async def test_run_reconnects_after_etcd_went_down_and_keeps_the_lease(
    quiet_keepalive: list[float],
) -> None:
    fake = FakeEtcd()
    membership, _, _ = joined(fake)
    async with running(membership):
        await until(lambda: membership.connected)
        lease = membership.lease
        fake.down = True
        fake.changes.put_nowait(0)
        await until(lambda: not membership.connected)
        assert membership.error == "watch: connection reset"
        assert membership._degraded and membership.acting()
        assert membership_module.RETRY_S in quiet_keepalive
        fake.down = False
        await until(lambda: membership.connected)
        assert membership.lease == lease and len(grants(fake)) == 1


async def test_run_after_the_lease_expired_rejoins_under_a_new_lease(
    quiet_keepalive: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeEtcd()
    membership, _, _ = joined(fake)
    async with running(membership):
        await until(lambda: membership.connected)
        first = membership.lease
        assert first is not None
        fake.expire(first)  # the key goes with it, the watch fires, our key is missing
        await until(lambda: membership.lease not in (None, first) and membership._listed)
        assert len(grants(fake)) == 2 and membership.acting()
        assert membership.members == frozenset({"a"})
        assert "cluster: a is no longer listed; a acts on nothing until it has joined again" in (
            caplog.messages
        )


async def test_leave_revokes_the_lease_so_others_take_over_now() -> None:
    fake = FakeEtcd()
    membership, _, _ = joined(fake)
    await membership._join()
    lease = membership.lease
    await membership.leave()
    assert ("revoke", lease) in fake.calls and membership.lease is None
    assert PREFIX + "a" not in fake.keys
    await membership.leave()  # nothing held: nothing sent
    assert [c for c in fake.calls if c[0] == "revoke"] == [("revoke", lease)]


async def test_leave_with_etcd_down_lets_the_lease_expire(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeEtcd()
    membership, _, _ = joined(fake)
    await membership._join()
    fake.down = True
    await membership.leave()
    assert membership.lease is None
    assert (
        "cluster: could not leave (revoke: connection refused); the lease expires by itself"
        in caplog.messages
    )


# ------------------------------------------------------------------ ownership across members
async def test_a_joining_member_takes_only_what_it_now_wins() -> None:
    fake = FakeEtcd()
    fake.other_member("b")
    membership, _, _ = joined(fake)
    await membership._join()
    await membership._read()
    before = {t for t in TARGETS if membership.owns(t)}
    assert 0 < len(before) < len(TARGETS)
    fake.other_member("c")
    await membership._read()
    after = {t for t in TARGETS if membership.owns(t)}
    assert after <= before
    assert before - after == {t for t in before if owner(t, ["a", "b", "c"]) == "c"}
    fake.remove("b")
    fake.remove("c")
    await membership._read()
    assert all(membership.owns(t) for t in TARGETS)


def test_the_weights_are_the_same_in_every_version() -> None:
    """Members of different versions side by side (a rolling upgrade) must agree on owners:
    the weight of (member, target) is a fixed 64-bit hash."""
    assert weight("edumon-a", "school-001-sw") == 17921583370016293752
    assert all(weight("edumon-b", t) < 2**64 for t in TARGETS)


def test_a_tie_goes_to_the_smaller_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rendezvous, "weight", lambda member, target: 7)
    assert owner("school-001-sw", ["edumon-b", "edumon-a", "edumon-c"]) == "edumon-a"
    assert owner("school-001-sw", ["edumon-c", "edumon-b"]) == "edumon-b"
