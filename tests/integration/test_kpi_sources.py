"""Bucketed reads against a real influxd: a state change inside a bucket is placed by the
majority of the bucket's samples, and edumon's missing heartbeat makes the time unknown."""

from __future__ import annotations

import asyncio

import pytest

from gateway.devstack.servers import InfluxDB1
from gateway.reports.queries import InfluxQuery
from gateway.reports.sources import Sources, Window
from gateway.storage.influx_http import InfluxTarget

pytestmark = pytest.mark.integration
S = 10**9
BASE = 300 * 5_966_667  # a bucket boundary (2026-09-21)
BUCKET, GAP = 300, 300


def lines(down: range, silent: range) -> str:
    out = []
    for t in range(BASE, BASE + 3600, 10):
        if t - BASE in silent:
            continue
        out.append(f"collector,collector=edumon,target=writer errors=0i {t * S}")
        up = "false" if t - BASE in down else "true"
        out.append(f"probe,site=s,target=gw,method=icmp,family=ipv4 up={up} {t * S}")
    return "\n".join(out) + "\n"


def test_state_changes_inside_buckets_and_unknown_time(influxdb: InfluxDB1) -> None:
    influxdb.create_database("buckets")
    # down 1000..1900 s: 20 of 30 samples of bucket 900-1200 are down, 10 of bucket 1800-2100
    # edumon silent 2400..3000 s: no heartbeat, no probe
    influxdb.write(lines(range(1000, 1900), range(2400, 3000)), db="buckets")

    async def read() -> tuple[int, int, int]:
        query = InfluxQuery(InfluxTarget(url=influxdb.url, database="buckets"))
        window = Window(BASE * S, (BASE + 3300) * S, GAP * S, BUCKET)
        sources = Sources(query, window)
        await sources.load_coverage()
        probes = await sources.probes("ipv4")
        await query.close()
        totals = probes["s"].totals(window.start_ns, window.end_ns)
        return totals.up_ns // S, totals.down_ns // S, totals.unknown_ns // S

    up, down, unknown = asyncio.run(read())
    assert down == 900  # 900-1800 instead of 1000-1900: each edge within half a bucket
    # the silence 2400-3000 is unknown, and so is the bucket before it (2100-2400): its point
    # is followed by the next one 900 s later, more than the max gap (unknown errs by a bucket)
    assert unknown == 900
    assert up + down + unknown == 3300
