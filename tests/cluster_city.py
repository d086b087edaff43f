"""Several `edumon run` processes sharing one simulated city through a real etcd, and what
their polls left in InfluxDB, for the cluster tests (tests/e2e/test_cluster_*.py)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.cluster.node import next_slot_ns, phase_ns
from gateway.devstack.child_server import free_port
from gateway.devstack.etcd import EtcdServer
from gateway.devstack.servers import InfluxDB1
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.switch import SimSwitch
from tests.processes import start_edumon

COMMUNITY = "cluster-test"
S = 1_000_000_000


def simulated_switches(count: int) -> SnmpFleet:
    """`count` switches, each on its own loopback address (a trap names its switch by it)."""
    boot = time.time() - 86_400
    switches = [
        (SimSwitch(f"sw-{n:02d}", seed=n, boot=boot), f"127.0.0.{10 + n}", 0) for n in range(count)
    ]
    return SnmpFleet(switches, COMMUNITY.encode())


@dataclass
class Instance:
    member: str
    config: Path
    port: int
    process: subprocess.Popen[str] | None = None
    log: list[str] = field(default_factory=list)
    paused: bool = False

    def start(self) -> None:
        self.process = start_edumon(self.config, self.port)
        stderr = self.process.stderr
        assert stderr is not None
        # drained in a thread: a full pipe would block edumon's logging
        threading.Thread(target=lambda: self.log.extend(stderr), daemon=True).start()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def pause(self) -> None:
        """SIGSTOP: the process keeps its sockets and its state but does nothing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self) -> None:
        if self.paused:
            self.resume()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def trap_port(self) -> int:
        """The port its trap listener bound (`trap_listen` port 0), from /healthz."""
        detail = str(self.health()["components"]["snmp-traps"]["detail"])
        return int(detail.rsplit(":", 1)[1])

    def health(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                health: dict[str, Any] = json.loads(response.read())
        except OSError as error:
            if getattr(error, "code", None) == 503:  # an error component: still a report
                health = json.loads(error.read())  # type: ignore[attr-defined]
            else:
                return {}
        return health


class ClusterCity:
    """`members` edumon processes polling `fleet` every `interval_s`, writing to `database`."""

    def __init__(
        self,
        tmp_path: Path,
        influxdb: InfluxDB1,
        etcd: EtcdServer,
        fleet: SnmpFleet,
        *,
        members: tuple[str, ...] = ("edumon-a", "edumon-b", "edumon-c"),
        interval_s: float = 3.0,
        extra: str = "",
        site_per_switch: bool = False,
        access_points: int = 0,
    ) -> None:
        self.influxdb, self.fleet, self.interval_s = influxdb, fleet, interval_s
        self.site_per_switch = site_per_switch
        self.access_points = [f"ap-{n:04d}" for n in range(access_points)]
        self.database = tmp_path.name.replace("-", "_")[-40:]
        influxdb.create_database(self.database)
        self.instances = [self._instance(tmp_path, etcd, member, extra) for member in members]

    def _instance(self, tmp_path: Path, etcd: EtcdServer, member: str, extra: str) -> Instance:
        state = tmp_path / member
        state.mkdir()
        switches = [
            f"{{kind: switch, id: {name}, role: access, address: {host}, port: {port}, "
            "credentials: v2}"
            for name, (host, port) in self.fleet.addresses.items()
        ]
        aps = [f'{{kind: access_point, id: {ap}, room: "{ap}"}}' for ap in self.access_points]
        if self.site_per_switch:  # one page per switch: Alertmanager groups by site
            sites = "".join(
                f"  - {{id: {name}, name: {name}, devices: [{switch}]}}\n"
                for name, switch in zip(self.fleet.addresses, switches, strict=True)
            )
        else:
            devices = "".join(f"      - {device}\n" for device in [*switches, *aps])
            sites = f"  - id: city\n    name: City\n    devices:\n{devices}"
        config = state / "edumon.yaml"
        config.write_text(
            f"""
service: {{name: {member}, state_dir: {state}, log_level: warning}}
influxdb: {{url: {self.influxdb.url}, database: {self.database}, flush_interval_s: 0.2}}
cluster:
  name: {self.database}
  member: {member}
  etcd_endpoints: ["{etcd.url}"]
  lease_ttl_s: 2
snmp: {{interval_s: {self.interval_s}, timeout_s: 1.0, retries: 1, trap_listen: "127.0.0.1:0"}}
credentials: {{snmp: {{v2: {{version: 2c, community_env: EDUMON_CLUSTER_COMMUNITY}}}}}}
{extra}
sites:
{sites}"""
        )
        return Instance(member, config, free_port())

    def start(self) -> None:
        os.environ["EDUMON_CLUSTER_COMMUNITY"] = COMMUNITY
        for instance in self.instances:
            instance.start()

    def stop(self) -> None:
        for instance in self.instances:
            instance.stop()

    def instance(self, member: str) -> Instance:
        return next(i for i in self.instances if i.member == member)

    async def all_see(self, members: set[str], timeout_s: float = 30) -> None:
        """Until every running instance (not paused) lists exactly `members`."""
        deadline = time.monotonic() + timeout_s
        while True:
            seen = [
                (await asyncio.to_thread(i.health)).get("components", {}).get("cluster", {})
                for i in self.instances
                if i.process is not None and i.process.poll() is None and not i.paused
            ]
            if seen and all(set(s.get("members", ())) == members for s in seen):
                return
            if time.monotonic() > deadline:
                logs = {i.member: i.log[-5:] for i in self.instances}
                raise AssertionError(f"members seen: {seen}; logs: {logs}")
            await asyncio.sleep(0.3)

    # ----------------------------------------------------------------- reading
    async def polls(self, since_ns: int) -> dict[str, dict[int, set[str]]]:
        """target -> slot time -> the members that polled it then (their `collector` points);
        the switches' counter polls, not their discovery rounds (`<id>/discovery`)."""
        rows = await self.select_times(
            'SELECT "duration_ms" FROM "collector" WHERE "collector" = \'snmp\' '
            f'AND time >= {since_ns} GROUP BY "target", "member"'
        )
        polls: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
        for tags, times in rows:
            if tags["target"].endswith("/discovery"):
                continue
            for at in times:
                polls[tags["target"]][at].add(tags["member"])
        return polls

    async def device_points(self, since_ns: int) -> dict[str, list[int]]:
        """device -> the times of its stored `device` points, in order."""
        rows = await self.select_times(
            f'SELECT "up" FROM "device" WHERE time >= {since_ns} GROUP BY "device"'
        )
        return {tags["device"]: sorted(times) for tags, times in rows}

    async def select_times(self, query: str) -> list[tuple[dict[str, str], list[int]]]:
        """(tags, times) of each series a `SELECT ... GROUP BY` returns."""
        result = await asyncio.to_thread(self.influxdb.query, query, self.database)
        return [
            (series.get("tags", {}), [int(value[0]) for value in series["values"]])
            for series in result["results"][0].get("series", [])
        ]

    def on_grid(self, device: str, at_ns: int) -> bool:
        interval = round(self.interval_s * S)
        return (at_ns - phase_ns(device, interval)) % interval == 0

    def slots(self, device: str, start_ns: int, end_ns: int) -> set[int]:
        """The device's poll slots in [start_ns, end_ns)."""
        interval = round(self.interval_s * S)
        first = next_slot_ns(start_ns - 1, interval, phase_ns(device, interval))
        return set(range(first, end_ns, interval))
