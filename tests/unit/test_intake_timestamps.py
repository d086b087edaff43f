"""Every intake holds a device's time to `service.timestamps` and dead-letters the raw message
when it is out of the window (a telemetry `ts` of 1e10 s used to pass to the line-protocol
encoder, whose dead letter held the sample's repr)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from collectors.lorawan.intake import LorawanIntake
from collectors.mqtt.telemetry import Placement, TelemetryIntake
from collectors.mqtt_json.config import MappingSpec
from collectors.mqtt_json.intake import JsonIntake
from collectors.mqtt_json.mapping import CompiledMapping
from gateway.collector import BadInput
from gateway.deadletter import DeadLetterFile
from gateway.intake_refusals import TimestampWindow
from tests.unit.test_lorawan_uplinks import CHIRPSTACK_UP, CS_TOPIC, INVENTORY

WINDOW = TimestampWindow(past_s=3600, future_s=60)
NOW = 1_796_465_752.0  # the clock the window is given (2026-12-05): parameters fixed at collection


@pytest.mark.parametrize(
    ("seconds", "refused"),
    [(NOW, False), (NOW + 50, False), (NOW - 3500, False), (NOW + 120, True),
     (NOW - 7200, True), (1e10, True), (1e300, True), (10**400, True), (12, True)],
)  # fmt: skip
def test_the_window_around_now(seconds: float, refused: bool) -> None:
    if refused:
        with pytest.raises(BadInput, match=r"implausible_time: .* edumon's clock") as caught:
            WINDOW.seconds_ns(seconds, now=lambda: NOW)
        assert caught.value.kind == "implausible_time"
    else:
        assert WINDOW.seconds_ns(seconds, now=lambda: NOW) == int(seconds * 1e9)


def only_letter(dead_letters: DeadLetterFile) -> dict[str, object]:
    [letter] = dead_letters.read()
    assert str(letter["reason"]).startswith("implausible_time: ")
    return letter


def test_telemetry_refuses_a_far_future_ts_with_the_raw_message(tmp_path: Path) -> None:
    aps = {("s", "ap1"): Placement("s", "r1")}
    intake = TelemetryIntake(aps, {}, DeadLetterFile(tmp_path / "d.jsonl"), WINDOW)
    topic, payload = "edumon/s/ap/ap1/state", b'{"ts": 1e10, "radios": [{"band": "5g"}]}'
    assert intake.handle(topic, payload, False) == []
    assert only_letter(intake.dead_letters)["raw"] == f"{topic}\n{payload.decode()}"
    assert intake.counts == {"implausible_time": 1}
    fresh = json.dumps({"ts": time.time(), "radios": [{"band": "5g"}]}).encode()
    assert len(intake.handle(topic, fresh, False)) == 1


@pytest.mark.parametrize(("unit", "scale"), [("unix", 1), ("unix_ms", 1000), ("unix_ns", 10**9)])
def test_mqtt_json_refuses_a_time_out_of_the_window(tmp_path: Path, unit: str, scale: int) -> None:
    spec = MappingSpec.model_validate(
        {
            "name": "m",
            "topic": "agent/{ap}/radio",
            "measurement": "wifi_ap",
            "time": {"path": "t", "format": unit},
            "fields": {"clients": {"path": "sta", "type": "int"}},
        }
    )
    dead = DeadLetterFile(tmp_path / "d.jsonl")
    intake = JsonIntake([CompiledMapping.of(spec)], {}, dead, window=WINDOW)
    late = json.dumps({"t": int((time.time() - 7200) * scale), "sta": 1}).encode()
    assert intake.handle("agent/a1/radio", late) == []
    assert only_letter(dead)["raw"] == f"agent/a1/radio\n{late.decode()}"
    now = json.dumps({"t": int(time.time() * scale), "sta": 1}).encode()
    assert len(intake.handle("agent/a1/radio", now)) == 1
    assert intake.counts == {"implausible_time": 1, "ok": 1}


async def test_lorawan_refuses_an_uplink_time_out_of_the_window(tmp_path: Path) -> None:
    dead = DeadLetterFile(tmp_path / "d.jsonl")
    intake = LorawanIntake(INVENTORY, dead, window=WINDOW)
    body = json.dumps({**CHIRPSTACK_UP, "time": "2099-01-01T00:00:00Z"}).encode()
    assert await intake.handle(CS_TOPIC, body) == []
    assert only_letter(dead)["raw"] == f"{CS_TOPIC}\n{body.decode()}"
    assert intake.counts == {"implausible_time": 1}
