"""`/status` agrees with itself: an exhibit whose Last Will said offline is not up because a
health message still came; a site is "down" only when its core switch or uplink is, and
"degraded" for an exhibit offline; `edumon status` writes the time in reports.timezone."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from gateway.alerts.engine import AlertEngine
from gateway.alerts.rules import load_rules
from gateway.collector import device_tags
from gateway.config import load_config
from gateway.plugins import PLUGINS
from gateway.sample import Sample
from gateway.status import StatusBoard
from gateway.status_view import render_status

CONFIG = """
reports: {timezone: Europe/Riga}
credentials: {snmp: {v2: {version: 2c, community_env: C}}}
sites:
  - id: vsk-1
    name: School 1
    devices:
      - {kind: switch, id: vsk-1-core, role: core, address: 127.0.0.2, credentials: v2}
  - id: vizium
    name: Science centre
    kind: science_centre
    devices:
      - {kind: exhibit, id: vortex, zone: water}
      - {kind: exhibit, id: lightning, zone: electricity}
"""


def board(tmp_path: Path) -> tuple[StatusBoard, AlertEngine]:
    path = tmp_path / "edumon.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    config = load_config(path, PLUGINS, {"C": "community"})
    engine = AlertEngine(load_rules())
    return StatusBoard(config, engine, lambda: {}, device_tags(PLUGINS)), engine


def exhibit(name: str, fields: dict[str, float | bool]) -> Sample:
    tags = {"site": "vizium", "exhibit": name, "zone": "water"}
    return Sample("exhibit", tags, fields, time.time_ns())


def feed(status: StatusBoard, engine: AlertEngine, *samples: Sample) -> None:
    engine.observe(samples)
    engine.tick()
    status.observe(samples)


def test_a_health_message_after_the_last_will_does_not_make_an_exhibit_up(
    tmp_path: Path,
) -> None:
    status, engine = board(tmp_path)
    for name in ("vortex", "lightning"):
        feed(status, engine, exhibit(name, {"up": True}), exhibit(name, {"up": True, "temp_c": 40}))
    assert [e["up"] for e in status.snapshot()["exhibits"]] == [True, True]
    feed(status, engine, exhibit("vortex", {"up": False}))  # the Last Will
    feed(status, engine, exhibit("vortex", {"up": True, "temp_c": 40}))  # a late health message
    snapshot = status.snapshot()
    assert {e["exhibit"]: e["up"] for e in snapshot["exhibits"]} == {
        "lightning": True,
        "vortex": False,
    }
    sites = {s["id"]: s["health"] for s in snapshot["sites"]}
    assert sites["vizium"] == "degraded"  # one exhibit offline is not the whole centre down
    text = render(snapshot)
    assert "all 2 up" not in text and "Exhibits OFFLINE (1 of 2): vortex" in text
    feed(status, engine, exhibit("vortex", {"up": True}))  # back: "online"
    assert all(e["up"] for e in status.snapshot()["exhibits"])


def test_a_site_is_down_when_its_core_switch_is(tmp_path: Path) -> None:
    status, engine = board(tmp_path)
    tags = {"site": "vsk-1", "device": "vsk-1-core", "role": "core"}
    feed(status, engine, Sample("device", tags, {"up": False, "poll_ms": 5.0}, time.time_ns()))
    assert {s["id"]: s["health"] for s in status.snapshot()["sites"]}["vsk-1"] == "down"


def test_the_time_is_in_the_configured_zone(tmp_path: Path) -> None:
    status, _ = board(tmp_path)
    snapshot = status.snapshot()
    assert snapshot["timezone"] == "Europe/Riga"
    snapshot["time"] = 1_796_000_000.0  # 2026-11-30 00:53:20 UTC
    assert "2026-11-30 02:53:20 EET" in render(snapshot)


def render(snapshot: dict[str, object]) -> str:
    console = Console(record=True, width=200)
    console.print(render_status(snapshot))
    return console.export_text()
