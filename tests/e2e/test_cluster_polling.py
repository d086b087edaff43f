"""Three edumon processes share 60 simulated switches through a real etcd and write to a real
InfluxDB. Counted from the stored points: each switch is polled by exactly one instance per
interval; after a kill -9 the dead instance's switches are polled again within two intervals,
with no gap longer than two intervals and no point stored twice; with etcd stopped for 30 s
polling never stops, and after it is back no switch stays polled twice."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.devstack.etcd import EtcdServer
from gateway.devstack.servers import InfluxDB1
from simulators.snmp.agent import SnmpFleet
from tests.cluster_city import ClusterCity, S, simulated_switches
from tests.cluster_lab import etcd

__all__ = ["etcd"]
pytestmark = pytest.mark.integration
SWITCHES = 60
INTERVAL_S = 3.0
MEMBERS = {"edumon-a", "edumon-b", "edumon-c"}


@pytest.fixture
async def fleet() -> AsyncIterator[SnmpFleet]:
    fleet = simulated_switches(SWITCHES)
    await fleet.start()
    yield fleet
    fleet.close()


@pytest.fixture
def city(
    tmp_path: Path, influxdb: InfluxDB1, etcd: EtcdServer, fleet: SnmpFleet
) -> Iterator[ClusterCity]:
    city = ClusterCity(tmp_path, influxdb, etcd, fleet, interval_s=INTERVAL_S)
    city.start()
    yield city
    city.stop()


def polled_by_more_than_one(polls: dict[str, dict[int, set[str]]], after_ns: int) -> list[str]:
    return sorted(
        f"{target}@{at}: {sorted(members)}"
        for target, slots in polls.items()
        for at, members in slots.items()
        if at >= after_ns and len(members) > 1
    )


def gaps_s(times: list[int]) -> list[float]:
    return [(b - a) / S for a, b in itertools.pairwise(times)]


async def test_each_switch_is_polled_once_per_interval_and_a_killed_instance_is_replaced(
    city: ClusterCity,
) -> None:
    await city.all_see(MEMBERS)
    settled = time.time_ns() + round(INTERVAL_S * S)  # the joins' handovers are done by then
    await asyncio.sleep(5 * INTERVAL_S)
    until = time.time_ns() - round(INTERVAL_S * S)  # polled and written by now
    polls = await city.polls(settled)
    assert set(polls) == {f"sw-{n:02d}" for n in range(SWITCHES)}
    # every slot of every switch polled, each by exactly one instance
    missed = {t: city.slots(t, settled, until) - set(slots) for t, slots in polls.items()}
    late = {t: [(at - until) / S for at in ats] for t, ats in missed.items() if ats}
    assert not late, f"slots not polled (s before the end of the window): {late}"
    assert polled_by_more_than_one(polls, settled) == []
    owners = {t: next(iter(s[max(s)])) for t, s in polls.items()}
    assert set(owners.values()) == MEMBERS  # all three share the work

    victim = "edumon-b"
    orphans = {t for t, member in owners.items() if member == victim}
    city.instance(victim).kill()
    killed = time.time_ns()
    await city.all_see(MEMBERS - {victim})
    await asyncio.sleep(4 * INTERVAL_S)

    polls = await city.polls(settled)
    devices = await city.device_points(settled)
    # from the victim's last stored poll to the first by its successor (stamped at its slot)
    takeover_s = {
        target: (
            min(at for at, by in polls[target].items() if victim not in by)
            - max(at for at, by in polls[target].items() if victim in by)
        )
        / S
        for target in orphans
    }
    print(
        f"{len(orphans)} switches of the killed instance: next poll stamped "
        f"{min(takeover_s.values()):.1f}-{max(takeover_s.values()):.1f} s after its last "
        f"(interval {INTERVAL_S:g} s, lease TTL 2 s)"
    )
    assert max(takeover_s.values()) <= 2 * INTERVAL_S
    gaps = {device: max(gaps_s(times)) for device, times in devices.items()}
    assert max(gaps.values()) <= 2 * INTERVAL_S, sorted(gaps.items(), key=lambda kv: -kv[1])[:5]
    # whoever polled a slot stamped it at the slot: one stored point per slot, never two
    assert all(city.on_grid(d, at) for d, times in devices.items() for at in times)
    assert min(min(gaps_s(times)) for times in devices.values()) >= INTERVAL_S
    after_takeover = killed + round(2 * INTERVAL_S * S)
    assert polled_by_more_than_one(polls, after_takeover) == []
    assert all(
        victim not in members for s in polls.values() for at, members in s.items() if at > killed
    )


async def test_polling_goes_on_while_etcd_is_down_and_converges_when_it_is_back(
    city: ClusterCity, etcd: EtcdServer
) -> None:
    await city.all_see(MEMBERS)
    settled = time.time_ns() + round(INTERVAL_S * S)
    await asyncio.sleep(2 * INTERVAL_S)
    etcd.stop()
    stopped = time.time_ns()
    try:
        await asyncio.sleep(30)
        degraded = [
            (await asyncio.to_thread(i.health))["components"]["cluster"]["status"]
            for i in city.instances
        ]
    finally:
        etcd.start()
    back = time.time_ns()
    await city.all_see(MEMBERS)
    await asyncio.sleep(3 * INTERVAL_S)

    assert degraded == ["degraded"] * 3
    said = await city.select_times(
        'SELECT "etcd_up" FROM "collector" WHERE "collector" = \'cluster\' '
        f'AND "etcd_up" = false AND time >= {stopped} AND time < {back} GROUP BY "member"'
    )
    assert len(said) == 3  # each instance wrote etcd_up=false (rule ClusterDegraded)
    polls = await city.polls(settled)
    devices = await city.device_points(settled)
    gaps = {device: max(gaps_s(times)) for device, times in devices.items()}
    assert len(devices) == SWITCHES
    assert max(gaps.values()) <= 2 * INTERVAL_S, sorted(gaps.items(), key=lambda kv: -kv[1])[:5]
    during = [at for slots in polls.values() for at in slots if stopped < at < back]
    assert len(during) >= SWITCHES * 9  # 30 s at 3 s: every switch every interval
    assert polled_by_more_than_one(polls, back + round(INTERVAL_S * S)) == []
