"""The alerting task inside the service: transitions become `alert` points, also the ones
that happen just before a shutdown, and the state file is written when it stops."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from pathlib import Path

from gateway.alerts.service import Alerting
from gateway.collector import device_tags
from gateway.config import load_config
from gateway.metrics import Metrics
from gateway.plugins import PLUGINS
from gateway.sample import Sample


async def test_a_transition_just_before_shutdown_is_still_written(tmp_path: Path) -> None:
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"service: {{state_dir: {tmp_path / 'state'}}}\n"
        "sites: [{id: vsk-1, name: Ventspils 1. pamatskola}]\n"
    )
    alerting = Alerting(load_config(path, PLUGINS, {}), Metrics(), device_tags(PLUGINS))
    written: list[Sample] = []

    async def emit(samples: Sequence[Sample], *, collector: str, durable: bool = False) -> None:
        written.extend(samples)

    task = asyncio.create_task(alerting.run(emit))
    await asyncio.sleep(0)
    tags = {"site": "vsk-1", "device": "vsk-1-core", "ifname": "Te1/0/1", "role": "uplink"}
    alerting.engine.observe([Sample("interface", tags, {"oper_up": False}, time.time_ns())])
    task.cancel()  # before the next evaluation tick
    await asyncio.gather(task, return_exceptions=True)

    (point,) = written
    assert point.measurement == "alert"
    assert point.tags == {
        "alertname": "UplinkDown",
        "severity": "page",
        "team": "network",
        "tier": "core",
        "site": "vsk-1",
        "device": "vsk-1-core",
    }
    assert point.fields["firing"] is True
    assert (
        point.fields["summary"] == "Uplink Te1/0/1 of vsk-1-core at Ventspils 1. pamatskola is down"
    )
    saved = json.loads((tmp_path / "state" / "alerts.json").read_text())
    assert [(i["rule"], i["state"]) for i in saved["instances"]] == [("UplinkDown", "firing")]
