"""Real LLDP: four network namespaces wired core - aggregation - two access switches by veth
pairs, each running Debian's lldpd as an AgentX sub-agent of its own net-snmp snmpd
(tests/lldp_lab.py). edumon's SNMP plugin, opened on a config naming the four switches,
reads LLDP-MIB from them on its discovery cadence and hands each round to the gateway's
topology model through `observe`; the model's links (what /topology shows) are the wiring
the test made, both ends' ports named, and a veth removed disappears within two discovery
intervals."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.plugins import PLUGINS
from tests.discovery_rounds import DiscoveryRounds
from tests.lldp_lab import COMMUNITY, LldpLab, missing_tools
from tests.unavailable import unavailable

pytestmark = pytest.mark.integration
SWITCHES = ["core", "agg", "acc1", "acc2"]
WIRING = [("core", "agg"), ("agg", "acc1"), ("agg", "acc2")]
INTERVAL_S = 1.5  # snmp.discovery_interval_s of the test


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> object:
    if (reason := missing_tools()) is not None:
        unavailable(reason)
    with LldpLab(tmp_path_factory.mktemp("lldp"), SWITCHES) as lab:
        for a, b in WIRING:
            lab.wire(a, b)
        lab.start()
        yield lab


def _config(lab: LldpLab, path: Path) -> Path:
    devices = "".join(
        f"      - {{kind: switch, id: {name}, address: {lab.address[name]}, credentials: lab,"
        f" timeout_s: 1, retries: 1}}\n"
        for name in SWITCHES
    )
    path.write_text(
        "service: {name: edumon-lldp-test}\n"
        "influxdb: {url: 'http://127.0.0.1:9', api: v1, database: edumon}\n"
        f"snmp: {{discovery_interval_s: {INTERVAL_S}}}\n"
        "credentials:\n  snmp:\n    lab: {version: 2c, community_env: EDUMON_TEST_COMMUNITY}\n"
        "sites:\n  - id: city\n    name: City\n    kind: school\n    devices:\n" + devices
    )
    return path


Link = frozenset[tuple[str, str]]  # {(switch, its port), (peer, its port)}


def wired(pairs: list[tuple[str, str]]) -> set[Link]:
    return {frozenset({(a, f"to-{b}"), (b, f"to-{a}")}) for a, b in pairs}


async def test_discovery_finds_the_wiring_and_loses_a_removed_link(
    lab: LldpLab, tmp_path: Path
) -> None:
    config = load_config(
        _config(lab, tmp_path / "edumon.yaml"), PLUGINS, {"EDUMON_TEST_COMMUNITY": COMMUNITY}
    )
    rounds = DiscoveryRounds(config)
    assert sorted(job.schedule.interval_s for job in rounds.jobs) == [INTERVAL_S] * 4
    try:
        deadline = time.monotonic() + 20  # lldpd's first frames go out at start
        while rounds.links(both_ends=True) != wired(WIRING) and time.monotonic() < deadline:
            await rounds.round()
            await asyncio.sleep(INTERVAL_S)
        assert rounds.links(both_ends=True) == wired(WIRING), rounds.model.snapshot()
        assert rounds.links() == wired(WIRING)  # nothing else: no unknown node, no stray end
        agg = {n.local_ifname: n for n in rounds.seen["agg"].neighbours}
        assert agg["to-core"].mgmt_addresses == (lab.address["core"],)
        assert agg["to-core"].chassis_id_subtype == "macAddress"
        assert agg["to-core"].port_id_subtype == "interfaceName"
        seen = rounds.seen.values()
        assert all(d.counts.refused == 0 and d.counts.evicted == 0 for d in seen)
        assert all(link["learned"] == "lldp" for link in rounds.model.snapshot()["links"])

        lab.unwire("agg", "acc2")
        for _ in range(2):  # two discovery intervals
            await asyncio.sleep(INTERVAL_S)
            await rounds.round()
        assert rounds.links() == wired(WIRING[:2])  # no end reports agg - acc2 any more
        assert rounds.seen["acc2"].neighbours == ()
    finally:
        rounds.close()
