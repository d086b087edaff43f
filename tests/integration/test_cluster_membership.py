"""Membership through a real etcd (its v3 JSON gateway): members see each other, a member that
dies without a word is gone when its lease expires, a clean leave is seen at once, and while
etcd is down every member keeps the last list and says it is degraded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from gateway.cluster.etcd_http import EtcdClient
from gateway.cluster.membership import Membership
from gateway.devstack.etcd import EtcdServer
from tests.cluster_lab import etcd

__all__ = ["etcd"]
pytestmark = pytest.mark.integration
TTL_S = 2


async def until(condition: Callable[[], bool], timeout_s: float) -> float:
    """Seconds it took for `condition` to hold (fails after `timeout_s`)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return loop.time() - started


class Running:
    def __init__(self, server: EtcdServer, cluster: str) -> None:
        self.server, self.cluster = server, cluster
        self.tasks: dict[str, tuple[Membership, asyncio.Task[None]]] = {}

    def join(self, member: str) -> Membership:
        membership = Membership(
            EtcdClient([self.server.url], timeout_s=1), self.cluster, member, lease_ttl_s=TTL_S
        )
        self.tasks[member] = (membership, asyncio.create_task(membership.run()))
        return membership

    async def crash(self, member: str) -> None:
        """Stop keeping the lease alive, as kill -9 would (no revoke)."""
        membership, task = self.tasks.pop(member)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await membership.client.close()

    async def close(self) -> None:
        for member in list(self.tasks):
            membership = self.tasks[member][0]
            await self.crash(member)
            await membership.leave()
            await membership.client.close()


@pytest.fixture
async def running(etcd: EtcdServer, request: pytest.FixtureRequest) -> AsyncIterator[Running]:
    lab = Running(etcd, request.node.name.replace("[", "-").strip("]"))
    yield lab
    await lab.close()


async def test_members_see_each_other_and_agree_on_owners(running: Running) -> None:
    a, b, c = (running.join(name) for name in ("a", "b", "c"))
    await until(lambda: all(m.members == frozenset("abc") for m in (a, b, c)), 10)
    targets = [f"sw-{n}" for n in range(60)]
    owned = [{t for t in targets if m.owns(t)} for m in (a, b, c)]
    assert sum(len(share) for share in owned) == 60
    assert set().union(*owned) == set(targets)
    assert all(m.health()["status"] == "ok" for m in (a, b, c))


async def test_a_crashed_member_is_gone_when_its_lease_expires(running: Running) -> None:
    a, _b = running.join("a"), running.join("b")
    await until(lambda: a.members == frozenset("ab"), 10)
    await running.crash("b")
    took = await until(lambda: a.members == frozenset("a"), 4 * TTL_S)
    assert took <= TTL_S + 1.5  # the TTL, and a keepalive period of slack
    assert all(a.owns(f"sw-{n}") for n in range(20))


async def test_a_member_that_leaves_is_gone_at_once(running: Running) -> None:
    a, b = running.join("a"), running.join("b")
    await until(lambda: a.members == frozenset("ab"), 10)
    running.tasks.pop("b")[1].cancel()
    await b.leave()
    took = await until(lambda: a.members == frozenset("a"), TTL_S)
    assert took < TTL_S


async def test_etcd_down_keeps_the_last_members_and_degrades(
    running: Running, etcd: EtcdServer
) -> None:
    a, b = running.join("a"), running.join("b")
    await until(lambda: a.members == b.members == frozenset("ab"), 10)
    etcd.stop()
    try:
        await until(lambda: not a.connected and not b.connected, 10)
        await asyncio.sleep(TTL_S * 2)  # longer than the leases: nothing changes meanwhile
        assert a.members == b.members == frozenset("ab")
        assert a.health()["status"] == "degraded"
        assert a.sample().fields["etcd_up"] is False
    finally:
        etcd.start()
    await until(lambda: a.connected and b.connected, 15)
    assert a.members == b.members == frozenset("ab")  # the leases survived: nobody left meanwhile
    assert a.health()["status"] == "ok"
