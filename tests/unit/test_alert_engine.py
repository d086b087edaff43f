"""The alert state machine on a fake clock: for, keep_firing_for, hysteresis, rate, absence,
events, and state that survives a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.alerts import state
from gateway.alerts.engine import AlertEngine, Transition
from gateway.alerts.rules import Rule, load_rules
from gateway.sample import FieldValue, Sample


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def rule(**spec: object) -> Rule:
    base: dict[str, object] = {
        "name": "Test",
        "select": {"measurement": "m", "field": "v"},
        "severity": "page",
        "team": "network",
        "summary": "{site_name}: {value:.0f}",
    }
    return Rule.model_validate({**base, **spec})


class Harness:
    def __init__(self, *rules: Rule, **engine_options: Any) -> None:
        self.clock = Clock()
        self.transitions: list[Transition] = []
        self.engine = AlertEngine(
            rules, clock=self.clock, on_transition=self.transitions.append, **engine_options
        )

    def feed(
        self, value: FieldValue, *, site: str = "vsk-1", after: float = 0.0, **tags: str
    ) -> None:
        self.clock.now += after
        fields = {"v": value}
        at = int(self.clock.now * 1e9)
        self.engine.observe([Sample("m", {"site": site, **tags}, fields, at)])

    def wait(self, seconds: float) -> None:
        self.clock.now += seconds
        self.engine.tick()

    @property
    def log(self) -> list[str]:
        return [t.state for t in self.transitions]


def test_for_delays_firing_and_a_short_blip_never_fires() -> None:
    h = Harness(rule(threshold={"op": ">", "value": 90}, **{"for": "5m"}))
    h.feed(95)
    h.wait(240)
    h.feed(50)  # back to normal before 5 minutes: pending -> inactive, no alert
    h.wait(600)
    assert h.log == []
    h.feed(95)
    h.wait(299)
    assert h.log == []
    h.wait(1)
    assert h.log == ["firing"]


def test_hysteresis_keeps_a_dithering_value_one_alert() -> None:
    h = Harness(rule(threshold={"op": ">", "value": 90, "clear": 80}))
    for value in (91, 89, 91, 85, 92, 81):
        h.feed(value, after=60)
    assert h.log == ["firing"]
    h.feed(79, after=60)
    assert h.log == ["firing", "resolved"]


def test_a_pending_alert_must_stay_past_the_threshold_not_just_the_clear_level() -> None:
    """Hysteresis keeps a *firing* alert firing; while pending, `for` counts from the
    threshold, so one spike followed by values between clear and threshold never fires."""
    h = Harness(rule(threshold={"op": ">", "value": 85, "clear": 70}, **{"for": "15m"}))
    h.feed(90)
    for _ in range(30):
        h.feed(80, after=60)  # above clear, below the threshold
    assert h.log == []
    h.feed(90, after=60)
    h.feed(90, after=15 * 60)
    assert h.log == ["firing"]
    h.feed(80, after=60)  # firing: stays until below clear
    assert h.log == ["firing"]


def test_keep_firing_for_makes_a_flapping_link_one_alert() -> None:
    h = Harness(rule(equals=False, keep_firing_for="5m"))
    for _ in range(10):  # down 30 s, up 30 s, for 10 minutes
        h.feed(False, after=30)
        h.wait(1)
        h.feed(True, after=29)
        h.wait(1)
    assert h.log == ["firing"]
    h.wait(297)  # 298 s since the link came back
    assert h.log == ["firing"]
    h.wait(2)
    assert h.log == ["firing", "resolved"]
    assert h.transitions[0].instance.active_since == h.transitions[0].at  # startsAt: first flap


def test_rate_of_a_counter_ignores_resets() -> None:
    h = Harness(rule(rate={"op": ">", "value": 0.05, "over": "10m"}))
    for minute in range(11):  # 2 errors a minute: 0.033/s, below 0.05
        h.feed(2 * minute, after=60)
    assert h.log == []
    h.feed(5, after=60)  # the exhibit restarted: its counter starts again, no alert
    assert h.log == []
    for minute in range(1, 12):  # 6 a minute: 0.1/s
        h.feed(5 + 6 * minute, after=60)
    assert h.log == ["firing"]
    assert h.engine.firing()[0].value == pytest.approx(0.1)


def test_absence_fires_after_silence_and_resolves_on_the_next_sample() -> None:
    h = Harness(rule(absent="30m", by=["site", "device"]))
    h.feed(1, device="env-101")
    h.feed(1, device="env-201")
    for _ in range(29):
        h.wait(60)
        h.feed(1, device="env-201")
    h.wait(61)
    assert h.log == ["firing"]
    assert h.transitions[0].instance.labels == {"site": "vsk-1", "device": "env-101"}
    h.feed(1, device="env-101")
    h.wait(1)
    assert h.log == ["firing", "resolved"]


def test_an_event_fires_at_once_and_resolves_after_keep_firing_for() -> None:
    h = Harness(rule(equals=True, event=True, keep_firing_for="15m"))
    h.feed(True)
    assert h.log == ["firing"]
    h.wait(600)
    h.feed(True)  # another reboot restarts the 15 minutes
    h.wait(899)
    assert h.log == ["firing"]
    h.wait(2)
    assert h.log == ["firing", "resolved"]


def test_by_names_the_instance_so_per_band_samples_clear_the_status_alert() -> None:
    h = Harness(rule(equals=False, by=["site", "ap"]))
    h.feed(False, ap="ap-101")  # Last Will: no band tag
    assert h.log == ["firing"]
    h.feed(True, ap="ap-101", band="5GHz")
    assert h.log == ["firing", "resolved"]


def test_selector_tags_and_several_fields_take_the_largest() -> None:
    r = rule(
        select={"measurement": "m", "field": ["a", "b"], "tags": {"role": "uplink"}},
        threshold={"op": ">", "value": 90},
    )
    h = Harness(r)
    at = int(h.clock.now * 1e9)
    h.engine.observe([Sample("m", {"role": "access"}, {"a": 99}, at)])
    h.engine.observe([Sample("m", {"role": "uplink"}, {"a": 10, "b": 50}, at)])
    assert h.log == []
    h.engine.observe([Sample("m", {"role": "uplink"}, {"a": 10, "b": 95}, at)])
    assert h.log == ["firing"]
    assert h.engine.firing()[0].value == 95


def test_state_survives_a_restart_without_a_new_alert(tmp_path: Path) -> None:
    rules = (rule(equals=False, name="Down"), rule(absent="30m", name="Silent"))
    h = Harness(*rules)
    h.feed(False, device="core")
    h.wait(1)
    started = h.transitions[0].instance.active_since
    path = tmp_path / "alerts.json"
    state.save(h.engine, path)

    again = Harness(*rules)
    again.clock.now = h.clock.now + 3600  # edumon was down an hour
    assert state.load(again.engine, path, again.clock.now) == 1
    again.wait(1)
    assert again.log == []  # nothing re-fires, and silence while edumon was down is no alert
    (firing,) = again.engine.firing()
    assert firing.rule == "Down" and firing.active_since == started
    again.feed(True, device="core")
    assert again.log == ["resolved"]


def test_a_damaged_state_file_is_a_fresh_start(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    path.write_text('{"version": 1, "instances": [{"rule": "Down"}]}')
    h = Harness(rule(equals=False, name="Down"))
    assert state.load(h.engine, path, h.clock.now) == 0
    assert h.engine.instances == {}


def test_the_default_pack_loads_and_every_rule_names_a_schema_measurement() -> None:
    known = {"device", "interface", "optics", "probe", "wifi_ap", "exhibit", "environment",
             "lorawan", "collector", "poe", "port_feed"}  # fmt: skip
    rules = load_rules()
    assert {r.select.measurement for r in rules} <= known
    assert all(r.summary for r in rules)


def test_where_leaves_out_a_port_shut_down_on_purpose_and_clears_a_firing_one() -> None:
    """UplinkDown's `where: {admin_up: true}`: an admin-down port never pages; shutting down
    a port that already pages resolves it; a trap's sample (no admin_up) still counts."""
    h = Harness(
        rule(select={"measurement": "m", "field": "v", "where": {"admin_up": True}}, equals=False)
    )
    at = int(h.clock.now * 1e9)
    h.engine.observe([Sample("m", {"site": "s"}, {"v": False, "admin_up": False}, at)])
    h.wait(60)
    assert h.log == []
    h.feed(False)  # from a linkDown trap: no admin status in the sample
    assert h.log == ["firing"]
    h.engine.observe([Sample("m", {"site": "vsk-1"}, {"v": False, "admin_up": False}, at)])
    h.wait(1)
    assert h.log == ["firing", "resolved"]


def test_healthy_series_of_a_rule_without_history_cost_no_instance() -> None:
    """A city's 100,000 healthy ports: InterfaceErrors keeps an instance only for the ports in
    trouble, and drops it once the alert is over; rules that need a quiet series' history
    (absence, rate) keep one per series, bounded per device, not per rule."""
    errors = rule(
        name="Errors", threshold={"op": ">", "value": 1, "clear": 0.1}, by=["site", "d", "p"]
    )
    silent = rule(name="Silent", absent="10m", by=["site", "d", "p"])
    h = Harness(errors, silent, device_tags={"m": "d"})
    for switch in range(2_000):
        for port in range(50):
            h.feed(0.0, d=f"sw{switch}", p=str(port))
    assert {key[0] for key in h.engine.instances} == {"Silent"}
    assert len(h.engine.instances) == 100_000 and h.engine.bounds.totals() == {}
    h.feed(5.0, d="sw7", p="7")
    assert [t.instance.labels for t in h.transitions] == [{"site": "vsk-1", "d": "sw7", "p": "7"}]
    assert h.engine.firing()[0].rule == "Errors"
    h.feed(0.0, d="sw7", p="7", after=60)
    assert h.log == ["firing", "resolved"]
    h.wait(16 * 60)  # resolved alerts are re-sent for 15 minutes, then forgotten
    assert ("Errors", ("vsk-1", "sw7", "7")) not in h.engine.instances
    assert h.engine.bounds.sizes["Errors", "sw7"] == 0


def test_one_device_inventing_label_values_is_held_to_its_own_bound() -> None:
    silent = rule(name="Silent", absent="10m", by=["site", "d", "p"])
    h = Harness(silent, device_tags={"m": "d"}, max_instances_per_device=100)
    for port in range(50):
        h.feed(1.0, d="quiet", p=str(port))
    for n in range(5_000):
        h.feed(1.0, d="noisy", p=f"x{n}")
    devices = [key[1][1] for key in h.engine.instances]
    assert devices.count("quiet") == 50 and devices.count("noisy") <= 100
    assert h.engine.bounds.evicted["Silent"] == 5_000 - devices.count("noisy")
