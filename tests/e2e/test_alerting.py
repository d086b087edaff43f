"""Alerts end to end against the real Prometheus Alertmanager, with the shipped routing and
inhibition: simulator -> edumon -> Alertmanager's API (and its notifications, recorded by a
webhook), with the latency measured by the test."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from gateway import scheduler
from gateway.cli import main
from gateway.config import load_config
from gateway.devstack.servers import Alertmanager, InfluxDB1, Mosquitto, free_port
from gateway.plugins import PLUGINS
from gateway.reports.incidents import Incident, incidents
from gateway.reports.queries import InfluxQuery
from gateway.service import Service
from gateway.status_view import fetch_status, render_status
from gateway.storage.influx_http import influx_target
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.switch import SimSwitch
from tests.alert_rules import rules_with
from tests.netsnmp import free_udp_port
from tests.pager import Pager
from tests.processes import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COMMUNITY = "test-only-community"
ENVIRON = {"EDUMON_TEST_COMMUNITY": COMMUNITY}
POLL_S = 2.0
UPLINK = 49  # ifIndex of the simulated switches' first 10G uplink


@dataclass
class City:
    site: str
    fleet: SnmpFleet
    config: Path
    service: Service | None = None
    _stop: asyncio.Event | None = None
    _runner: asyncio.Task[None] | None = None

    async def start(self) -> Service:
        self.service = Service(load_config(self.config, PLUGINS, ENVIRON), PLUGINS)
        self._stop = asyncio.Event()
        self._runner = asyncio.create_task(self.service.run(self._stop))
        await self.service.started.wait()
        async with asyncio.timeout(10):  # the first poll has named the uplinks
            while True:
                if self.service.alerting.engine.evaluated["UplinkDown"]:
                    return self.service
                await asyncio.sleep(0.05)

    async def polled(self, device: str) -> None:
        """Until a poll of `device` has named its uplinks (its `device` point came with them)."""
        async with asyncio.timeout(10):
            while True:
                if ("device", self.site, device) in self.running.status.latest:
                    return
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._stop is not None and self._runner is not None:
            self._stop.set()
            await self._runner

    @property
    def running(self) -> Service:
        assert self.service is not None
        return self.service

    @property
    def core(self) -> str:
        return f"{self.site}-core"

    @property
    def access(self) -> str:
        return f"{self.site}-access"


@asynccontextmanager
async def running_city(
    tmp_path: Path,
    site: str,
    influxdb: InfluxDB1,
    alertmanager: Alertmanager,
    rule_changes: dict[str, dict[str, Any]],
    mosquitto: Mosquitto | None = None,
    poll_s: float = POLL_S,
) -> AsyncIterator[City]:
    """One school (core + access switch, two APs) and one exhibit, against real servers; the
    switches polled every `poll_s`."""
    trap_port = free_udp_port()
    now = time.time()
    switches = [
        (SimSwitch(f"{site}-core", seed=1, boot=now - 3600), "127.0.0.2", 0),
        (SimSwitch(f"{site}-access", seed=2, boot=now - 3600), "127.0.0.3", 0),
    ]
    fleet = SnmpFleet(switches, COMMUNITY.encode(), trap_receiver=("127.0.0.1", trap_port))
    await fleet.start()
    core_port, access_port = (fleet.addresses[s.name][1] for s, _, _ in switches)
    mqtt = (
        f"mqtt: {{host: 127.0.0.1, port: {mosquitto.port}, client_id: {site}}}" if mosquitto else ""
    )
    config = tmp_path / "edumon.yaml"
    config.write_text(
        f"""
service: {{state_dir: {tmp_path / "state"}, http_listen: "127.0.0.1:0"}}
influxdb: {{url: {influxdb.url}, database: edumon, flush_interval_s: 0.2}}
{mqtt}
snmp: {{trap_listen: "127.0.0.1:{trap_port}", interval_s: {poll_s}, timeout_s: 0.3, retries: 0}}
alertmanager: {{url: {alertmanager.url}, resend_interval_s: 5}}
alerts: {{rules_file: {rules_with(tmp_path / "rules.yaml", rule_changes)}}}
credentials: {{snmp: {{v2: {{version: 2c, community_env: EDUMON_TEST_COMMUNITY}}}}}}
sites:
  - id: {site}
    name: "School {site}"
    devices:
      - {{kind: switch, id: {site}-core, role: core, address: 127.0.0.2, port: {core_port}, credentials: v2}}
      - {{kind: switch, id: {site}-access, role: access, address: 127.0.0.3, port: {access_port}, credentials: v2}}
      - {{kind: access_point, id: {site}-ap-101, room: "101"}}
      - {{kind: access_point, id: {site}-ap-102, room: "102"}}
      - {{kind: exhibit, id: {site}-pendulum, zone: mechanics}}
"""
    )
    city = City(site, fleet, config)
    try:
        await city.start()
        yield city
    finally:
        await city.stop()
        fleet.close()


async def in_alertmanager(
    alertmanager: Alertmanager, alertname: str, site: str, *, present: bool = True, within: float
) -> float:
    """Seconds until the alert is (or is no longer) in Alertmanager's API; fails after `within`."""
    started = time.monotonic()
    while True:
        alerts = await asyncio.to_thread(alertmanager.alerts)
        found = any(
            a["labels"].get("alertname") == alertname and a["labels"].get("site") == site
            for a in alerts
        )
        elapsed = time.monotonic() - started
        if found == present:
            return elapsed
        if elapsed > within:
            state = "appear" if present else "resolve"
            pytest.fail(f"{alertname} for {site} did not {state} within {within} s: {alerts}")
        await asyncio.sleep(0.05)


async def test_link_down_trap_alerts_within_2s_and_resolves(
    tmp_path: Path, influxdb: InfluxDB1, paging_alertmanager: Alertmanager
) -> None:
    """The trap path alone: the switch stops answering polls before the link goes down, so
    only its linkDown trap can tell (with the trap dropped, this test fails)."""
    changes = {"UplinkDown": {"keep_firing_for": "1s"}}
    async with running_city(tmp_path, "trap", influxdb, paging_alertmanager, changes) as city:
        await city.polled(city.core)  # traps name ports from the last poll
        city.fleet[city.core].faults.silent = True  # polls see nothing from now on
        await asyncio.sleep(POLL_S)  # a poll already under way ends
        city.fleet.flap(city.core, UPLINK, up=False)
        await asyncio.sleep(1)
        latency = await in_alertmanager(paging_alertmanager, "UplinkDown", "trap", within=2.0)
        print(f"linkDown trap -> Alertmanager: {latency * 1000:.0f} ms")
        (alert,) = [
            a
            for a in await asyncio.to_thread(paging_alertmanager.alerts)
            if a["labels"].get("site") == "trap" and a["labels"]["alertname"] == "UplinkDown"
        ]
        assert alert["labels"]["severity"] == "page" and alert["labels"]["ifname"] == "Te1/0/1"
        assert alert["annotations"]["summary"].endswith("at School trap is down")
        city.fleet.flap(city.core, UPLINK, up=True)
        await in_alertmanager(
            paging_alertmanager, "UplinkDown", "trap", present=False, within=1.0 + 2.0
        )
        await asyncio.sleep(1.5)  # the transition's `alert` point is emitted on the next tick
        assert await city.running.writer.drain(5)
        (incident,) = [
            i for i in await incidents_in_database(city, "trap") if i.alertname == "UplinkDown"
        ]
    # the KPI report reads what the engine wrote: down ~3 s (link up + keep_firing_for 1 s)
    assert (incident.alertname, incident.device, incident.severity) == (
        "UplinkDown",
        city.core,
        "page",
    )
    assert incident.recover_s is not None and 1.0 <= incident.recover_s < 6.0


async def incidents_in_database(city: City, site: str) -> list[Incident]:
    """The `alert` points the running service wrote, read by the KPI report's own code."""
    query = InfluxQuery(influx_target(city.running.config.influxdb))
    try:
        series = await query.select('"firing", "value"', "alert", 0, time.time_ns() + 10**9, by="*")
    finally:
        await query.close()
    return [i for i in incidents(series) if i.site == site]


async def test_a_poll_based_condition_alerts_within_one_interval_plus_2s(
    tmp_path: Path, influxdb: InfluxDB1, paging_alertmanager: Alertmanager
) -> None:
    changes = {"CoreSwitchUnreachable": {"keep_firing_for": "1s"}}
    async with running_city(tmp_path, "poll", influxdb, paging_alertmanager, changes) as city:
        city.fleet[city.core].faults.silent = True
        latency = await in_alertmanager(
            paging_alertmanager, "CoreSwitchUnreachable", "poll", within=POLL_S + 2.0
        )
        print(f"switch silent -> Alertmanager: {latency * 1000:.0f} ms (poll every {POLL_S} s)")
        await shows_on_call_status(city)
        city.fleet[city.core].faults.silent = False
        await in_alertmanager(
            paging_alertmanager,
            "CoreSwitchUnreachable",
            "poll",
            present=False,
            within=POLL_S + 1.0 + 2.0,
        )


async def shows_on_call_status(city: City) -> None:
    """`edumon status --url` draws what is down from the running service's `/status`."""
    url = f"http://127.0.0.1:{city.running.health.port}"
    status = await asyncio.to_thread(fetch_status, url)
    (site,) = status["sites"]
    assert site["health"] == "down" and site["down"] >= 1 and site["firing"] >= 1
    assert {c["collector"] for c in status["collectors"]} >= {"snmp"}
    console = Console(record=True, width=200)
    console.print(render_status(status))
    text = console.export_text()
    assert "CoreSwitchUnreachable" in text
    assert f"Core switch {city.core} at School {city.site} does not answer SNMP" in text
    # each switch is two targets, its counter poll and its discovery round (`<id>/discovery`);
    # the silent switch's discovery counts as failing once its first round has run
    failing = re.search(r"collector snmp: (\d+) of (\d+) targets failing", text)
    assert failing is not None and int(failing[1]) in (1, 2) and int(failing[2]) in (2, 3, 4)
    assert await asyncio.to_thread(main, ["status", "--url", url]) == 0


class Devices:
    """The APs and exhibits of the config as their own process, as on real devices; `kill`
    is a crash (SIGKILL: the broker publishes their Last Wills)."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "gateway.cli", "sim", "mqtt", "--config"]
        self.process = subprocess.Popen(
            [*command, str(self.config), "--period", "0.5"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            env=ENVIRON,
        )

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> Devices:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


async def wait_up(service: Service, measurement: str, device: str) -> None:
    """Until edumon has seen the device online."""
    async with asyncio.timeout(10):
        while True:
            latest = service.status.latest.items()
            if any(key[0] == measurement and key[2] == device and up for key, (up, *_) in latest):
                return
            await asyncio.sleep(0.05)


async def paged(pager: Pager, site: str, receiver: str) -> None:
    """Until Alertmanager has notified `receiver` about `site` (after its group_wait)."""
    async with asyncio.timeout(10):
        while True:
            if any(page.receiver == receiver for page in pager.for_site(site)):
                return
            await asyncio.sleep(0.1)


async def test_a_killed_exhibit_alerts_within_2s_by_its_last_will_and_resolves(
    tmp_path: Path,
    influxdb: InfluxDB1,
    mosquitto: Mosquitto,
    paging_alertmanager: Alertmanager,
    pager: Pager,
) -> None:
    changes = {"ExhibitOffline": {"keep_firing_for": "1s"}}
    async with running_city(
        tmp_path, "will", influxdb, paging_alertmanager, changes, mosquitto
    ) as city:
        with Devices(city.config) as devices:
            latency = await killed_exhibit_pages(city, devices, paging_alertmanager, within=2.0)
            print(f"exhibit killed -> Last Will -> Alertmanager: {latency * 1000:.0f} ms")
            await paged(pager, "will", "science-centre")  # routed to the science centre's staff
            devices.start()  # back online: its retained status says so
            await in_alertmanager(
                paging_alertmanager, "ExhibitOffline", "will", present=False, within=10.0
            )


async def killed_exhibit_pages(
    city: City, devices: Devices, alertmanager: Alertmanager, *, within: float
) -> float:
    """Seconds from the exhibit's crash to its ExhibitOffline in Alertmanager. The topology
    holds it until the switch it hangs off has answered since (is the switch the cause?) and
    asks that switch at once rather than waiting for its next poll."""
    await wait_up(city.running, "exhibit", f"{city.site}-pendulum")
    await city.polled(city.core)
    devices.kill()
    return await in_alertmanager(alertmanager, "ExhibitOffline", city.site, within=within)


class FirstPollsAtOnce:
    """The scheduler's start-up jitter, at its lower end: every target is polled as edumon
    starts, then every interval (the test knows when the switch's next poll is due)."""

    @staticmethod
    def uniform(low: float, _high: float) -> float:
        return low


LONG_POLL_S = 60.0


def on_demand_polls(city: City) -> dict[str, float]:
    """edumon_polls_on_demand_total by outcome, from the running service's /metrics."""
    url = f"http://127.0.0.1:{city.running.health.port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    found = re.findall(
        r'edumon_polls_on_demand_total\{collector="snmp",outcome="(\w+)"\} (\S+)', text
    )
    return {outcome: float(value) for outcome, value in found}


async def test_a_killed_exhibit_pages_long_before_its_switchs_next_poll(
    tmp_path: Path,
    influxdb: InfluxDB1,
    mosquitto: Mosquitto,
    paging_alertmanager: Alertmanager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Switches polled every 60 s: the exhibit's page does not wait for its switch's next
    poll (a minute away), the topology has the switch polled once at once."""
    monkeypatch.setattr(scheduler, "random", FirstPollsAtOnce)
    changes = {"ExhibitOffline": {"keep_firing_for": "1s"}}
    async with running_city(
        tmp_path, "long", influxdb, paging_alertmanager, changes, mosquitto, LONG_POLL_S
    ) as city:
        with Devices(city.config) as devices:
            latency = await killed_exhibit_pages(
                city, devices, paging_alertmanager, within=LONG_POLL_S / 3
            )
            polls = await asyncio.to_thread(on_demand_polls, city)
        print(f"exhibit killed -> Alertmanager, switches polled every {LONG_POLL_S:g} s: "
              f"{latency * 1000:.0f} ms; polls on demand {polls}")  # fmt: skip
    # its APs' Last Wills, a moment apart, asked for the same switch: one poll out of schedule
    assert polls.get("polled") == 1
    assert set(polls) <= {"polled", "joined", "in_flight", "deferred"}


async def test_a_school_whose_uplink_is_down_pages_once(
    tmp_path: Path,
    influxdb: InfluxDB1,
    mosquitto: Mosquitto,
    paging_alertmanager: Alertmanager,
    pager: Pager,
) -> None:
    """Behind the dead uplink the access switch, the APs and the exhibit vanish too: their
    alerts are inhibited, and the on-call engineer gets one notification, for the cause."""
    now = {"for": "0s"}
    changes = {"SwitchUnreachable": now, "AccessPointDown": now}
    async with running_city(
        tmp_path, "cutoff", influxdb, paging_alertmanager, changes, mosquitto
    ) as city:
        with Devices(city.config) as devices:
            await wait_up(city.running, "wifi_ap", "cutoff-ap-101")
            city.fleet.flap(city.core, UPLINK, up=False)
            city.fleet[city.access].faults.silent = True
            devices.kill()
            for alertname in (
                "UplinkDown",
                "SwitchUnreachable",
                "AccessPointDown",
                "ExhibitOffline",
            ):
                await in_alertmanager(paging_alertmanager, alertname, "cutoff", within=POLL_S + 2)
            await asyncio.sleep(5 + 5)  # group_wait of the shipped config, and some more
    pages = pager.for_site("cutoff")
    assert len(pages) == 1, pages
    assert pages[0].receiver == "network-oncall"
    assert pages[0].firing() == ["UplinkDown"]
    held = [
        a
        for a in await asyncio.to_thread(paging_alertmanager.alerts)
        if a["labels"].get("site") == "cutoff" and a["labels"]["alertname"] != "UplinkDown"
    ]
    assert {a["labels"]["alertname"] for a in held} >= {
        "SwitchUnreachable",
        "AccessPointDown",
        "ExhibitOffline",
    }
    assert all(a["status"]["state"] == "suppressed" and a["status"]["inhibitedBy"] for a in held)


async def test_a_link_flapping_every_30s_pages_once(
    tmp_path: Path, influxdb: InfluxDB1, paging_alertmanager: Alertmanager, pager: Pager
) -> None:
    """Down, up 30 s later, down again 30 s after that: one alert that never drops out of
    Alertmanager (the shipped keep_firing_for), one notification. The second down is watched
    for 15 s: past the group_interval (1 m) after the first notification (group_wait 5 s),
    when Alertmanager would send a second one."""
    seen: list[str | None] = []  # UplinkDown's startsAt in Alertmanager, twice a second
    async with running_city(tmp_path, "flap", influxdb, paging_alertmanager, {}) as city:
        for up, watch_s in ((False, 30), (True, 30), (False, 15)):
            city.fleet.flap(city.core, UPLINK, up=up)
            for _ in range(watch_s * 2):
                await asyncio.sleep(0.5)
                alerts = await asyncio.to_thread(paging_alertmanager.alerts)
                starts = [a["startsAt"] for a in alerts if a["labels"].get("site") == "flap"]
                seen.append(starts[0] if starts else None)
    first = next(i for i, starts in enumerate(seen) if starts)
    assert first <= 4  # within 2 s
    assert len(set(seen[first:])) == 1, "the alert left Alertmanager or restarted while flapping"
    pages = pager.for_site("flap")
    assert [page.firing() for page in pages] == [["UplinkDown"]]


async def test_a_restart_of_edumon_keeps_the_alert_without_a_new_page(
    tmp_path: Path, influxdb: InfluxDB1, paging_alertmanager: Alertmanager, pager: Pager
) -> None:
    async with running_city(tmp_path, "restart", influxdb, paging_alertmanager, {}) as city:
        city.fleet.flap(city.core, UPLINK, up=False)
        await in_alertmanager(paging_alertmanager, "UplinkDown", "restart", within=2.0)
        await asyncio.sleep(6)  # the page goes out after group_wait
        assert len(pager.for_site("restart")) == 1
        (before,) = [
            a for a in paging_alertmanager.alerts() if a["labels"].get("site") == "restart"
        ]
        await city.stop()
        await city.start()
        firing = city.running.alerting.engine.firing()
        assert [i.rule for i in firing if i.labels.get("site") == "restart"] == ["UplinkDown"]
        await asyncio.sleep(7)  # re-sent after the restart, past another group_wait
        (after,) = [a for a in paging_alertmanager.alerts() if a["labels"].get("site") == "restart"]
    assert after["startsAt"] == before["startsAt"] and after["updatedAt"] > before["updatedAt"]
    assert len(pager.for_site("restart")) == 1


async def test_alerts_wait_for_an_alertmanager_that_is_down(
    tmp_path: Path, influxdb: InfluxDB1
) -> None:
    """Alertmanager is down when the alert fires; it arrives once Alertmanager is up."""
    port = free_port()
    late = Alertmanager(tmp_path / "late-alertmanager", port=port)
    async with running_city(tmp_path, "late", influxdb, late, {}) as city:
        city.fleet.flap(city.core, UPLINK, up=False)
        await asyncio.sleep(3)
        (sender,) = city.running.alerting.senders  # the one Alertmanager of this config
        assert sender.failures >= 1
        with late:
            started = time.monotonic()
            await in_alertmanager(late, "UplinkDown", "late", within=35)
            print(f"delivered {time.monotonic() - started:.1f} s after Alertmanager came up")
