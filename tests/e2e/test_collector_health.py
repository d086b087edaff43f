"""What edumon knows, it shows: known good and bad input at every intake (MQTT telemetry,
LoRaWAN, SNMP traps) and real SNMP polls, read back from the running service's `/metrics`
and `/healthz`; and a collector plugin added by one registry line shows up in check-config,
`/healthz` and `/metrics` with no other gateway change."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway import plugins
from gateway.collector import Collector, CollectorContext, CollectorPlugin, Stream
from gateway.config import check_config, load_config
from gateway.devstack.servers import InfluxDB1, Mosquitto
from gateway.inventory import DeviceBase
from gateway.mqtt_client import ClientOptions, MqttClient
from gateway.plugins import PLUGINS
from gateway.service import Service
from simulators.lorawan.network_server import SimSensor, chirpstack_event, payload, topic_of
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.switch import SimSwitch

pytestmark = pytest.mark.integration
COMMUNITY = "health-test"
ENV = {"EDUMON_TEST_COMMUNITY": COMMUNITY}
EUI = "70b3d57ed0000001"


def config_text(tmp_path: Path, influxdb: InfluxDB1, mosquitto: Mosquitto, snmp_port: int) -> str:
    return f"""
service: {{state_dir: {tmp_path / "state"}, http_listen: "127.0.0.1:0"}}
influxdb: {{url: {influxdb.url}, database: health, flush_interval_s: 0.2}}
mqtt: {{host: 127.0.0.1, port: {mosquitto.port}, client_id: edumon-health}}
snmp: {{trap_listen: "127.0.0.1:0", interval_s: 1, timeout_s: 0.5, retries: 0}}
credentials: {{snmp: {{v2: {{version: 2c, community_env: EDUMON_TEST_COMMUNITY}}}}}}
sites:
  - id: vsk-1
    name: School
    devices:
      - {{kind: switch, id: vsk-1-core, role: core, address: 127.0.0.1, port: {snmp_port}, credentials: v2}}
      - {{kind: access_point, id: vsk-1-ap-101, room: "101"}}
      - {{kind: lorawan_sensor, id: vsk-1-co2-101, dev_eui: "{EUI}", room: "101"}}
"""


def metric_values(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def read_service(url: str) -> tuple[dict[tuple[str, tuple[tuple[str, str], ...]], float], Any]:
    """/metrics as {(name, labels): value} and /healthz as JSON."""
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
        health = json.loads(response.read())
    return metric_values(url), health


async def connected(service: Service, *components: str) -> None:
    async with asyncio.timeout(20):
        for name in components:
            while not service.health.report()["components"][name].get("connected"):  # noqa: ASYNC110
                await asyncio.sleep(0.2)


def outcome(values: dict[tuple[str, tuple[tuple[str, str], ...]], float], **labels: str) -> float:
    wanted = tuple(sorted({"reason": "", **labels}.items()))
    return values.get(("edumon_collector_outcomes_total", wanted), 0.0)


@pytest.fixture
async def fleet() -> AsyncIterator[SnmpFleet]:
    fleet = SnmpFleet(
        [(SimSwitch("vsk-1-core", seed=1, boot=time.time() - 3600), "127.0.0.1", 0)],
        COMMUNITY.encode(),
    )
    await fleet.start()
    yield fleet
    fleet.close()


async def test_metrics_count_good_and_bad_input_of_every_collector(
    tmp_path: Path, influxdb: InfluxDB1, mosquitto: Mosquitto, fleet: SnmpFleet
) -> None:
    influxdb.create_database("health")
    snmp_port = fleet.addresses["vsk-1-core"][1]
    path = tmp_path / "edumon.yaml"
    path.write_text(config_text(tmp_path, influxdb, mosquitto, snmp_port))
    service = Service(load_config(path, PLUGINS, ENV), PLUGINS)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await service.started.wait()
    url = f"http://127.0.0.1:{service.health.port}"
    try:
        await connected(service, "mqtt", "lorawan")
        ap = "edumon/vsk-1/ap/vsk-1-ap-101/state"
        good_ap = json.dumps(
            {"ts": time.time(), "radios": [{"band": "5g", "clients": 3, "channel_util_pct": 20}]}
        )
        sensor = SimSensor(EUI, "vsk-1-co2-101", "env-sensor", "chirpstack")
        async with MqttClient("127.0.0.1", mosquitto.port, ClientOptions("health-pub")) as pub:
            for _ in range(3):
                await pub.publish(ap, good_ap, qos=1)
            await pub.publish(ap, b"{not json", qos=1)
            await pub.publish("edumon/vsk-1/ap/vsk-1-ap-999/state", good_ap, qos=1)
            for f_cnt in (1, 2):
                f_port, data = payload(sensor, f_cnt, time.time())
                event = chirpstack_event(sensor, f_cnt, data, f_port, 1)
                await pub.publish(topic_of(sensor), json.dumps(event).encode(), qos=1)
            await pub.publish(topic_of(sensor), b"[]", qos=1)
        traps = trap_socket_port(service)
        fleet.trap_receiver = ("127.0.0.1", traps)
        fleet.flap("vsk-1-core", 1, up=False)  # a good linkDown
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"\x30\x03\x02\x01", ("127.0.0.1", traps))  # truncated BER
        await asyncio.sleep(3)  # the polls (every 1 s) and the intakes
        values, health = await asyncio.to_thread(read_service, url)
        profiles = service.status.snapshot()["profiles"]
    finally:
        stop.set()
        await task
    assert [(p["device"], bool(p["profile"])) for p in profiles] == [("vsk-1-core", True)]
    mqtt = {"collector": "mqtt", "component": "mqtt"}
    assert outcome(values, **mqtt, outcome="accepted") == 3
    assert outcome(values, **mqtt, outcome="rejected", reason="invalid JSON") == 1
    assert outcome(values, **mqtt, outcome="rejected", reason="unknown device") == 1
    assert outcome(values, **mqtt, outcome="received") == 5
    lorawan = {"collector": "lorawan", "component": "lorawan"}
    assert outcome(values, **lorawan, outcome="accepted") == 2
    assert outcome(values, **lorawan, outcome="received") == 3
    assert (
        sum(
            v
            for (n, k), v in values.items()
            if dict(k).get("component") == "lorawan" and dict(k).get("outcome") == "rejected"
        )
        == 1
    )
    traps_labels = {"collector": "snmp", "component": "snmp-traps"}
    assert outcome(values, **traps_labels, outcome="received") == 2
    assert outcome(values, **traps_labels, outcome="rejected", reason="malformed") == 1
    snmp = {"collector": "snmp", "component": "snmp"}
    assert outcome(values, **snmp, outcome="polled") >= 2
    assert outcome(values, **snmp, outcome="request", reason="requests") >= 2
    assert values[("edumon_collector_up", (("collector", "mqtt"), ("component", "mqtt")))] == 1
    for consumer in ("mqtt", "lorawan"):  # the MQTT bounds, one set per consumer
        assert values[("edumon_bound_limit", (("bound", f"mqtt_batch:{consumer}"),))] == 5000
        packet = (("bound", f"mqtt_packet_bytes:{consumer}"),)
        assert values[("edumon_bound_limit", packet)] == 2**20
        assert 0 < values[("edumon_bound_used", packet)] < 2**20  # the largest payload seen
        assert values[("edumon_bound_refused_total", packet)] == 0
    assert {"mqtt", "lorawan", "snmp", "snmp-traps"} <= set(health["components"])
    assert health["components"]["mqtt"]["counts"]["accepted"] == 3


def trap_socket_port(service: Service) -> int:
    detail = service.health.report()["components"]["snmp-traps"]["detail"]
    return int(detail.rsplit(":", 1)[1])


# ------------------------------------------------------------------- one-line plugin


class Doorbell(DeviceBase):
    kind: Literal["doorbell"]
    room: str


async def _rings(emit, health) -> None:  # type: ignore[no-untyped-def]
    health.connect("listening to the doorbells")
    health.count("accepted", "", 7)
    await asyncio.Event().wait()


def _open(context: CollectorContext) -> Collector:
    return Collector(streams=[Stream("doorbell", "bells", _rings)])


TEST_PLUGIN = CollectorPlugin(name="doorbell", open=_open, devices=(Doorbell,))


@pytest.fixture
def doorbell_registered() -> Iterator[None]:
    plugins.PLUGINS.append(TEST_PLUGIN)  # the one registry line
    yield
    plugins.PLUGINS.remove(TEST_PLUGIN)


async def test_a_plugin_registered_with_one_line_is_checked_served_and_counted(
    tmp_path: Path, influxdb: InfluxDB1, doorbell_registered: None
) -> None:
    path = tmp_path / "edumon.yaml"
    good = f"""
service: {{state_dir: {tmp_path / "state"}, http_listen: "127.0.0.1:0"}}
influxdb: {{url: {influxdb.url}}}
sites:
  - id: vsk-1
    name: School
    devices:
      - {{kind: doorbell, id: bell-1, room: hall}}
"""
    path.write_text(good + "      - {kind: doorbell, id: bell-2}\n")
    problems = check_config(path, PLUGINS)
    assert [(p.line, p.field) for p in problems] == [(9, "sites[0].devices[1].room")]
    path.write_text(good)
    assert check_config(path, PLUGINS) == []
    service = Service(load_config(path, PLUGINS), PLUGINS)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await service.started.wait()
    try:
        await asyncio.sleep(0.5)
        url = f"http://127.0.0.1:{service.health.port}"
        values, health = await asyncio.to_thread(read_service, url)
    finally:
        stop.set()
        await task
    assert health["components"]["doorbell"]["status"] == "ok"
    assert outcome(values, collector="doorbell", component="doorbell", outcome="accepted") == 7
