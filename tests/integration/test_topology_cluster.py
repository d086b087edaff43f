"""The topology across two cluster members through a real etcd: the member that polls the
aggregation switch and the one that polls a school behind it share what their polls saw
(gateway/topology/cluster_share.py), so the school's owner holds the school's alerts behind
the switch the other member polls, and pages nothing for it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from gateway.alerts.engine import AlertEngine
from gateway.alerts.rules import load_rules
from gateway.cluster.etcd_http import EtcdClient
from gateway.cluster.membership import Membership
from gateway.collector import device_tags
from gateway.config import load_config
from gateway.devstack.etcd import EtcdServer
from gateway.plugins import PLUGINS
from gateway.sample import Sample
from gateway.topology.cluster_share import SharedStates
from gateway.topology.observations import Discovery, MacLocation
from gateway.topology.service import Topology
from tests.cluster_lab import etcd
from tests.unit.test_topology import ENVIRON, chain_yaml, city_yaml, lldp_round

pytestmark = pytest.mark.integration
__all__ = ["etcd"]


class Member:
    def __init__(self, name: str, config_path: Path, etcd: EtcdServer) -> None:
        self.fired: list[str] = []
        tags = device_tags(PLUGINS)
        config = load_config(config_path, PLUGINS, ENVIRON)
        self.engine = AlertEngine(
            load_rules(),
            on_transition=lambda t: self.fired.append(t.instance.rule),
            device_tags=tags,
        )
        self.topology = Topology(config, self.engine, tags)
        self.membership = Membership(EtcdClient([etcd.url]), "topo", name, lease_ttl_s=3)
        self.share = SharedStates(self.membership, self.topology)

    def poll(self, device: str, site: str, up: bool) -> None:
        tags = {"site": site, "device": device, "role": "core"}
        sample = Sample("device", tags, {"up": up}, 0)
        self.topology.observe([sample])
        self.engine.observe([sample])


@asynccontextmanager
async def joined(path: Path, etcd: EtcdServer) -> AsyncIterator[tuple[Member, Member]]:
    """Two members of one cluster on the config at `path`, each holding its lease."""
    a, b = Member("a", path, etcd), Member("b", path, etcd)
    runs = [asyncio.create_task(m.membership.run()) for m in (a, b)]
    try:
        async with asyncio.timeout(10):
            while True:
                if a.membership.lease is not None and b.membership.lease is not None:
                    break
                await asyncio.sleep(0.05)
        yield a, b
    finally:
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        for m in (a, b):
            await m.membership.leave()
            await m.membership.client.close()


@pytest.fixture
async def members(tmp_path: Path, etcd: EtcdServer) -> AsyncIterator[tuple[Member, Member]]:
    async with joined(city_yaml(tmp_path), etcd) as pair:
        yield pair


async def test_a_school_behind_a_switch_another_member_polls_is_held(
    members: tuple[Member, Member],
) -> None:
    a, b = members
    a.poll("city-core", "city", True)
    a.poll("agg-1", "city", True)
    b.poll("school-01-core", "school-01", True)
    a.poll("agg-1", "city", False)  # a polls the aggregation switch: it failed
    a.poll("city-core", "city", True)  # ... and its root answers since
    for member in (a, b):
        await member.share.share_once()
    await a.share.share_once()  # a reads b's key, written after a's first read
    b.poll("school-01-core", "school-01", False)  # b polls the school behind it
    b.engine.tick()
    assert b.topology.held["school-01-core"].cause == "agg-1"
    assert b.fired == []
    a.topology.recompute(a.engine.clock())
    a.engine.tick()
    assert a.fired == ["CoreSwitchUnreachable"]  # the one page, from agg-1's owner
    # agg-1 back: b learns it, and releases the school (which answers again too)
    a.poll("agg-1", "city", True)
    await a.share.share_once()
    await b.share.share_once()
    b.poll("school-01-core", "school-01", True)
    assert "school-01-core" not in b.topology.held
    b.engine.tick()
    assert b.fired == []


async def test_links_one_member_learned_place_the_school_another_member_polls(
    tmp_path: Path, etcd: EtcdServer
) -> None:
    """No `links:`: a's discovery (it owns city-core) learns city-core - agg-1, b's (it owns
    the school) learns agg-1 - school-a-core. Only both together join the school to the root:
    each member's graph takes the other's learned links."""
    async with joined(chain_yaml(tmp_path), etcd) as (a, b):
        now = time.time()
        lldp_round(a.topology, now, "city-core", "agg-1")
        lldp_round(b.topology, now, "school-a-core", "agg-1")
        a.poll("city-core", "city", True)
        a.poll("agg-1", "city", True)
        b.poll("school-a-core", "school-a", True)
        for member in (a, b, a):  # a reads b's keys, written after a's first read
            await member.share.share_once()
            await member.share.share_links_once()
        assert ("school-a-core", "p0", "agg-1", "up1") in a.topology.remote_links
        assert ("city-core", "p0", "agg-1", "up1") in b.topology.remote_links
        a.poll("agg-1", "city", False)
        a.poll("city-core", "city", True)
        await a.share.share_once()
        await b.share.share_once()
        b.poll("school-a-core", "school-a", False)
        b.engine.tick()
        assert b.topology.held["school-a-core"].cause == "agg-1"
        assert b.fired == []
        topology = b.topology.snapshot()
        assert {"a": "city-core", "a_ifname": "p0", "b": "agg-1", "b_ifname": "up1"} in topology[
            "member_links"
        ]


async def test_a_device_another_members_discovery_placed_has_its_port(
    tmp_path: Path, etcd: EtcdServer
) -> None:
    """b's discovery of the school's switch finds the exhibit's MAC behind Gi1/0/5; a, which
    knows the exhibit only by its site, takes b's placement (its alerts then name the port)."""
    async with joined(chain_yaml(tmp_path), etcd) as (a, b):
        assert a.topology.attachments()["globe"].learned == "site"
        mac = MacLocation("02:00:00:00:0a:01", "Gi1/0/5", 5, 10, "fdb")
        b.topology.observe_discovery(Discovery("school-a-core", time.time_ns(), macs=(mac,)))
        for member in (b, a):
            await member.share.share_links_once()
        placed = a.topology.attachments()["globe"]
        assert (placed.switch, placed.ifname, placed.learned) == ("school-a-core", "Gi1/0/5", "fdb")
        notes = a.topology.annotations("globe")
        assert (notes["switch"], notes["port"]) == ("school-a-core", "Gi1/0/5")


async def test_unreadable_keys_of_a_member_are_skipped_and_the_others_read(
    tmp_path: Path, etcd: EtcdServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with joined(chain_yaml(tmp_path), etcd) as (a, b):
        lldp_round(b.topology, time.time(), "school-a-core", "agg-1")
        await b.share.share_links_once()
        client = a.membership.client
        for n, garbage in enumerate(
            [b"not json", b'{"links": 5}', b'{"links": [[1, 2, 3, 4]], "attachments": {}}',
             b'{"links": [], "attachments": {"globe": ["sw", 7, "fdb"]}}', b"[]",
             b'{"links": [], "attachments": {"agg-1": ["school-a-core", "Gi1/0/9", "fdb"]}}']
        ):  # fmt: skip
            await client.put(f"{a.share.links_prefix}x{n}", garbage)
            await client.put(f"{a.share.prefix}x{n}", garbage)
        await a.share.share_links_once()
        await a.share.share_once()
        assert a.topology.remote_links == [("school-a-core", "p0", "agg-1", "up1")]
        assert a.topology.attachments()["globe"].learned == "site"
        assert "agg-1" not in a.topology.attachments()  # a switch is a node, not a leaf
        assert "unreadable links" in caplog.text and "unreadable states" in caplog.text
