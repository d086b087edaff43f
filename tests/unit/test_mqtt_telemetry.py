"""The AP/exhibit topic contract: good messages become samples, bad ones are dead-lettered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.mqtt.telemetry import Placement, TelemetryIntake
from gateway.deadletter import DeadLetterFile


@pytest.fixture
def intake(tmp_path: Path) -> TelemetryIntake:
    return TelemetryIntake(
        aps={("vsk-1", "vsk-1-ap-101"): Placement("vsk-1", "101")},
        exhibits={("vizium", "vizium-lightning"): Placement("vizium", "electricity")},
        dead_letters=DeadLetterFile(tmp_path / "dead.jsonl"),
    )


def test_ap_state_gives_one_sample_per_radio(intake: TelemetryIntake) -> None:
    body = {
        "ts": 1763366700.5,
        "radios": [
            {
                "band": "2g",
                "clients": 3,
                "channel_util_pct": 61.5,
                "retry_pct": 12.0,
                "noise_dbm": -90,
            },
            {
                "band": "5g",
                "clients": 21,
                "channel_util_pct": 35,
                "retry_pct": 4.5,
                "noise_dbm": -95,
            },
        ],
    }
    samples = intake.handle("edumon/vsk-1/ap/vsk-1-ap-101/state", json.dumps(body).encode(), False)
    assert [
        (s.tags["band"], s.tags["room"], s.fields["clients"], s.fields["channel_util_pct"])
        for s in samples
    ] == [("2g", "101", 3, 61.5), ("5g", "101", 21, 35.0)]
    assert all(s.time_ns == 1763366700500000000 and s.fields["up"] is True for s in samples)


def test_exhibit_health_and_last_will(intake: TelemetryIntake) -> None:
    body = {"interactions": 1234, "errors": 2, "temp_c": 41.5, "cpu_pct": 12, "fw": "1.4.2"}
    [health] = intake.handle(
        "edumon/vizium/exhibit/vizium-lightning/health", json.dumps(body).encode(), False
    )
    assert health.tags == {"site": "vizium", "exhibit": "vizium-lightning", "zone": "electricity"}
    assert health.fields == {
        "up": True,
        "interactions": 1234,
        "errors": 2,
        "temp_c": 41.5,
        "cpu_pct": 12.0,
        "fw": "1.4.2",
    }
    [offline] = intake.handle("edumon/vizium/exhibit/vizium-lightning/status", b"offline", True)
    assert offline.fields == {"up": False}


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("edumon/vsk-1/ap/vsk-1-ap-101/state", b"{not json", "invalid JSON"),
        ("edumon/vsk-1/ap/vsk-1-ap-101/state", b"[1, 2]", "wrong shape"),
        ("edumon/vsk-1/ap/vsk-1-ap-101/state", b'{"radios": []}', "wrong shape"),
        ("edumon/vsk-1/ap/vsk-1-ap-101/state", b'{"radios": [{"clients": 3}]}', "wrong shape"),
        (
            "edumon/vsk-1/ap/vsk-1-ap-101/state",
            b'{"radios": [{"band": "5g", "clients": "many"}]}',
            "wrong shape",
        ),
        (
            "edumon/vsk-1/ap/vsk-1-ap-101/state",
            b'{"radios": [{"band": "5g", "clients": -1}]}',
            "wrong shape",
        ),
        (
            "edumon/vsk-1/ap/vsk-1-ap-101/state",
            b'{"ts": 12, "radios": [{"band": "5g"}]}',
            "implausible_time",
        ),
        ("edumon/vsk-1/ap/vsk-1-ap-999/state", b'{"radios": [{"band": "5g"}]}', "unknown device"),
        ("edumon/vizium/exhibit/vizium-lightning/health", b'{"temp_c": NaN}', "wrong shape"),
        ("edumon/vizium/exhibit/vizium-lightning/status", b"sleepy", "bad status"),
        ("edumon/vizium/exhibit/vizium-lightning/reboot", b"{}", "unknown topic"),
        ("other/topic", b"{}", "unknown topic"),
        ("edumon/vsk-1/ap/vsk-1-ap-101/state", b"\xff\xfe", "invalid JSON"),
    ],
)
def test_bad_messages_are_dead_lettered_with_reason(
    intake: TelemetryIntake, topic: str, payload: bytes, reason: str
) -> None:
    assert intake.handle(topic, payload, False) == []
    [dead] = intake.dead_letters.read()
    assert dead["reason"].startswith(reason) and dead["source"] == "mqtt"
    assert dead["raw"].startswith(topic)
    assert intake.counts[reason] == 1


@given(st.text(max_size=60), st.binary(max_size=200), st.booleans())
def test_nothing_crashes_and_nothing_is_lost_silently(
    topic: str, payload: bytes, retained: bool
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        intake = TelemetryIntake({}, {}, DeadLetterFile(Path(tmp) / "d.jsonl"))
        samples = intake.handle(topic, payload, retained)
        assert samples == [] and intake.dead_letters.count == 1
