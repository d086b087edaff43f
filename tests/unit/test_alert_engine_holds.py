"""Holds on a fake clock: while an intake is down, the rules over its measurements neither count
absence nor fire (the outage is the intake's own alert, not one per device behind it); once it
is back, each series gets a full window before it can fire."""

from __future__ import annotations

from gateway.sample import Sample
from tests.unit.test_alert_engine import Harness, rule

SILENT = rule(name="Silent", absent="30m", by=["site", "device"])


def silent_after_a_sample(**engine_options: object) -> Harness:
    h = Harness(SILENT, **engine_options)
    h.feed(1, device="env-101")
    return h


def test_absence_fires_without_a_hold() -> None:
    """The control for the tests below: the same silence without a hold fires."""
    h = silent_after_a_sample()
    for _ in range(31):
        h.wait(60)
    assert h.log == ["firing"]


def test_absence_is_held_while_the_intake_is_down() -> None:
    h = silent_after_a_sample()
    h.engine.hold("mqtt", ["m"])
    for _ in range(180):  # three hours down, a tick a minute
        h.wait(60)
    assert h.engine.held("m")
    assert h.log == []
    assert h.engine.firing() == []


def test_after_the_release_each_series_gets_a_full_window() -> None:
    h = silent_after_a_sample()
    h.engine.hold("mqtt", ["m"])
    h.wait(3600)
    h.engine.release("mqtt", until=h.clock.now + 120)  # back, held 2 more minutes
    h.wait(60)  # the last tick that sees the hold: the window counts from here
    assert h.engine.held("m")
    h.wait(60)
    assert not h.engine.held("m")
    h.wait(30 * 60 - 61)
    assert h.log == []
    h.wait(h.engine.sweep_every_s)  # absence of a quiet series is decided at the next sweep
    assert h.log == ["firing"]


def test_a_sample_during_the_hold_is_not_needed_and_a_hold_covers_only_its_measurements() -> None:
    other = rule(
        name="OtherSilent",
        select={"measurement": "n", "field": "v"},
        absent="30m",
        by=["site", "device"],
    )
    h = Harness(SILENT, other)
    h.feed(1, device="env-101")
    h.engine.observe([Sample("n", {"site": "vsk-1", "device": "p-1"}, {"v": 1}, 0)])
    h.engine.hold("mqtt", ["m"])
    h.wait(31 * 60)
    assert [(t.state, t.instance.rule) for t in h.transitions] == [("firing", "OtherSilent")]


def test_a_threshold_held_while_pending_counts_for_from_the_end_of_the_hold() -> None:
    hot = rule(name="Hot", threshold={"op": ">", "value": 90}, **{"for": "5m"})
    h = Harness(hot)
    h.feed(95)
    h.engine.hold("mqtt", ["m"])
    for _ in range(10):
        h.wait(60)
        h.feed(95)  # a stale reading replayed by the intake on its way down
    assert h.log == []
    h.engine.release("mqtt", until=h.clock.now)
    h.wait(1)
    for _ in range(4):
        h.feed(95, after=60)
    assert h.log == []
    h.feed(95, after=61)
    assert h.log == ["firing"]


def test_two_intakes_down_hold_until_the_last_is_released() -> None:
    h = silent_after_a_sample()
    h.engine.hold("mqtt", ["m"])
    h.engine.hold("lorawan", ["m"])
    h.engine.release("mqtt", until=h.clock.now)
    h.wait(2 * 3600)
    assert h.engine.held("m")
    assert h.log == []


def device_harness() -> Harness:
    """Silence of two devices, the engine told that `device` names the device of `m`."""
    h = Harness(SILENT, device_tags={"m": "device"})
    h.feed(1, device="env-101")
    h.feed(1, device="env-102")
    return h


def test_a_held_device_neither_fires_nor_counts_absence_while_others_do() -> None:
    h = device_harness()
    h.engine.hold_device("env-101")
    h.wait(31 * 60)
    assert [t.instance.labels["device"] for t in h.transitions] == ["env-102"]
    assert h.engine.held_devices() == {"env-101": None}


def test_a_released_device_gets_a_full_window_from_its_release() -> None:
    h = device_harness()
    h.engine.hold_device("env-101")
    h.wait(3600)  # the last tick that sees the hold: the window counts from here
    h.engine.release_device("env-101", until=h.clock.now + 60)
    assert h.engine.held_devices() == {"env-101": h.clock.now + 60}
    h.wait(60)  # the hold ends at this tick: pruned before the instances are visited
    assert h.engine.held_devices() == {}
    h.wait(30 * 60 - 61)
    assert [t.instance.labels["device"] for t in h.transitions] == ["env-102"]
    h.wait(h.engine.sweep_every_s)
    assert [t.instance.labels["device"] for t in h.transitions] == ["env-102", "env-101"]


def test_releasing_a_device_now_resumes_it_at_once() -> None:
    h = device_harness()
    h.engine.hold_device("env-101")
    h.engine.release_device("env-101", until=h.clock.now)
    assert h.engine.held_devices() == {}
    h.engine.release_device("env-999", until=h.clock.now)  # never held: nothing to do
    assert h.engine.held_devices() == {}


def test_a_pending_alert_of_a_held_device_waits_for_the_release() -> None:
    hot = rule(name="Hot", threshold={"op": ">", "value": 90}, by=["site", "device"])
    h = Harness(hot.model_copy(update={"for_": 300.0}), device_tags={"m": "device"})
    h.engine.hold_device("env-101")
    h.feed(95, device="env-101")
    h.feed(95, device="env-102")
    for _ in range(10):
        h.feed(95, after=60, device="env-101")
        h.feed(95, device="env-102")
    assert [t.instance.labels["device"] for t in h.transitions] == ["env-102"]
