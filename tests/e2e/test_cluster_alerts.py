"""Alerts across a takeover, with two edumon processes, a real etcd and a real two-peer
Alertmanager cluster paging a recording webhook. Every instance tells every peer; the new owner
of a killed instance's switches re-derives their alerts from its own polls, and Alertmanager
(same labels, overlapping in time) keeps the first startsAt and does not page again. Traps
reach every instance; only the switch's owner writes and alerts on them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from gateway.cluster.rendezvous import owner
from gateway.devstack.alertmanager_cluster import AlertmanagerCluster
from gateway.devstack.etcd import EtcdServer
from gateway.devstack.servers import InfluxDB1
from simulators.snmp.agent import SnmpFleet
from tests.cluster_city import ClusterCity, simulated_switches
from tests.cluster_lab import alertmanager_cluster, etcd
from tests.pager import Pager

__all__ = ["alertmanager_cluster", "etcd"]
pytestmark = pytest.mark.integration
MEMBERS = ("edumon-a", "edumon-b")
VICTIM = "edumon-b"
UPLINK = 49  # ifIndex of the simulated switches' first 10G uplink
INTERVAL_S = 2.0


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
