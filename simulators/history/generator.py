"""Generate a scenario's history through edumon's real collectors and intakes, on a simulated
clock, and write it to InfluxDB through gateway's line-protocol encoder and HTTP boundary.

Per tick, while edumon is "running" (not inside an edumon_down window):
- heartbeat: the `collector` sample edumon writes about itself (collector=edumon,
  target=writer), which the KPI report reads as edumon's coverage;
- SNMP: the real `SnmpPoller` polls the simulated core switches (`SnmpFleet` on loopback UDP,
  whose clock is the simulated one) every `snmp_step_s`;
- probes: `probe` samples per probe target and method (`burst_fields` of the probe collector),
  up unless the site's uplink is down;
- Wi-Fi access points and exhibits: the MQTT simulators' payloads (`SimDevice.payload`) through
  the real `TelemetryIntake`; device_offline sends the Last Will "offline" and then silence;
- classroom sensors: the LoRaWAN simulator's payloads and ChirpStack / TTS events through the
  real `LorawanIntake`, every `sensor_interval_s`, silent during sensor_silent;
- alerts: the real alert engine with the config's rules (the default pack unless
  `alerts.rules_file`) evaluates every sample on the simulated clock, as the service's does;
  its transitions are written as `alert` points. While edumon is down it evaluates nothing, and
  it restarts as the service does (series get a full absence window again).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from collectors.lorawan.config import LorawanSensor
from collectors.lorawan.plugin import lorawan_intake, stop_codec_workers
from collectors.mqtt.plugin import telemetry_intake
from collectors.probes.config import ProbeTarget
from collectors.probes.stats import burst_fields
from collectors.snmp.client import UdpSockets, V2cTransport
from collectors.snmp.config import Switch
from collectors.snmp.poller import SnmpPoller, SnmpTarget
from gateway.alerts.engine import AlertEngine
from gateway.alerts.rules import DEFAULT_RULES, load_rules
from gateway.alerts.service import alert_point
from gateway.collector import CollectorError, device_labels, device_tags
from gateway.config import EdumonConfig
from gateway.plugins import PLUGINS
from gateway.sample import FieldValue, Sample
from gateway.storage.influx_http import InfluxHttp, influx_target
from gateway.storage.lineprotocol import LineEncoder
from simulators.history.scenario import HistoryEvent, HistoryScenario
from simulators.lorawan.inventory import network_from_config
from simulators.lorawan.network_server import chirpstack_event, payload, topic_of, tts_event
from simulators.mqtt.devices import SimDevice
from simulators.mqtt.inventory import fleet_from_config
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.switch import ACCESS_PORTS, SimSwitch

Sink = Callable[[list[Sample]], Awaitable[None]]
COMMUNITY = b"history-sim"  # the simulated fleet's own, never a real one
PROBE_BURST = 5


class History:
    def __init__(self, config: EdumonConfig, scenario: HistoryScenario, sink: Sink) -> None:
        self.config = config
        self.scenario = scenario
        self.sink = sink
        self.now = float(scenario.first)
        self.written: Counter[str] = Counter()
        self.core = [
            (site.id, device) for site, device in config.devices_of(Switch) if device.role == "core"
        ]
        self.fleet = SnmpFleet(
            [(self._switch(d), "127.0.0.1", 0) for _, d in self.core],
            COMMUNITY,
            clock=lambda: self.now,
        )
        self.poller = SnmpPoller(clock=lambda: self.now)
        self.devices = fleet_from_config(config, scenario.step_s).devices
        self.telemetry = telemetry_intake(config)
        self.sensors = network_from_config(config).sensors
        self.lorawan = lorawan_intake(config)
        self.sensor_sites = {d.dev_eui: s.id for s, d in config.devices_of(LorawanSensor)}
        self.f_cnt: Counter[str] = Counter()
        site_names = {site.id: site.name for site in config.sites}
        tags = device_tags(PLUGINS)
        labels = device_labels(tags)
        self.alert_points: list[Sample] = []
        self.engine = AlertEngine(
            load_rules(config.alerts.rules_file or DEFAULT_RULES),
            clock=lambda: self.now,
            on_transition=lambda t: self.alert_points.append(
                alert_point(t, self.engine.rules, site_names, labels)
            ),
            device_tags=tags,
        )

    def _switch(self, device: Switch) -> SimSwitch:
        switch = SimSwitch(device.id, seed=1, uplinks=2, boot=self.now - 86400)
        if device.id in self.scenario.uplink_mbps:
            switch.set_uplink_speed(self.scenario.uplink_mbps[device.id] * 1e6)
        return switch

    async def run(self, on_tick: Callable[[], None] = lambda: None) -> Counter[str]:
        """Generate and hand every sample to the sink; the count per measurement. `on_tick`
        after each of the scenario's ticks (a progress bar)."""
        sockets = UdpSockets()
        try:
            await self.fleet.start()
            targets = [
                SnmpTarget(
                    site,
                    device.id,
                    "core",
                    V2cTransport(sockets, device.id, *self.fleet.addresses[device.id], COMMUNITY),
                    max_repetitions=50,
                )
                for site, device in self.core
            ]
            scenario = self.scenario
            was_running = True
            for t in range(scenario.first, scenario.last + 1, scenario.tick_s):
                self.now = float(t)
                self._transitions(t)
                running = scenario.edumon_running(t)
                if running:
                    if not was_running:  # edumon restarts with its saved alert state
                        self.engine.restart_grace(self.now)
                    await self._emit(self._alerting(await self._tick(t, targets)))
                was_running = running
                on_tick()
        finally:
            self.fleet.close()
            sockets.close()
            await stop_codec_workers(self.lorawan)
        return self.written

    def _transitions(self, t: int) -> None:
        """Links go down and come back exactly at the events' bounds (whether or not edumon
        is running then: the network does not wait for it)."""
        for event in self.scenario.events:
            if event.kind == "uplink_down" and t in event.seconds:
                for site, device in self.core:
                    if site == event.site:
                        for port in self.fleet[device.id].ports[ACCESS_PORTS:]:
                            self.fleet.flap(device.id, port, up=t == event.seconds[1])

    def _alerting(self, samples: list[Sample]) -> list[Sample]:
        """The real alert engine sees the samples as the pipeline would hand them over; its
        transitions become `alert` points, as in the service."""
        self.engine.observe(samples)
        self.engine.tick()
        points, self.alert_points = self.alert_points, []
        return samples + points

    async def _tick(self, t: int, targets: Sequence[SnmpTarget]) -> list[Sample]:
        s = self.scenario
        t_ns = t * 10**9
        out: list[Sample] = []
        if (t - s.first) % s.step_s == 0:
            heartbeat: dict[str, FieldValue] = {"errors": 0, "spool_points": 0}
            out.append(
                Sample("collector", {"collector": "edumon", "target": "writer"}, heartbeat, t_ns)
            )
            out += self._probes(t)
            out += self._telemetry(t)
        if (t - s.first) % s.snmp_step_s == 0:
            for target in targets:
                try:
                    out += await self.poller.poll(target)
                except CollectorError as error:
                    out += error.samples
        if (t - s.first) % s.sensor_interval_s == 0:
            out += await self._sensor_uplinks(t)
        return out

    def _down_sites(self, t: int) -> set[str | None]:
        return {e.site for e in self.scenario.active("uplink_down", t)}

    def _probes(self, t: int) -> list[Sample]:
        down = self._down_sites(t)
        out = []
        for site, target in self.config.devices("probe_target"):
            if not isinstance(target, ProbeTarget):
                continue
            answers = site.id not in down
            family = "ipv6" if ":" in target.address else "ipv4"
            for method in target.methods:
                rtts = [1.5 + 0.1 * i if answers else None for i in range(PROBE_BURST)]
                fields: dict[str, FieldValue] = {**burst_fields(rtts), "up": answers}
                fields["reachable"] = answers
                if method == "tcp":
                    fields["port_state"] = "open" if answers else "filtered"
                tags = {"site": site.id, "target": target.id, "method": method, "family": family}
                out.append(Sample("probe", tags, fields, t * 10**9))
        return out

    def _telemetry(self, t: int) -> list[Sample]:
        out = []
        tick = (t - self.scenario.first) // self.scenario.step_s
        for device in self.devices:
            offline = self._offline(device, t)
            if offline and offline.seconds[0] == t:
                out += self._status(device, "offline", t)
            if offline:
                continue
            if t == self.scenario.first or any(
                e.seconds[1] == t for e in self._offline_events(device)
            ):
                out += self._status(device, "online", t)
            body = json.dumps(device.payload(float(t), tick)).encode()
            out += self.telemetry.handle(device.data_topic, body, retained=False)
        return out

    def _offline_events(self, device: SimDevice) -> list[HistoryEvent]:
        return [
            e
            for e in self.scenario.events
            if e.kind == "device_offline" and (e.site, e.device) == (device.site, device.name)
        ]

    def _offline(self, device: SimDevice, t: int) -> HistoryEvent | None:
        return next((e for e in self._offline_events(device) if e.covers(t)), None)

    def _status(self, device: SimDevice, text: str, t: int) -> list[Sample]:
        """The intake stamps status messages with their arrival: here, the simulated now."""
        samples = self.telemetry.handle(device.status_topic, text.encode(), retained=True)
        return [replace(sample, time_ns=t * 10**9) for sample in samples]

    async def _sensor_uplinks(self, t: int) -> list[Sample]:
        out: list[Sample] = []
        silent = {(e.site, e.device) for e in self.scenario.active("sensor_silent", t)}
        stamp = datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")
        for sensor in self.sensors:
            if (self.sensor_sites.get(sensor.dev_eui), sensor.name) in silent:
                continue
            self.f_cnt[sensor.dev_eui] += 1
            f_cnt = self.f_cnt[sensor.dev_eui]
            f_port, data = payload(sensor, f_cnt, float(t))
            if sensor.server == "chirpstack":
                event = chirpstack_event(sensor, f_cnt, data, f_port, 1) | {"time": stamp}
            else:
                event = tts_event(sensor, f_cnt, data, f_port, 1) | {"received_at": stamp}
            out += await self.lorawan.handle(topic_of(sensor), json.dumps(event).encode())
        return out

    async def _emit(self, samples: list[Sample]) -> None:
        self.written.update(s.measurement for s in samples)
        await self.sink(samples)


async def write_history(
    config: EdumonConfig,
    scenario: HistoryScenario,
    on_tick: Callable[[], None] = lambda: None,
) -> Counter[str]:
    """Generate the scenario into the config's database; the count per measurement."""
    http = InfluxHttp(influx_target(config.influxdb))
    try:
        sink = InfluxSink(http)
        written = await History(config, scenario, sink).run(on_tick)
        await sink.flush()
    finally:
        await http.close()
    return written


class InfluxSink:
    """Batches samples into line protocol and posts them (the gateway's encoder and HTTP)."""

    def __init__(self, http: InfluxHttp, batch_lines: int = 20_000) -> None:
        self.http = http
        self.encoder = LineEncoder()
        self.batch_lines = batch_lines
        self.pending: list[Sample] = []

    async def __call__(self, samples: list[Sample]) -> None:
        self.pending += samples
        if len(self.pending) >= self.batch_lines:
            await self.flush()

    async def flush(self) -> None:
        payload, _count, rejected = self.encoder.encode_batch(self.pending)
        self.pending = []
        if rejected:
            raise ValueError(f"history sample not encodable: {rejected[0][1]}")
        if payload:
            response = await self.http.post(payload, gzipped=False)
            if not 200 <= response.status < 300:
                raise RuntimeError(f"InfluxDB refused history: {response.status} {response.body}")
