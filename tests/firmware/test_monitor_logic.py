"""The monitor's logic with fakes at the device boundary and a fake clock: offline buffer,
reconnect backoff, outages of the broker and of Wi-Fi, watchdog, the MQTT contract."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import exhibit_monitor
import pytest
import scenario
from exhibit_monitor import Monitor, build_monitor, health_payload
from fakes import FakeBroker, FakeClient, FakeClock, FakeSensors, FakeWDT, FakeWLAN
from offline_buffer import OfflineBuffer
from reconnect_backoff import Backoff

from collectors.mqtt.telemetry import Placement, TelemetryIntake
from gateway.deadletter import DeadLetterFile

HEALTH = b"edumon/sc1/exhibit/ex1/health"
STATUS = b"edumon/sc1/exhibit/ex1/status"


class Rig:
    """A monitor on fakes; `run(seconds)` steps once per fake second."""

    def __init__(self, capacity: int = 50, wifi_up: bool = True, **kwargs: Any) -> None:
        self.broker = FakeBroker()
        self.clock = FakeClock()
        self.wlan = FakeWLAN(wifi_up)
        self.wdt = FakeWDT()
        self.log: list[str] = []
        self.factory_calls = 0
        self.monitor = Monitor(
            "sc1",
            "ex1",
            self.wlan,
            self._factory,
            self.wdt,
            self.clock,
            FakeSensors(),
            ssid="ssid",
            wifi_password="pw",
            health_interval_s=10,
            buffer=OfflineBuffer(capacity),
            mqtt_backoff=Backoff(1, 8),
            log=self.log.append,
            **kwargs,
        )
        self.states: list[str] = []

    def _factory(self) -> FakeClient:
        self.factory_calls += 1
        return self.broker.client()

    def run(self, seconds: int) -> None:
        for _ in range(seconds):
            self.states.append(self.monitor.step())
            self.clock.advance(1)

    def health(self) -> list[dict[str, Any]]:
        return [json.loads(p) for p in self.broker.health()]

    def health_times(self) -> list[float]:
        return [h["ts"] - self.clock.unix_start for h in self.health()]


def test_offline_buffer_is_bounded_drops_oldest_and_counts() -> None:
    buffer = OfflineBuffer(3)
    assert [buffer.push(i) for i in range(5)] == [False, False, False, True, True]
    assert (buffer.items(), buffer.dropped, len(buffer)) == ([2, 3, 4], 2, 3)
    assert buffer.peek() == 2 and len(buffer) == 3
    assert [buffer.pop(), buffer.pop(), buffer.pop()] == [2, 3, 4]
    with pytest.raises(IndexError):
        buffer.peek()
    with pytest.raises(ValueError):
        OfflineBuffer(0)


def test_backoff_doubles_to_the_cap_and_resets_after_success() -> None:
    backoff = Backoff(1, 30)
    assert backoff.ready(0)
    assert [backoff.failed(0) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert not backoff.ready(29.99) and backoff.ready(30)
    backoff.succeeded()
    assert backoff.ready(0) and backoff.failed(5) == 1 and backoff.next_attempt == 6


def test_backoff_applies_jitter_and_rejects_bad_settings() -> None:
    backoff = Backoff(2, 10, jitter=lambda delay: delay * 0.5)
    assert [backoff.failed(0) for _ in range(4)] == [1, 2, 4, 5]
    with pytest.raises(ValueError):
        Backoff(5, 1)


def test_connect_sets_the_retained_offline_will_then_says_online() -> None:
    rig = Rig()
    rig.run(1)
    assert rig.states == ["online"]
    (client,) = rig.broker.clients
    assert client.will == (STATUS, b"offline", True, 1)
    assert rig.broker.messages[0] == (STATUS, b"online", True, 1)
    assert rig.broker.messages[1][0] == HEALTH and rig.broker.messages[1][2:] == (False, 1)


def test_health_follows_the_collector_contract(tmp_path: Path) -> None:
    rig = Rig()
    rig.run(11)
    intake = TelemetryIntake(
        {}, {("sc1", "ex1"): Placement("sc1", "hall")}, DeadLetterFile(tmp_path / "d")
    )
    samples = [s for t, p, _, _ in rig.broker.messages for s in intake.handle(t.decode(), p, False)]
    assert intake.counts == {"ok": 3}
    health = [s for s in samples if "interactions" in s.fields]
    assert [s.time_ns for s in health] == [1763366400 * 10**9, 1763366410 * 10**9]
    assert health[0].fields == {
        "up": True,
        "interactions": 1,
        "errors": 0,
        "temp_c": 41.5,
        "cpu_pct": 12.2,
        "fw": exhibit_monitor.FW_VERSION,
    }


def test_no_ts_before_the_clock_is_set() -> None:
    reading = {"interactions": 1, "errors": 0, "temp_c": 20, "cpu_pct": 1}
    assert "ts" not in json.loads(health_payload(946684800 + 5, reading, "1.0.0"))


def test_messages_from_a_broker_outage_are_replayed_in_order_before_new_ones() -> None:
    rig = Rig()
    rig.run(20)
    rig.broker.crash()
    rig.run(30)  # t=20..49: health at 20, 30, 40 buffered
    assert len(rig.monitor.buffer) == 3 and rig.health_times() == [0, 10]
    rig.broker.up = True
    rig.run(30)  # the backoff's next attempt is at t=51, so t=50 is buffered too
    assert rig.health_times() == [0, 10, 20, 30, 40, 50, 60, 70]
    assert rig.monitor.stats["replayed"] == 4 and len(rig.monitor.buffer) == 0
    # the reconnect re-announced itself and the retained status is online again
    assert rig.broker.retained[STATUS] == b"online"


def test_reconnect_attempts_back_off_exponentially_during_an_outage() -> None:
    rig = Rig()
    rig.run(1)
    rig.broker.crash()
    rig.run(40)
    # lost at t=1 (check_msg), then attempts at 2, 3, 5, 9, 17, 25, 33, 41 (cap 8 s)
    assert rig.factory_calls == 1 + 7
    rig.broker.up = True
    rig.run(1)
    assert rig.states[-1] == "online" and rig.monitor.mqtt_backoff.failures == 0


def test_a_long_outage_drops_the_oldest_and_counts_them() -> None:
    rig = Rig(capacity=3)
    rig.broker.up = False
    rig.run(60)  # health at 0..50: six messages, room for three
    assert rig.monitor.buffer.dropped == 3
    assert [json.loads(p)["ts"] - 1763366400 for _, p in rig.monitor.buffer.items()] == [30, 40, 50]
    rig.broker.up = True
    rig.run(10)  # t=60 is still buffered (next attempt at t=63) and pushes out t=30
    assert rig.health_times() == [40, 50, 60]
    assert rig.monitor.buffer.dropped == 4


def test_a_failure_during_replay_keeps_the_rest_in_order() -> None:
    rig = Rig(replay_batch=1)
    rig.broker.up = False
    rig.run(40)
    rig.broker.up = True
    rig.run(10)  # reconnects at t=40 and replays one buffered message per step
    rig.broker.crash()
    rig.run(20)
    rig.broker.up = True
    rig.run(20)
    times = rig.health_times()
    assert times == sorted(times) and len(times) == len(set(times))
    assert times == list(range(0, 90, 10))


def test_watchdog_is_fed_on_every_step_and_per_replayed_message() -> None:
    rig = Rig()
    rig.broker.up = False
    rig.run(30)
    assert rig.wdt.feeds == 30
    rig.broker.up = True
    rig.run(10)  # reconnects at t=31 and replays t=0, 10, 20, 30
    assert rig.monitor.stats["replayed"] == 4
    assert rig.wdt.feeds == 40 + 4


def test_wifi_loss_drops_mqtt_fires_the_will_and_reconnects_with_backoff() -> None:
    rig = Rig(wifi_up=False)
    rig.run(2)  # joining takes until the next step, as on a device
    assert rig.states == ["wifi_down", "online"] and rig.wlan.connect_calls == 1
    rig.wlan.up = rig.wlan.reachable = False
    rig.run(10)
    assert rig.broker.retained[STATUS] == b"offline"  # the socket was closed, no DISCONNECT
    assert set(rig.states[2:]) == {"wifi_down"}
    assert rig.wlan.connect_calls == 1 + 4  # t=2, 3, 5, 9
    rig.wlan.reachable = True
    rig.run(10)  # next attempt at t=17
    assert rig.states[-1] == "online" and rig.broker.retained[STATUS] == b"online"
    assert rig.health_times() == [0, 10, 20]
    assert rig.monitor.stats["wifi_connects"] == 2


def test_keepalive_pings_when_idle_and_close_says_offline() -> None:
    rig = Rig(keepalive_s=4)
    rig.run(9)
    assert rig.broker.pings == 4  # every 2 s of silence: t=2, 4, 6, 8
    rig.monitor.close()
    assert rig.broker.retained[STATUS] == b"offline" and rig.monitor.client is None


def test_build_monitor_wires_a_config_module() -> None:
    config = SimpleNamespace(
        SITE="sc1",
        EXHIBIT="ex1",
        WIFI_SSID="s",
        WIFI_PASSWORD="p",
        MQTT_HOST="h",
        MQTT_PORT=1884,
        MQTT_USER="u",
        MQTT_PASSWORD="pw",
        OFFLINE_BUFFER=7,
    )
    made: list[tuple[Any, ...]] = []

    def client_class(*args: Any, **kwargs: Any) -> FakeClient:
        made.append((args, kwargs))
        return FakeBroker().client()

    monitor = build_monitor(
        config, FakeWLAN(True), client_class, FakeWDT(), FakeClock(), FakeSensors()
    )
    monitor.log = lambda message: None
    assert monitor.step() == "online"
    assert made == [
        (("edumon-sc1-ex1", "h"), {"port": 1884, "keepalive": 60, "user": "u", "password": "pw"})
    ]
    assert monitor.buffer.capacity == 7 and monitor.status_topic == STATUS


def test_the_shared_scenario_holds_under_cpython() -> None:
    result = scenario.run([])
    monitor = result["monitor"]
    assert monitor["health_ts"] == list(range(0, 120, 10))
    assert monitor["status"] == ["online", "online", "offline", "online"]
    assert monitor["buffered_now"] == 0 and monitor["dropped"] == 0
