"""Probes against a school made of network namespaces: what the lab makes true is measured."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from collectors.probes.collector import ProbeCollector, ProbeJob
from gateway.devstack.servers import InfluxDB1
from gateway.plugins import PLUGINS
from gateway.sample import Sample
from tests.netns_lab import (
    BLACKHOLED_V4,
    BLACKHOLED_V6,
    CLOSED_PORT,
    DNS_NAME,
    FILTERED_PORT,
    OPEN_PORT,
    SCHOOL_V4,
    SCHOOL_V6,
    SchoolLab,
    missing_tools,
)
from tests.unavailable import unavailable

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchoolLab]:
    if reason := missing_tools():
        unavailable(reason)
    with SchoolLab(tmp_path_factory.mktemp("lab")) as school:
        yield school


@pytest.fixture
async def collector(lab: SchoolLab) -> AsyncIterator[ProbeCollector]:
    probes = ProbeCollector.open()
    assert probes.transport.raw
    yield probes
    probes.transport.close()


def job(address: str, *methods: str, **settings: object) -> ProbeJob:
    settings = {"spacing_s": 0.02, "timeout_s": 0.5, **settings}
    return ProbeJob("lab", address, address, methods, **settings)  # type: ignore[arg-type]


async def fields_of(collector: ProbeCollector, probe: ProbeJob) -> dict[str, dict[str, object]]:
    return {
        s.tags["method"]: {**s.fields, "family": s.tags["family"]}
        for s in await collector.poll(probe)
    }


@pytest.mark.parametrize(("address", "family"), [(SCHOOL_V4, "ipv4"), (SCHOOL_V6, "ipv6")])
async def test_host_that_answers(collector: ProbeCollector, address: str, family: str) -> None:
    result = await fields_of(collector, job(address, "icmp", "tcp", tcp_port=OPEN_PORT))
    assert result["icmp"]["up"] is True and result["icmp"]["loss_pct"] == 0.0
    assert result["icmp"]["received"] == 5 and result["icmp"]["family"] == family
    assert 0 < float(result["icmp"]["rtt_min_ms"]) <= float(result["icmp"]["rtt_ms"]) < 50  # type: ignore[arg-type]
    assert result["tcp"]["port_state"] == "open" and result["tcp"]["up"] is True


@pytest.mark.parametrize("address", [BLACKHOLED_V4, BLACKHOLED_V6])
async def test_host_behind_a_blackhole_route_loses_everything(
    collector: ProbeCollector, address: str
) -> None:
    result = await fields_of(collector, job(address, "icmp", "tcp", tcp_port=OPEN_PORT))
    for method in ("icmp", "tcp"):
        assert result[method]["loss_pct"] == 100.0
        assert result[method]["up"] is False and result[method]["reachable"] is False
        assert "rtt_ms" not in result[method]
    assert result["tcp"]["port_state"] == "filtered"


@pytest.mark.parametrize("address", [SCHOOL_V4, SCHOOL_V6])
async def test_closed_port_answers_with_rst(collector: ProbeCollector, address: str) -> None:
    result = await fields_of(collector, job(address, "tcp", tcp_port=CLOSED_PORT))
    assert result["tcp"]["port_state"] == "closed"
    assert result["tcp"]["up"] is False and result["tcp"]["reachable"] is True
    assert result["tcp"]["loss_pct"] == 0.0


@pytest.mark.parametrize("address", [SCHOOL_V4, SCHOOL_V6])
async def test_filtered_port_is_silent(collector: ProbeCollector, address: str) -> None:
    result = await fields_of(collector, job(address, "tcp", tcp_port=FILTERED_PORT))
    assert result["tcp"]["port_state"] == "filtered"
    assert result["tcp"]["loss_pct"] == 100.0 and result["tcp"]["reachable"] is False


@pytest.mark.parametrize(
    ("server", "qtype", "expect"), [(SCHOOL_V4, "A", SCHOOL_V4), (SCHOOL_V6, "AAAA", SCHOOL_V6)]
)
async def test_real_dns_server_answers_the_name(
    collector: ProbeCollector, server: str, qtype: str, expect: str
) -> None:
    good = await fields_of(
        collector, job(server, "dns", dns_name=DNS_NAME, dns_type=qtype, dns_expect=(expect,))
    )
    assert good["dns"]["up"] is True and good["dns"]["answers"] == 1 and good["dns"]["rcode"] == 0
    wrong = await fields_of(
        collector, job(server, "dns", dns_name=DNS_NAME, dns_type=qtype, dns_expect=("192.0.2.1",))
    )
    assert wrong["dns"]["up"] is False and wrong["dns"]["reachable"] is True
    missing = await fields_of(
        collector, job(server, "dns", dns_name="nope.edumon.test", dns_type=qtype)
    )
    assert missing["dns"]["up"] is False and missing["dns"]["rcode"] == 3  # NXDOMAIN


async def test_one_dead_target_does_not_slow_the_others(collector: ProbeCollector) -> None:
    started = time.monotonic()
    finished: list[float] = []

    async def timed(probe: ProbeJob) -> list[Sample]:
        samples = await collector.poll(probe)
        finished.append(time.monotonic() - started)
        return samples

    # relative to the slow thing: the healthy probes end long before the dead target's
    # timeout, which they would wait for if it delayed them (absolute limits flake on load)
    dead = job(BLACKHOLED_V4, "icmp", timeout_s=2.0)
    dead_results = asyncio.ensure_future(collector.poll(dead))
    results = await asyncio.gather(*(timed(job(SCHOOL_V4, "icmp")) for _ in range(20)))
    assert all(r[0].fields["up"] for r in results)
    assert max(finished) < dead.timeout_s / 2
    assert (await dead_results)[0].fields["up"] is False
    assert time.monotonic() - started >= dead.timeout_s


def test_without_cap_net_raw_it_says_so_and_times_tcp_connect(lab: SchoolLab) -> None:
    script = (
        "import asyncio, json\n"
        "from collectors.probes.collector import ProbeCollector, ProbeJob\n"
        "async def main():\n"
        "    c = ProbeCollector.open()\n"
        f"    job = ProbeJob('lab', 'gw', '{SCHOOL_V4}', ('icmp', 'tcp'), tcp_port={OPEN_PORT})\n"
        "    samples = await c.poll(job)\n"
        "    print(json.dumps([[s.tags, s.fields] for s in samples]))\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run(
        [
            "setpriv",
            "--inh-caps=-all",
            "--bounding-set=-net_raw",
            "--",
            sys.executable,
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "CAP_NET_RAW" in result.stderr
    [[tags, fields]] = json.loads(result.stdout)
    assert tags["method"] == "tcp_connect"
    assert fields["up"] is True and fields["port_state"] == "open"


async def test_service_probes_the_inventory_into_influxdb(
    lab: SchoolLab, influxdb: InfluxDB1, tmp_path: Path
) -> None:
    import asyncio

    from gateway.config import load_config
    from gateway.service import Service

    config = tmp_path / "edumon.yaml"
    config.write_text(
        f"""
service: {{state_dir: {tmp_path / "state"}, http_listen: "127.0.0.1:0"}}
influxdb: {{url: {influxdb.url}, database: probes, flush_interval_s: 0.2}}
probes: {{interval_s: 1, spacing_s: 0.02, timeout_s: 0.3}}
sites:
  - id: school
    name: Lab school
    devices:
      - {{kind: probe_target, id: gw4, address: "{SCHOOL_V4}", methods: [icmp, tcp], tcp_port: {OPEN_PORT}}}
      - {{kind: probe_target, id: gw6, address: "{SCHOOL_V6}", methods: [icmp]}}
      - {{kind: probe_target, id: dark, address: "{BLACKHOLED_V4}", methods: [icmp]}}
"""
    )
    influxdb.create_database("probes")
    service = Service(load_config(config, PLUGINS), PLUGINS)
    stop = asyncio.Event()
    runner = asyncio.create_task(service.run(stop))
    await asyncio.sleep(4)
    stop.set()
    await runner
    result = influxdb.query(
        'SELECT last("up") AS up, max("loss_pct") AS loss FROM "probe" GROUP BY "target", "method", "family"',
        db="probes",
    )
    rows = {
        (s["tags"]["target"], s["tags"]["method"], s["tags"]["family"]): s["values"][0][1:]
        for s in result["results"][0]["series"]
    }
    assert rows == {
        ("gw4", "icmp", "ipv4"): [True, 0.0],
        ("gw4", "tcp", "ipv4"): [True, 0.0],
        ("gw6", "icmp", "ipv6"): [True, 0.0],
        ("dark", "icmp", "ipv4"): [False, 100.0],
    }
    polls = influxdb.query(
        'SELECT count("duration_ms") FROM "collector" WHERE "collector" = \'probes\'', db="probes"
    )
    assert (
        polls["results"][0]["series"][0]["values"][0][1] >= 6
    )  # 3 targets, at least 2 rounds each
