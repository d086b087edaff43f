"""A leaf's page latency with the topology's hold: a killed exhibit (its Last Will) until its
ExhibitOffline is in the real Alertmanager, switches polled every --interval seconds, with the
topology asking the exhibit's switch at once (now) and without (before: the hold waited for
the switch's next scheduled poll, at most `topology.settle_s`).

The scenario is tests/e2e/test_alerting.py's (real InfluxDB, Mosquitto, Alertmanager with the
shipped config, simulated switches over UDP, the devices as their own process); every target's
first poll is at start, so the switch's next poll is one interval after it.

Usage: python bench/leaf_page.py [--runs 5] [--interval 60]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway import scheduler
from gateway.devstack.servers import Alertmanager, InfluxDB1, Mosquitto
from tests.e2e.test_alerting import (
    Devices,
    FirstPollsAtOnce,
    killed_exhibit_pages,
    running_city,
)
from tests.pager import Pager


async def latencies(workdir: Path, runs: int, interval_s: float, ask: bool) -> list[float]:
    result = []
    with (
        InfluxDB1(workdir / "influx") as influx,
        Mosquitto(workdir / "mqtt") as broker,
        Pager() as pager,
        Alertmanager(workdir / "am", webhook_url=pager.url, always_active=True) as alertmanager,
        mock.patch.object(scheduler, "random", FirstPollsAtOnce),
    ):
        influx.create_database("edumon")
        for run in range(runs):
            site = f"{'now' if ask else 'before'}{run}"  # Alertmanager keeps earlier runs'
            changes = {"ExhibitOffline": {"keep_firing_for": "1s"}}
            city_dir = workdir / site
            city_dir.mkdir()
            async with running_city(
                city_dir, site, influx, alertmanager, changes, broker, interval_s
            ) as city:
                if not ask:
                    city.running.topology.poll_now = lambda _device: False
                with Devices(city.config) as devices:
                    latency = await killed_exhibit_pages(
                        city, devices, alertmanager, within=2 * interval_s
                    )
            print(f"  {site}: {latency:.2f} s", flush=True)
            result.append(latency)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--interval", type=float, default=60.0, help="snmp.interval_s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leaf-page-") as temp:
        report = {}
        for ask in (False, True):
            label = "asked at once (now)" if ask else "next scheduled poll (before)"
            print(f"{label}, switches polled every {args.interval:g} s:", flush=True)
            workdir = Path(temp) / ("now" if ask else "before")
            workdir.mkdir()
            report[label] = asyncio.run(latencies(workdir, args.runs, args.interval, ask))
    for label, values in report.items():
        print(
            f"{label}: median {statistics.median(values):.2f} s, "
            f"min {min(values):.2f} s, max {max(values):.2f} s over {len(values)} runs"
        )


if __name__ == "__main__":
    main()
