"""ChirpStack v4 / TTS v3 uplink parsing and the intake that never raises."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.lorawan.intake import LorawanIntake
from collectors.lorawan.samples import SensorInfo
from collectors.lorawan.uplink import UplinkError, parse_chirpstack_v4, parse_tts_v3
from gateway.deadletter import DeadLetterFile

ENV_EUI = "70b3d57ed0050001"
EXHIBIT_EUI = "70b3d57ed0050002"
APP_ID = "00000000-0000-0000-0000-00000000a001"
CS_TOPIC = f"application/{APP_ID}/device/{ENV_EUI}/event/up"
TTS_TOPIC = "v3/fake-school-app@fake-tenant/devices/exhibit-node-02/up"
ENV_PAYLOAD = bytes.fromhex("01019f08695b0bc400")  # co2 415, 21.53 degC, 45.5 %, 3.012 V
EXHIBIT_PAYLOAD = bytes.fromhex("01000004d20002019f00015180")  # 1234, 2, 41.5 degC, 86400 s
INVENTORY = {
    ENV_EUI: SensorInfo(site="school-01", device="env-101", room="room-101", profile="env-sensor"),
    EXHIBIT_EUI: SensorInfo(
        site="science-centre", device="exhibit-node-02", room="hall-a", profile="exhibit-node"
    ),
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


CHIRPSTACK_UP: dict[str, Any] = {
    "deduplicationId": "3ac7e3c4-4401-4b8d-9386-a5c902f9202d",
    "time": "2025-11-17T09:33:28.823500726+00:00",
    "deviceInfo": {
        "tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
        "tenantName": "Fake City",
        "applicationId": APP_ID,
        "applicationName": "classrooms",
        "deviceProfileId": "cdb1e6a5-0000-0000-0000-000000000001",
        "deviceProfileName": "env-sensor",
        "deviceName": "env-101",
        "devEui": ENV_EUI,
        "deviceClassEnabled": "CLASS_A",
        "tags": {},
    },
    "devAddr": "00189440",
    "adr": True,
    "dr": 5,
    "fCnt": 42,
    "fPort": 2,
    "confirmed": False,
    "data": b64(ENV_PAYLOAD),
    "rxInfo": [
        {
            "gatewayId": "0016c001f153a14c",
            "uplinkId": 4217106255,
            "rssi": -87,
            "snr": 7.5,
            "channel": 2,
            "crcStatus": "CRC_OK",
        },
        {
            "gatewayId": "0016c001f153a14d",
            "uplinkId": 1123,
            "rssi": -60,
            "snr": 9.25,
            "channel": 2,
            "crcStatus": "CRC_OK",
        },
    ],
    "txInfo": {
        "frequency": 868100000,
        "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 7, "codeRate": "CR_4_5"}},
    },
}

TTS_UP: dict[str, Any] = {
    "end_device_ids": {
        "device_id": "exhibit-node-02",
        "application_ids": {"application_id": "fake-school-app"},
        "dev_eui": EXHIBIT_EUI.upper(),
        "join_eui": "0000000000000000",
        "dev_addr": "260B1234",
    },
    "correlation_ids": ["as:up:01FAKE"],
    "received_at": "2025-11-17T09:33:29.123456Z",
    "uplink_message": {
        "session_key_id": "AXFAKE==",
        "f_port": 3,
        "f_cnt": 7,
        "frm_payload": b64(EXHIBIT_PAYLOAD),
        "rx_metadata": [
            {
                "gateway_ids": {"gateway_id": "fake-gw-hall", "eui": "B827EBFFFE000001"},
                "rssi": -101,
                "channel_rssi": -101,
                "snr": -3.5,
            },
            {"gateway_ids": {"gateway_id": "fake-gw-roof"}, "channel_rssi": -95, "snr": -3.5},
        ],
        "settings": {
            "data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 10}},
            "frequency": "868300000",
        },
        "received_at": "2025-11-17T09:33:29.100000Z",
    },
}

CHIRPSTACK_V3_UP: dict[str, Any] = {
    "applicationID": "1",
    "applicationName": "classrooms",
    "deviceName": "env-101",
    "devEUI": "cLPVftAFAAE=",
    "rxInfo": [{"gatewayID": "ABbAAfFToUw=", "rssi": -87, "loRaSNR": 7.5}],
    "txInfo": {"frequency": 868100000, "dr": 5},
    "fCnt": 42,
    "fPort": 2,
    "data": b64(ENV_PAYLOAD),
}


def body(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def changed(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `base` with the dotted `path` set (or deleted when value is ...)."""
    out = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return out


def test_chirpstack_v4_uplink() -> None:
    up = parse_chirpstack_v4(CS_TOPIC, body(CHIRPSTACK_UP))
    assert up.network_server == "chirpstack"
    assert up.dedup_id == "3ac7e3c4-4401-4b8d-9386-a5c902f9202d"
    assert (up.dev_eui, up.device_name, up.f_port, up.f_cnt) == (ENV_EUI, "env-101", 2, 42)
    assert up.payload == ENV_PAYLOAD
    assert up.decoded is None
    assert [g.gateway_id for g in up.gateways] == ["0016c001f153a14c", "0016c001f153a14d"]
    assert up.gateways[1] == ("0016c001f153a14d", -60, 9.25)
    assert up.sf == 7
    assert up.received_ns == 1763372008_823500726


def test_chirpstack_zero_values_left_out_by_protobuf_json_default_to_zero() -> None:
    minimal = {k: v for k, v in CHIRPSTACK_UP.items() if k not in ("fCnt", "txInfo", "rxInfo")}
    up = parse_chirpstack_v4(CS_TOPIC, body(minimal))
    assert (up.f_cnt, up.gateways, up.sf) == (0, (), None)


def test_tts_v3_uplink() -> None:
    up = parse_tts_v3(TTS_TOPIC, body(TTS_UP))
    assert up.network_server == "ttn"
    assert up.dedup_id is None
    assert (up.dev_eui, up.device_name, up.f_port, up.f_cnt) == (
        EXHIBIT_EUI,
        "exhibit-node-02",
        3,
        7,
    )
    assert up.payload == EXHIBIT_PAYLOAD
    assert up.gateways == (("fake-gw-hall", -101, -3.5), ("fake-gw-roof", -95, -3.5))
    assert up.sf == 10
    assert up.received_ns == 1763372009_123456000


def test_decoded_objects_are_kept() -> None:
    cs = changed(CHIRPSTACK_UP, "object", {"co2_ppm": 500})
    assert parse_chirpstack_v4(CS_TOPIC, body(cs)).decoded == {"co2_ppm": 500}
    tts = changed(TTS_UP, "uplink_message.decoded_payload", {"interactions": 3})
    assert parse_tts_v3(TTS_TOPIC, body(tts)).decoded == {"interactions": 3}


@pytest.mark.parametrize(
    ("topic", "obj", "kind", "reason"),
    [
        (
            CS_TOPIC,
            CHIRPSTACK_V3_UP,
            "chirpstack_v3",
            r"ChirpStack v3 field names \(.*devEUI.*\); this collector reads v4",
        ),
        (
            CS_TOPIC,
            changed(CHIRPSTACK_UP, "data", "not base64!"),
            "bad_base64",
            "bad base64 in data",
        ),
        (CS_TOPIC, changed(CHIRPSTACK_UP, "data", "AQI"), "bad_base64", "bad base64"),
        (
            f"application/{APP_ID}/device/70b3d57ed0059999/event/up",
            CHIRPSTACK_UP,
            "topic_mismatch",
            "does not match body devEui",
        ),
        (
            f"application/other-app/device/{ENV_EUI}/event/up",
            CHIRPSTACK_UP,
            "topic_mismatch",
            "applicationId",
        ),
        (
            f"application/{APP_ID}/device/{ENV_EUI}/event/join",
            CHIRPSTACK_UP,
            "unknown_topic",
            "is not application/",
        ),
        (
            CS_TOPIC,
            changed(CHIRPSTACK_UP, "deviceInfo", ...),
            "wrong_shape",
            "deviceInfo must be a JSON object",
        ),
        (
            CS_TOPIC,
            changed(CHIRPSTACK_UP, "deviceInfo.devEui", "70b3d57e"),
            "wrong_shape",
            "16 hex digits",
        ),
        (CS_TOPIC, changed(CHIRPSTACK_UP, "fCnt", -1), "wrong_shape", "fCnt must be an integer"),
        (CS_TOPIC, changed(CHIRPSTACK_UP, "fPort", "2"), "wrong_shape", "fPort must be an integer"),
        (
            CS_TOPIC,
            changed(CHIRPSTACK_UP, "rxInfo", {"gatewayId": "x"}),
            "wrong_shape",
            "rxInfo must be a list",
        ),
        (CS_TOPIC, changed(CHIRPSTACK_UP, "rxInfo.0.gatewayId", ...), "wrong_shape", "gatewayId"),
        (CS_TOPIC, changed(CHIRPSTACK_UP, "time", "yesterday"), "wrong_shape", "RFC 3339"),
        (
            CS_TOPIC,
            changed(CHIRPSTACK_UP, "object", [1, 2]),
            "wrong_shape",
            "object must be a JSON object",
        ),
        (CS_TOPIC, [CHIRPSTACK_UP], "wrong_shape", "JSON body is list"),
        (
            TTS_TOPIC,
            changed(TTS_UP, "uplink_message.frm_payload", "@@@@"),
            "bad_base64",
            "bad base64 in frm_payload",
        ),
        (
            "v3/fake-school-app@fake-tenant/devices/other-node/up",
            TTS_UP,
            "topic_mismatch",
            "does not match",
        ),
        (
            "v3/fake-school-app@fake-tenant/devices/exhibit-node-02/join",
            TTS_UP,
            "unknown_topic",
            "is not v3/",
        ),
        (
            TTS_TOPIC,
            changed(TTS_UP, "uplink_message", ...),
            "wrong_shape",
            "uplink_message must be",
        ),
        (
            TTS_TOPIC,
            changed(TTS_UP, "end_device_ids.dev_eui", ...),
            "wrong_shape",
            "dev_eui must be 16 hex",
        ),
        (
            TTS_TOPIC,
            changed(TTS_UP, "uplink_message.f_port", 256),
            "wrong_shape",
            "f_port must be an integer",
        ),
        (
            TTS_TOPIC,
            {"app_id": "a", "dev_id": "d", "payload_raw": "AQ=="},
            "wrong_shape",
            "TTN v2 field names",
        ),
    ],
)
def test_bad_uplinks_say_why(topic: str, obj: Any, kind: str, reason: str) -> None:
    parse = parse_chirpstack_v4 if topic.startswith("application/") else parse_tts_v3
    with pytest.raises(UplinkError, match=reason) as caught:
        parse(topic, body(obj))
    assert caught.value.kind == kind


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"", b"[1,", b"1e999999"])
def test_invalid_json(raw: bytes) -> None:
    with pytest.raises(UplinkError) as caught:
        parse_chirpstack_v4(CS_TOPIC, raw)
    assert caught.value.kind in ("invalid_json", "wrong_shape")


@pytest.fixture
def intake(tmp_path: Path) -> LorawanIntake:
    return LorawanIntake(INVENTORY, DeadLetterFile(tmp_path / "lorawan.jsonl"))


async def test_intake_chirpstack_environment_and_radio(intake: LorawanIntake) -> None:
    samples = await intake.handle(CS_TOPIC, body(CHIRPSTACK_UP))
    env, radio = samples
    assert env.measurement == "environment"
    assert env.tags == {"site": "school-01", "room": "room-101", "device": "env-101"}
    assert env.fields["co2_ppm"] == 415
    assert env.fields["temp_c"] == 21.53
    assert env.time_ns == radio.time_ns == 1763372008_823500726
    assert radio.measurement == "lorawan"
    assert radio.tags == {"device": "env-101", "dev_eui": ENV_EUI, "gateway": "0016c001f153a14d"}
    assert radio.fields == {
        "rssi": -60,
        "snr": 9.25,
        "sf": 7,
        "f_cnt": 42,
        "frames_lost": 0,
        "f_cnt_reset": False,
        "gateways": 2,
    }
    assert intake.accepted == 1
    assert intake.counts == {}


async def test_intake_tts_exhibit(intake: LorawanIntake) -> None:
    exhibit, radio = await intake.handle(TTS_TOPIC, body(TTS_UP))
    assert exhibit.measurement == "exhibit"
    assert exhibit.tags == {
        "site": "science-centre",
        "exhibit": "exhibit-node-02",
        "zone": "hall-a",
    }
    assert exhibit.fields == {"interactions": 1234, "errors": 2, "temp_c": 41.5, "uptime_s": 86400}
    # equal SNR: the stronger RSSI wins
    assert radio.tags["gateway"] == "fake-gw-roof"
    assert radio.fields["rssi"] == -95


async def test_intake_prefers_valid_decoded_object_and_falls_back_to_bytes(
    intake: LorawanIntake,
) -> None:
    decoded = changed(CHIRPSTACK_UP, "object", {"co2_ppm": 999, "temp_c": 20.0})
    env, _ = await intake.handle(CS_TOPIC, body(decoded))
    assert env.fields == {"co2_ppm": 999, "temp_c": 20.0}
    foreign = changed(CHIRPSTACK_UP, "object", {"co2": "high"})
    foreign["deduplicationId"] = "another-fake-dedup-id"
    env, _ = await intake.handle(CS_TOPIC, body(foreign))
    assert env.fields["co2_ppm"] == 415


async def test_intake_duplicate_is_counted_not_dead_lettered(intake: LorawanIntake) -> None:
    assert await intake.handle(CS_TOPIC, body(CHIRPSTACK_UP))
    assert await intake.handle(CS_TOPIC, body(CHIRPSTACK_UP)) == []
    assert intake.counts == {"duplicate": 1}
    assert intake.dead_letters.count == 0


@pytest.mark.parametrize(
    ("topic", "raw", "kind"),
    [
        (CS_TOPIC, b"{oops", "invalid_json"),
        (CS_TOPIC, body(CHIRPSTACK_V3_UP), "chirpstack_v3"),
        (
            CS_TOPIC.replace(ENV_EUI, "70b3d57ed005ffff"),
            body(changed(CHIRPSTACK_UP, "deviceInfo.devEui", "70b3d57ed005ffff")),
            "unknown_device",
        ),
        (CS_TOPIC, body(changed(CHIRPSTACK_UP, "data", "%%%")), "bad_base64"),
        (CS_TOPIC, body(changed(CHIRPSTACK_UP, "data", b64(ENV_PAYLOAD[:7]))), "short_payload"),
        (
            CS_TOPIC,
            body(changed(CHIRPSTACK_UP, "data", b64(ENV_PAYLOAD + b"\0"))),
            "oversized_payload",
        ),
        (CS_TOPIC, body(changed(CHIRPSTACK_UP, "fPort", 9)), "unknown_f_port"),
        ("edumon/school-01/ap/ap-1/state", body(CHIRPSTACK_UP), "unknown_topic"),
    ],
)
async def test_intake_bad_input_is_counted_and_dead_lettered(
    intake: LorawanIntake, topic: str, raw: bytes, kind: str
) -> None:
    assert await intake.handle(topic, raw) == []
    assert intake.counts == {kind: 1}
    (letter,) = intake.dead_letters.read()
    assert letter["source"] == "lorawan"
    assert letter["reason"].startswith(f"{kind}: ")
    assert letter["raw"].startswith(topic + "\n")


topics = st.sampled_from([CS_TOPIC, TTS_TOPIC, "v3/x/devices/y/up", "application/", "junk"])
messages = st.sampled_from(
    [(CS_TOPIC, CHIRPSTACK_UP), (TTS_TOPIC, TTS_UP), (CS_TOPIC, CHIRPSTACK_V3_UP)]
)


@st.composite
def mutated_json(draw: st.DrawFn) -> tuple[str, bytes]:
    """Real-looking events on their own topic with one value replaced by something arbitrary."""
    topic, original = draw(messages)
    event = copy.deepcopy(original)
    node = event
    while isinstance(node, dict) and node and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(node)))
        if not isinstance(node[key], dict):
            break
        node = node[key]
    if isinstance(node, dict) and node:
        key = draw(st.sampled_from(sorted(node)))
        node[key] = draw(
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                lambda inner: (
                    st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3)
                ),
                max_leaves=6,
            )
        )
    return topic, body(event)


@settings(
    max_examples=300,
    suppress_health_check=[*settings().suppress_health_check, HealthCheck.function_scoped_fixture],
)
@given(message=st.tuples(topics, st.binary(max_size=200)) | mutated_json())
def test_intake_never_raises_and_never_drops_silently(
    tmp_path: Path, message: tuple[str, bytes]
) -> None:
    topic, raw = message
    intake = LorawanIntake(INVENTORY, DeadLetterFile(tmp_path / "never-raises.jsonl"))
    intake.dead_letters.path.unlink(missing_ok=True)
    before = intake.dead_letters.count
    for _ in range(2):  # the second delivery is a duplicate or a second dead letter
        samples = asyncio.run(intake.handle(topic, raw))
        assert all(s.measurement in ("environment", "exhibit", "lorawan") for s in samples)
    rejected = sum(n for kind, n in intake.counts.items() if kind != "duplicate")
    assert "internal_error" not in intake.counts
    assert intake.dead_letters.count - before == rejected
    assert intake.accepted + rejected + intake.counts.get("duplicate", 0) == 2
