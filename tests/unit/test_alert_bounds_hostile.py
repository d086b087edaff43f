"""Alert instances are bounded per rule: inactive and resolved ones are evicted first, firing
ones never, evictions and refusals are counted, and the state file stays bounded."""

from __future__ import annotations

from pathlib import Path

from gateway.alerts import state
from gateway.alerts.bounds import InstanceBounds
from gateway.alerts.engine import Instance, InstanceKey
from tests.unit.test_alert_engine import Harness, rule


def add(
    instances: dict[InstanceKey, Instance], bounds: InstanceBounds, name: str, n: int, kind: str
) -> bool:
    if not bounds.admit(instances, "Down"):
        return False
    instance = Instance("Down", {"band": name}, state=kind)  # type: ignore[arg-type]
    instance.last_seen = float(n)
    instances["Down", (name,)] = instance
    return True


def test_a_flood_of_new_series_evicts_inactive_first_and_never_firing() -> None:
    bounds = InstanceBounds(max_per_rule=100)
    instances: dict[InstanceKey, Instance] = {}
    for n in range(10):
        add(instances, bounds, f"firing-{n}", n, "firing")
    for n in range(20):
        add(instances, bounds, f"resolved-{n}", n, "resolved")
    for n in range(40_000):
        add(instances, bounds, f"flood-{n}", 100 + n, "inactive")
    assert len(instances) <= 100
    names = {i.labels["band"] for i in instances.values()}
    assert {f"firing-{n}" for n in range(10)} <= names
    assert {f"resolved-{n}" for n in range(20)} <= names  # only inactive ones had to go
    assert "flood-39999" in names and "flood-0" not in names  # the least recently seen went
    assert bounds.evicted["Down"] == 10 + 20 + 40_000 - len(instances)
    assert bounds.refused["Down"] == 0


def test_when_all_are_firing_a_new_series_is_refused_and_counted() -> None:
    bounds = InstanceBounds(max_per_rule=10)
    instances: dict[InstanceKey, Instance] = {}
    assert all(add(instances, bounds, f"f{n}", n, "firing") for n in range(10))
    assert not any(add(instances, bounds, f"new{n}", n, "inactive") for n in range(500))
    assert len(instances) == 10 and bounds.refused["Down"] == 500
    assert bounds.totals() == {("refused", "Down"): 500}


def test_an_oversized_state_file_is_trimmed_when_loaded(tmp_path: Path) -> None:
    h = Harness(rule(equals=False, name="Down", by=["site", "band"]))
    for n in range(300):
        h.feed(False, band=f"b{n}")  # 300 firing instances
    path = tmp_path / "alerts.json"
    state.save(h.engine, path)
    again = Harness(rule(equals=False, name="Down", by=["site", "band"]))
    bounds = InstanceBounds(max_per_rule=50)
    # firing ones are never evicted: the file is trimmed only of what may go
    assert state.load(again.engine, path, again.clock.now, bounds) == 300
    for instance in list(again.engine.instances.values())[:280]:
        instance.state = "resolved"
    bounds.trim(again.engine.instances)
    assert len(again.engine.instances) == 50
    state.save(again.engine, path)
    assert path.stat().st_size < 50 * 400


def test_trimming_restored_instances_keeps_the_engines_live_set_true() -> None:
    """Only the engine removes its instances: trimmed resolved alerts are no longer sent."""
    h = Harness(rule(equals=False, name="Down", by=["site", "band"]))
    for n in range(30):
        instance = Instance("Down", {"site": "s", "band": f"b{n}"}, state="resolved")
        instance.last_seen, instance.resolved_at = float(n), h.clock.now
        h.engine.restore(("Down", ("s", f"b{n}")), instance)
    assert len(h.engine.to_send()) == 30
    assert h.engine.trim(InstanceBounds(max_per_rule=10)) == 20
    assert len(h.engine.instances) == len(h.engine.to_send()) == 10
    assert h.engine._live_per_rule["Down"] == len(h.engine._live) == 10  # counted as live
