"""A member paused past its lease (SIGSTOP for 40 s, lease TTL 2 s) and resumed, with two
edumon processes, a real etcd, a real InfluxDB and a real two-peer Alertmanager cluster paging a
recording webhook. While it is stopped the other member takes its switches over, one of them not
answering at all, and another one's uplink comes back up. Once resumed, the paused member asks
no switch anything until it holds a new lease and has read the member list under it, stores no
poll stamped with a slot that passed while it was stopped, and does not page again for the
alert that cleared while it was away; no switch goes unpolled for more than two intervals."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.cluster.rendezvous import owner
from gateway.devstack.alertmanager_cluster import AlertmanagerCluster
from gateway.devstack.etcd import EtcdServer
from gateway.devstack.servers import InfluxDB1
from simulators.snmp.agent import SnmpFleet
from tests.cluster_city import ClusterCity, S, simulated_switches
from tests.cluster_lab import alertmanager_cluster, etcd
from tests.pager import Pager

__all__ = ["alertmanager_cluster", "etcd"]
pytestmark = [pytest.mark.integration, pytest.mark.slow]
MEMBERS = ("edumon-a", "edumon-b")
PAUSED, OTHER = "edumon-b", "edumon-a"
UPLINK = 49  # ifIndex of the simulated switches' first 10G uplink
INTERVAL_S = 2.0
PAUSE_S = 40.0
IN_FLIGHT_S = 0.5  # a poll of a simulated switch takes well under this


@pytest.fixture
async def fleet() -> AsyncIterator[SnmpFleet]:
    fleet = simulated_switches(8)
    await fleet.start()
    yield fleet
    fleet.close()


@pytest.fixture
def city(
    tmp_path: Path,
    influxdb: InfluxDB1,
    etcd: EtcdServer,
    fleet: SnmpFleet,
    alertmanager_cluster: AlertmanagerCluster,
) -> Iterator[ClusterCity]:
    urls = ", ".join(f'"{url}"' for url in alertmanager_cluster.urls)
    city = ClusterCity(
        tmp_path,
        influxdb,
        etcd,
        fleet,
        members=MEMBERS,
        interval_s=INTERVAL_S,
        extra=f"alertmanager: {{urls: [{urls}], resend_interval_s: 5}}",
        site_per_switch=True,
    )
    city.start()
    yield city
    city.stop()


async def paged(pager: Pager, site: str, timeout_s: float = 20) -> None:
    async with asyncio.timeout(timeout_s):
        while not pager.for_site(site):  # noqa: ASYNC110
            await asyncio.sleep(0.2)


async def test_a_member_paused_past_its_lease_acts_on_nothing_it_lost(
    city: ClusterCity, fleet: SnmpFleet, pager: Pager
) -> None:
    lost = sorted(name for name in fleet.addresses if owner(name, MEMBERS) == PAUSED)
    recovering, unanswering = lost[0], lost[1]
    await city.all_see(set(MEMBERS))
    settled = time.time_ns() + round(INTERVAL_S * S)
    fleet.flap(recovering, UPLINK, up=False)
    await paged(pager, recovering)
    fleet.heard = []
    await asyncio.sleep(2 * INTERVAL_S)
    (port,) = {asked_from for _, name, asked_from in fleet.heard if name in lost}

    paused = time.time()
    city.instance(PAUSED).pause()
    fleet[unanswering].faults.silent = True  # its new owner gets no answer at all
    fleet.flap(recovering, UPLINK, up=True)  # the alert clears while the owner is stopped
    await city.all_see({OTHER})
    await asyncio.sleep(PAUSE_S - (time.time() - paused))
    resumed = time.time()
    city.instance(PAUSED).resume()
    await city.all_see(set(MEMBERS))
    cluster = (await asyncio.to_thread(city.instance(PAUSED).health))["components"]["cluster"]
    lease_since = cluster["lease_since"]
    await asyncio.sleep(12)  # its polls, its sender, Alertmanager's group_wait
    print(f"paused {resumed - paused:.0f} s; new lease {lease_since - resumed:.1f} s after resume")

    # no request before it held a new lease (a poll that was in flight when it was stopped
    # may finish its walk: its answers were already on their way)
    in_flight = {n for at, n, p in fleet.heard if p == port and paused - IN_FLIGHT_S < at < paused}
    assert len(in_flight) < len(lost)
    early = [
        (round(at - resumed, 2), name)
        for at, name, asked_from in fleet.heard
        if asked_from == port and resumed <= at < lease_since and name not in in_flight
    ]
    assert early == []
    # nothing stored for a slot that passed while it was stopped (or before its new lease)
    polls = await city.polls(settled)
    stale = [
        (target, (at / S) - paused)
        for target, slots in polls.items()
        for at, members in slots.items()
        if PAUSED in members and paused * S < at < lease_since * S
    ]
    assert stale == []
    # the other member took over every switch, the unanswering one included, in time
    gaps = {
        target: max((b - a) / S for a, b in itertools.pairwise(sorted(slots)))
        for target, slots in polls.items()
    }
    assert set(gaps) == set(fleet.addresses)
    assert max(gaps.values()) <= 2 * INTERVAL_S, sorted(gaps.items(), key=lambda kv: -kv[1])[:3]
    # and the paged alert that cleared meanwhile is not paged again by the resumed member
    assert [page.firing() for page in pager.for_site(recovering) if page.firing()] == [
        ["UplinkDown"]
    ]
