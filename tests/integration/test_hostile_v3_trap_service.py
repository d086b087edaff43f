"""An SNMPv3 authPriv linkDown from a simulated switch reaches InfluxDB through the whole
service: the trap receiver gets the configured v3 users from the config (credentials.snmp),
no community is configured at all, and the same trap replayed is refused."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from collectors.snmp.usm import UsmUser
from gateway.config import load_config
from gateway.devstack.servers import InfluxDB1, free_port
from gateway.plugins import PLUGINS
from gateway.service import Service
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.switch import SimSwitch
from tests.integration.test_hostile_traps import v3_trap

pytestmark = pytest.mark.integration
AUTH, PRIV = "test-only-trap-auth", "test-only-trap-priv"
ENVIRON = {"TRAP_AUTH": AUTH, "TRAP_PRIV": PRIV}


def config(tmp_path: Path, influxdb: InfluxDB1, trap_port: int, agent_port: int) -> Path:
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"""
service: {{state_dir: {tmp_path / "state"}, http_listen: "127.0.0.1:0"}}
influxdb: {{url: {influxdb.url}, database: v3traps, flush_interval_s: 0.2}}
snmp: {{trap_listen: "127.0.0.1:{trap_port}", interval_s: 3600, timeout_s: 1, retries: 0}}
credentials:
  snmp:
    traps:
      version: 3
      user: traps
      security_level: authPriv
      auth_protocol: sha256
      auth_password_env: TRAP_AUTH
      priv_protocol: aes
      priv_password_env: TRAP_PRIV
sites:
  - id: vsk-1
    name: School
    devices:
      - {{kind: switch, id: vsk-1-core, role: core, address: 127.0.0.1, port: {agent_port},
          credentials: traps}}
"""
    )
    return path


def traps_stored(influxdb: InfluxDB1) -> int:
    result = influxdb.query(
        'SELECT count("trap_oid") FROM "snmp_trap" WHERE "trap" = \'linkDown\'', db="v3traps"
    )
    series = result["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


async def test_a_v3_auth_priv_link_down_is_stored_through_the_service(
    influxdb: InfluxDB1, tmp_path: Path
) -> None:
    influxdb.create_database("v3traps")
    trap_port, agent_port = free_port(), free_port()
    service = Service(
        load_config(config(tmp_path, influxdb, trap_port, agent_port), PLUGINS, ENVIRON), PLUGINS
    )
    stop = asyncio.Event()
    runner = asyncio.create_task(service.run(stop))
    await service.started.wait()
    switch = SimSwitch("vsk-1-core", seed=3, boot=time.time() - 3600)
    fleet = SnmpFleet(
        [(switch, "127.0.0.1", agent_port)], b"unused", trap_receiver=("127.0.0.1", trap_port)
    )
    await fleet.start()
    fleet.trap_user = UsmUser(b"traps", "sha256", AUTH.encode(), "aes", PRIV.encode())
    try:
        await asyncio.sleep(1.0)  # the trap socket is bound
        fleet.flap("vsk-1-core", 49, up=False)
        async with asyncio.timeout(15):
            while traps_stored(influxdb) < 1:  # noqa: ASYNC110 - polls InfluxDB
                await asyncio.sleep(0.2)
        wrong_key = UsmUser(b"traps", "sha256", b"not-the-configured-key", "aes", b"x" * 8)
        forged = v3_trap(boots=1, engine_time=100, msg_id=1, user=wrong_key)
        replayed = v3_trap(boots=7, engine_time=500, msg_id=2, user=fleet.trap_user)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for datagram in (forged, replayed, replayed):
                sock.sendto(datagram, ("127.0.0.1", trap_port))
        await asyncio.sleep(1.0)
        assert await service.writer.drain(10)
        totals = service.collectors.healths["snmp-traps"].totals()
    finally:
        fleet.close()
        stop.set()
        await runner
    assert traps_stored(influxdb) == 2  # the switch's and the first of the replayed pair
    assert totals["rejected", "auth_failed"] == 1 and totals["rejected", "replayed"] == 1
    interface = influxdb.query(
        'SELECT "oper_up" FROM "interface" WHERE "device" = \'vsk-1-core\'', db="v3traps"
    )
    assert interface["results"][0]["series"][0]["values"][0][1] is False
