"""The exhibit's MCU temperature: a failed or missing sensor is no reading (left out of the
health message, so nothing is stored), never 0.0 degC."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import exhibit_device
import machine
import pytest
from exhibit_monitor import health_payload

from collectors.mqtt.telemetry import Placement, TelemetryIntake
from gateway.deadletter import DeadLetterFile

READING = {"interactions": 3, "errors": 0, "cpu_pct": 12.5}
TS = 1763366400


def failing(*_args: object) -> float:
    raise OSError(5, "sensor read failed")


class Adc:
    def __init__(self, raw: int) -> None:
        self.raw = raw

    def read_u16(self) -> int:
        if self.raw < 0:
            raise OSError(5, "EIO")
        return self.raw


def test_an_esp32_reads_its_sensor_and_a_failed_read_is_no_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "esp32", SimpleNamespace(mcu_temperature=lambda: 41))
    assert exhibit_device._mcu_temperature() == 41.0
    monkeypatch.setitem(sys.modules, "esp32", SimpleNamespace(mcu_temperature=failing))
    assert exhibit_device._mcu_temperature() is None


def test_an_rp2040_reads_adc_4_and_a_failed_read_is_no_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "esp32", None)  # not an ESP32: import fails
    monkeypatch.setattr(machine, "ADC", lambda channel: Adc(14000), raising=False)
    assert exhibit_device._mcu_temperature() == pytest.approx(27 - (0.705 - 0.706) / 0.001721, 0.1)
    monkeypatch.setattr(machine, "ADC", lambda channel: Adc(-1), raising=False)
    assert exhibit_device._mcu_temperature() is None


def test_a_board_without_a_temperature_sensor_has_no_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "esp32", None)
    monkeypatch.delattr(machine, "ADC", raising=False)
    assert exhibit_device._mcu_temperature() is None
    assert exhibit_device.ExhibitSensors().read()["temp_c"] is None


def test_no_reading_is_left_out_of_the_health_message_and_stores_no_temperature(
    tmp_path: Path,
) -> None:
    body = json.loads(health_payload(TS, {**READING, "temp_c": None}, "1.0.0"))
    assert "temp_c" not in body
    assert json.loads(health_payload(TS, {**READING, "temp_c": 41.456}, "1.0.0"))["temp_c"] == 41.46
    intake = TelemetryIntake(
        {}, {("sc1", "ex1"): Placement("sc1", "hall")}, DeadLetterFile(tmp_path / "d")
    )
    [sample] = intake.handle("edumon/sc1/exhibit/ex1/health", json.dumps(body).encode(), False)
    assert "temp_c" not in sample.fields and sample.fields["interactions"] == 3
