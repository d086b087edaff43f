"""Alerts across a takeover, with two edumon processes, a real etcd and a real two-peer
Alertmanager cluster paging a recording webhook. Every instance tells every peer; the new owner
of a killed instance's switches re-derives their alerts from its own polls, and Alertmanager
(same labels, overlapping in time) keeps the first startsAt and does not page again. Traps
reach every instance; only the switch's owner writes and alerts on them. A member paused past
its lease and resumed acts on nothing it lost (fenced by its own lease check)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from collectors.snmp.discovery.reader import discovery_job
from gateway.cluster.rendezvous import owner
from gateway.devstack.alertmanager_cluster import AlertmanagerCluster
from gateway.devstack.etcd import EtcdServer
from gateway.devstack.servers import InfluxDB1
from simulators.snmp.agent import SnmpFleet
from tests.cluster_city import ClusterCity, S, simulated_switches
from tests.cluster_lab import alertmanager_cluster, etcd
from tests.pager import Pager

__all__ = ["alertmanager_cluster", "etcd"]
pytestmark = pytest.mark.integration
MEMBERS = ("edumon-a", "edumon-b")
VICTIM = "edumon-b"
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


def uplink_down(cluster: AlertmanagerCluster, site: str) -> list[tuple[str, float]]:
    """(startsAt, updatedAt) of the site's UplinkDown alert in each peer."""
    return [
        (alert["startsAt"], datetime.fromisoformat(alert["updatedAt"]).timestamp())
        for peer in cluster.peers
        for alert in peer.alerts()
        if alert["labels"]["alertname"] == "UplinkDown" and alert["labels"].get("site") == site
    ]


async def paged(pager: Pager, site: str, timeout_s: float = 20) -> float:
    started = time.monotonic()
    async with asyncio.timeout(timeout_s):
        while not pager.for_site(site):  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    return time.monotonic() - started


async def test_a_takeover_neither_repages_nor_loses_an_alert(
    city: ClusterCity, fleet: SnmpFleet, alertmanager_cluster: AlertmanagerCluster, pager: Pager
) -> None:
    victims = sorted(name for name in fleet.addresses if owner(name, MEMBERS) == VICTIM)
    firing, during = victims[0], victims[1]
    await city.all_see(set(MEMBERS))
    fleet.flap(firing, UPLINK, up=False)
    await paged(pager, firing)
    before = await asyncio.to_thread(uplink_down, alertmanager_cluster, firing)
    assert len(before) == 2 and len({starts for starts, _ in before}) == 1  # both peers hold it

    city.instance(VICTIM).kill()
    killed = time.time()
    fleet.flap(during, UPLINK, up=False)  # a linkDown while the killed instance's lease runs
    took = await paged(pager, during, timeout_s=30)
    print(f"linkDown during the takeover paged after {took:.1f} s")
    await asyncio.sleep(10)  # group_wait (5 s) and the second peer's turn (2 s) again

    assert len(pager.for_site(firing)) == 1
    assert len(pager.for_site(during)) == 1
    after = await asyncio.to_thread(uplink_down, alertmanager_cluster, firing)
    # the new owner re-derived the alert and sent it; each peer merged it into the old one
    assert all(updated > killed for _, updated in after)
    assert [starts for starts, _ in after] == [starts for starts, _ in before]


async def test_only_the_owner_of_a_switch_acts_on_its_traps(
    city: ClusterCity, fleet: SnmpFleet
) -> None:
    await city.all_see(set(MEMBERS))
    switch = next(name for name in sorted(fleet.addresses) if owner(name, MEMBERS) == VICTIM)
    other = next(m for m in MEMBERS if m != VICTIM)
    owner_port = await asyncio.to_thread(city.instance(VICTIM).trap_port)
    other_port = await asyncio.to_thread(city.instance(other).trap_port)
    fleet.trap_receiver = ("127.0.0.1", other_port)
    fleet.flap(switch, UPLINK, up=False)  # the linkDown reaches only the non-owner
    fleet.trap_receiver = ("127.0.0.1", owner_port)
    fleet.flap(switch, UPLINK, up=True)  # the linkUp only the owner
    await asyncio.sleep(2)
    traps = await city.select_times(
        f'SELECT "trap_oid" FROM "snmp_trap" WHERE "device" = \'{switch}\' GROUP BY "trap"'
    )
    assert [tags["trap"] for tags, _ in traps] == ["linkUp"]
    received = (await asyncio.to_thread(city.instance(other).health))["components"]["snmp-traps"]
    assert received["counts"].get("received", 0) >= 1  # it did hear the linkDown


@pytest.mark.slow
async def test_a_member_paused_past_its_lease_acts_on_nothing_it_lost(
    city: ClusterCity, fleet: SnmpFleet, pager: Pager
) -> None:
    """SIGSTOP for 40 s (lease TTL 2 s) and resumed: while it is stopped the other member
    takes its switches over, one of them not answering at all, and another one's uplink comes
    back up. Once resumed it asks no switch anything until it holds a new lease and has read
    the member list under it, stores no poll stamped with a slot that passed while it was
    stopped, and does not page again for the alert that cleared meanwhile; no switch goes
    unpolled for more than two intervals."""
    lost = sorted(name for name in fleet.addresses if owner(name, MEMBERS) == VICTIM)
    recovering, unanswering = lost[0], lost[1]
    await city.all_see(set(MEMBERS))
    settled = time.time_ns() + round(INTERVAL_S * S)
    fleet.flap(recovering, UPLINK, up=False)
    await paged(pager, recovering)
    fleet.heard = []
    await asyncio.sleep(2 * INTERVAL_S)
    # the victim's source port: the one that asks the switches whose polls and discovery rounds
    # are all its own (another member may own a lost switch's discovery round, `<id>/discovery`)
    only_its_own = [n for n in lost if owner(discovery_job(n), MEMBERS) == VICTIM]
    assert only_its_own, "no switch whose every job the victim owns"
    (port,) = {asked_from for _, name, asked_from in fleet.heard if name in only_its_own}

    paused = time.time()
    city.instance(VICTIM).pause()
    fleet[unanswering].faults.silent = True  # its new owner gets no answer at all
    fleet.flap(recovering, UPLINK, up=True)  # the alert clears while the owner is stopped
    await city.all_see({next(m for m in MEMBERS if m != VICTIM)})
    await asyncio.sleep(PAUSE_S - (time.time() - paused))
    resumed = time.time()
    city.instance(VICTIM).resume()
    await city.all_see(set(MEMBERS))
    cluster = (await asyncio.to_thread(city.instance(VICTIM).health))["components"]["cluster"]
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
        if VICTIM in members and paused * S < at < lease_since * S
    ]
    assert stale == []
    # the other member took over every switch, the unanswering one included, in time
    gaps = {
        target: max((b - a) / S for a, b in itertools.pairwise(sorted(slots)))
        for target, slots in polls.items()
    }
    print(
        f"longest gap {max(gaps.values()):.1f} s, the unanswering switch's {gaps[unanswering]:.1f} s"
    )
    assert set(gaps) == set(fleet.addresses)
    assert max(gaps.values()) <= 2 * INTERVAL_S, sorted(gaps.items(), key=lambda kv: -kv[1])[:3]
    # and the paged alert that cleared meanwhile is not paged again by the resumed member
    assert [page.firing() for page in pager.for_site(recovering) if page.firing()] == [
        ["UplinkDown"]
    ]
