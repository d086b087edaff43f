"""What the engine's mutation run found untested (survivors of gateway/alerts/engine.py): the
sweep period, evaluation counts, later rules of a measurement after an earlier one skips, the
transition's log line and times, a resolved alert that holds again, rules without `by`, exact
rates and the resolved alert's retention."""

from __future__ import annotations

import logging

import pytest

from gateway.alerts.bounds import InstanceBounds
from gateway.alerts.engine import RESOLVED_KEPT_S
from gateway.sample import Sample
from tests.unit.test_alert_engine import Harness, rule


@pytest.mark.parametrize(
    ("absent", "every_s"),
    [(None, 10.0), ("20s", 5.0), ("2s", 1.0), ("60s", 10.0)],
)
def test_the_sweep_runs_four_times_per_absence_window_between_1_and_10_s(
    absent: str | None, every_s: float
) -> None:
    spec = {"absent": absent} if absent else {"threshold": {"op": ">", "value": 1}}
    assert Harness(rule(**spec)).engine.sweep_every_s == every_s


def test_the_first_tick_sweeps_whatever_the_clock_reads() -> None:
    h = Harness(rule(absent="2s", by=["site"]))
    h.clock.now = -1.5  # an injected clock may start anywhere
    h.feed(1)
    h.clock.now = 0.5
    h.engine.tick()
    assert h.log == ["firing"]


def test_every_evaluated_sample_is_counted_per_rule() -> None:
    h = Harness(rule(threshold={"op": ">", "value": 90}), rule(name="Other", equals=False))
    for value in (1, 2, 3):
        h.feed(value)
    assert h.engine.evaluated == {"Test": 3, "Other": 3}
    assert h.engine.evaluations == 6


@pytest.mark.parametrize(
    "first",
    [
        rule(name="First", select={"measurement": "m", "field": "missing"}, equals=True),
        rule(name="First", threshold={"op": ">", "value": 90}),  # healthy, no history
        rule(name="First", threshold={"op": ">", "value": 90}, by=["site", "other"]),
    ],
)
def test_a_rule_that_passes_a_sample_over_leaves_it_to_the_next(first: object) -> None:
    h = Harness(first, rule(name="Second", equals=5))  # type: ignore[arg-type]
    h.feed(5)
    assert [(t.state, t.instance.rule) for t in h.transitions] == [("firing", "Second")]


def test_a_transition_is_logged_with_its_rule_state_and_labels(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = Harness(rule(equals=False, by=["site"]))
    with caplog.at_level(logging.INFO, logger="gateway.alerts.engine"):
        h.feed(False)
        h.feed(True, after=1)
    assert [r.getMessage() for r in caplog.records] == [
        "alert Test firing {'site': 'vsk-1'}",
        "alert Test resolved {'site': 'vsk-1'}",
    ]


def test_resolving_keeps_the_start_and_clears_the_clearing_time() -> None:
    h = Harness(rule(equals=False, by=["site"], keep_firing_for="1m"))
    h.feed(False)
    started = h.clock.now
    h.feed(True, after=10)
    [instance] = h.engine.firing()
    assert instance.cleared_at == h.clock.now
    h.wait(61)
    assert h.log == ["firing", "resolved"]
    assert h.transitions[-1].at == h.clock.now
    assert instance.cleared_at is None and instance.resolved_at == h.clock.now
    assert instance.active_since == started
    assert instance.active is False


def test_a_resolved_alert_that_holds_again_is_pending_then_fires() -> None:
    h = Harness(rule(threshold={"op": ">", "value": 90}, by=["site"], **{"for": "1m"}))
    h.feed(95)
    h.feed(95, after=61)
    h.feed(50, after=1)
    assert h.log == ["firing", "resolved"]
    h.feed(95, after=1)
    [instance] = h.engine.instances.values()
    assert instance.state == "pending" and instance.active_since == h.clock.now
    h.feed(95, after=61)
    assert h.log == ["firing", "resolved", "firing"]


def test_a_rule_without_by_labels_the_alert_with_every_tag() -> None:
    h = Harness(rule(equals=False))
    h.feed(False, device="env-1")
    assert h.transitions[0].instance.labels == {"site": "vsk-1", "device": "env-1"}


@pytest.mark.parametrize(
    ("spec", "value"), [({"threshold": {"op": ">", "value": 90}}, 95), ({"equals": 95}, 95)]
)
def test_a_threshold_or_equals_alert_carries_its_value(spec: dict[str, object], value: int) -> None:
    h = Harness(rule(**spec))
    h.feed(95)
    assert [i.value for i in h.engine.firing()] == [value]


def test_a_rate_is_computed_from_the_sample_times_exactly() -> None:
    h = Harness(rule(rate={"op": ">", "value": 0.05, "over": "10m"}))
    for minute in range(12):
        h.feed(6 * minute, after=60)
    [instance] = h.engine.firing()
    assert instance.value == 0.1  # 6 a minute, exactly: the sample times in s, not about


def test_a_resolved_alert_is_re_sent_for_15_minutes_then_forgotten() -> None:
    h = Harness(rule(equals=False, by=["site"]))
    h.feed(False)
    h.feed(True, after=1)
    h.wait(RESOLVED_KEPT_S)
    assert [i.state for i in h.engine.to_send()] == ["resolved"]
    h.wait(1)
    assert h.engine.to_send() == []
    h.engine.observe([Sample("m", {"site": "vsk-1"}, {"v": True}, 0)])
    assert h.log == ["firing", "resolved"]


def test_an_instance_whose_rule_left_the_file_is_dropped_at_the_sweep() -> None:
    h = Harness(rule(equals=False, by=["site"]), rule(name="Kept", equals=False, by=["site"]))
    h.feed(False)
    del h.engine.rules["Test"]
    h.wait(h.engine.sweep_every_s)
    assert [i.rule for i in h.engine.firing()] == ["Kept"]
    assert [key[0] for key in h.engine.instances] == ["Kept"]


def test_a_sample_no_rule_selects_is_passed_over() -> None:
    h = Harness(rule(equals=False))
    h.engine.observe([Sample("unwatched", {"site": "vsk-1"}, {"v": False}, 0)])
    assert h.engine.evaluations == 0 and h.engine.instances == {}


@pytest.mark.parametrize(("firing", "forgotten"), [(4, 2), (2, 1)])
def test_each_live_alert_of_a_rule_is_cleared_by_its_own_healthy_sample(
    firing: int, forgotten: int
) -> None:
    """A rule without history skips healthy samples only while none of its alerts is live:
    with some firing and some of them long resolved, the others still clear."""
    h = Harness(rule(equals=False, by=["site", "device"]))
    devices = [f"d{n}" for n in range(firing)]
    for device in devices:
        h.feed(False, device=device)
    h.clock.now += 1
    for device in devices[:forgotten]:
        h.feed(True, device=device)
    h.wait(RESOLVED_KEPT_S + 1)  # the resolved ones are forgotten
    assert sorted(i.labels["device"] for i in h.engine.firing()) == devices[forgotten:]
    for device in devices[forgotten:]:
        h.feed(True, device=device)
    assert h.log == ["firing"] * firing + ["resolved"] * firing


def test_forget_removes_the_instances_naming_the_values_with_their_counts() -> None:
    silent = rule(name="Silent", absent="10m", by=["site", "device"])
    h = Harness(silent, device_tags={"m": "device"})
    for device in ("a", "b", "c"):
        h.feed(1, device=device)
    h.wait(11 * 60)  # all three firing
    assert h.engine.forget(["device", "other"], {"a", "c"}) == 2
    assert [i.labels["device"] for i in h.engine.instances.values()] == ["b"]
    assert [i.labels["device"] for i in h.engine.to_send()] == ["b"]
    assert h.engine.bounds.sizes["Silent", "a"] == 0
    assert h.engine.bounds.sizes["Silent", "b"] == 1
    assert h.engine.forget(["device"], {"zzz"}) == 0


def test_trim_applies_a_smaller_bound_to_the_instances_as_they_are() -> None:
    silent = rule(name="Silent", absent="10m", by=["site", "device", "p"])
    h = Harness(silent, device_tags={"m": "device"})
    for port_ in range(5):
        h.feed(1, device="a", p=str(port_))
    smaller = InstanceBounds(10, 3, h.engine._device_of)
    assert h.engine.trim(smaller) == 2  # inactive ones go first; firing ones never
    assert len(h.engine.instances) == 3
    assert h.engine.trim() == 0
