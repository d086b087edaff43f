"""Uplink events of the two network servers, parsed into one `Uplink`.

ChirpStack v4, topic `application/{applicationId}/device/{devEui}/event/up`, JSON body:
    {"deduplicationId", "time", "deviceInfo": {"tenantId", "applicationId", "deviceProfileName",
     "deviceName", "devEui", ...}, "devAddr", "adr", "dr", "fCnt", "fPort", "confirmed",
     "data" (base64), "object" (only with a codec), "rxInfo": [{"gatewayId", "uplinkId", "rssi",
     "snr", ...}], "txInfo": {"frequency", "modulation": {"lora": {"bandwidth",
     "spreadingFactor", "codeRate"}}}}
The Things Stack v3, topic `v3/{application}@{tenant}/devices/{device}/up`, JSON body:
    {"end_device_ids": {"device_id", "application_ids": {"application_id"}, "dev_eui"},
     "received_at", "uplink_message": {"f_port", "f_cnt", "frm_payload" (base64),
     "decoded_payload" (optional), "rx_metadata": [{"gateway_ids": {"gateway_id"}, "rssi",
     "channel_rssi", "snr"}], "settings": {"data_rate": {"lora": {"bandwidth",
     "spreading_factor"}}}}}
Both servers encode protobuf to JSON and leave out zero values (fCnt 0, fPort 0, empty data,
snr 0), so those default to zero here rather than being "missing".
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

MAX_F_CNT = 0xFFFF_FFFF
_HEX16 = re.compile(r"[0-9a-fA-F]{16}")
_GATEWAY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9})\d*)?([Zz]|[+-]\d{2}:\d{2})"
)
_CHIRPSTACK_V3_NAMES = ("devEUI", "applicationID", "gatewayID", "loRaSNR")


class UplinkError(ValueError):
    """A message that is not a valid uplink event; `kind` is the counter name."""

    def __init__(self, message: str, kind: str = "wrong_shape") -> None:
        super().__init__(message)
        self.kind = kind


class GatewayRx(NamedTuple):
    gateway_id: str
    rssi: int
    snr: float


@dataclass(frozen=True)
class Uplink:
    network_server: Literal["chirpstack", "ttn"]
    dedup_id: str | None
    dev_eui: str  # 16 lower-case hex digits
    device_name: str
    f_port: int
    f_cnt: int
    payload: bytes
    decoded: Mapping[str, Any] | None
    gateways: tuple[GatewayRx, ...]
    sf: int | None
    received_ns: int


def parse_chirpstack_v4(topic: str, body: bytes, *, now_ns: int | None = None) -> Uplink:
    parts = topic.split("/")
    shape_ok = len(parts) == 6 and parts[0] == "application" and parts[2] == "device"
    if not shape_ok or parts[4:] != ["event", "up"] or not parts[1] or not parts[3]:
        raise _bad_topic(topic, "application/{applicationId}/device/{devEui}/event/up")
    event = _json_object(body)
    v3_names = sorted(_v3_names(event))
    if v3_names:
        raise UplinkError(
            f"ChirpStack v3 field names ({', '.join(v3_names)}); this collector reads v4",
            "chirpstack_v3",
        )
    info = _object(event, "deviceInfo", required=True)
    dev_eui = _eui(info.get("devEui"), "deviceInfo.devEui")
    if dev_eui != parts[3].lower():
        raise UplinkError(
            f"topic devEui {parts[3]!r:.40} does not match body devEui {dev_eui}", "topic_mismatch"
        )
    app_id = info.get("applicationId")
    if app_id is not None and app_id != parts[1]:
        raise UplinkError(
            f"topic application {parts[1]!r:.60} does not match body applicationId {app_id!r:.60}",
            "topic_mismatch",
        )
    dedup = event.get("deduplicationId")
    if dedup is not None and not isinstance(dedup, str):
        raise UplinkError("deduplicationId must be a string")
    gateways = []
    for rx in _list(event, "rxInfo"):
        gateway_id = _gateway_id(rx.get("gatewayId"), "rxInfo[].gatewayId")
        gateways.append(GatewayRx(gateway_id, _int(rx, "rssi", -200, 50), _snr(rx)))
    lora = _path(event, "txInfo", "modulation", "lora")
    return Uplink(
        network_server="chirpstack",
        dedup_id=dedup or None,
        dev_eui=dev_eui,
        device_name=_str(info, "deviceName"),
        f_port=_int(event, "fPort", 0, 255),
        f_cnt=_int(event, "fCnt", 0, MAX_F_CNT),
        payload=_base64(event.get("data"), "data"),
        decoded=_decoded(event, "object"),
        gateways=tuple(gateways),
        sf=_spreading_factor(lora, "spreadingFactor"),
        received_ns=_time(event.get("time"), "time", now_ns),
    )


def parse_tts_v3(topic: str, body: bytes, *, now_ns: int | None = None) -> Uplink:
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "v3" or parts[2] != "devices" or parts[4] != "up":
        raise _bad_topic(topic, "v3/{application}@{tenant}/devices/{device}/up")
    topic_app, topic_device = parts[1].split("@", 1)[0], parts[3]
    if not topic_app or not topic_device:
        raise _bad_topic(topic, "v3/{application}@{tenant}/devices/{device}/up")
    event = _json_object(body)
    if "dev_id" in event or "payload_raw" in event:
        raise UplinkError("TTN v2 field names (dev_id, payload_raw); this collector reads v3")
    ids = _object(event, "end_device_ids", required=True)
    device_id = ids.get("device_id")
    app_id = _path(ids, "application_ids").get("application_id")
    if device_id != topic_device or app_id != topic_app:
        raise UplinkError(
            f"topic {topic_app!r:.60}/{topic_device!r:.60} does not match body "
            f"application_id/device_id {app_id!r:.60}/{device_id!r:.60}",
            "topic_mismatch",
        )
    dev_eui = _eui(ids.get("dev_eui"), "end_device_ids.dev_eui")
    message = _object(event, "uplink_message", required=True)
    gateways = []
    for rx in _list(message, "rx_metadata"):
        gateway_id = _gateway_id(
            _path(rx, "gateway_ids").get("gateway_id"), "rx_metadata[].gateway_ids.gateway_id"
        )
        rssi_key = "rssi" if "rssi" in rx else "channel_rssi"
        gateways.append(GatewayRx(gateway_id, _int(rx, rssi_key, -200, 50), _snr(rx)))
    received_at = event.get("received_at", message.get("received_at"))
    return Uplink(
        network_server="ttn",
        dedup_id=None,
        dev_eui=dev_eui,
        device_name=str(device_id),
        f_port=_int(message, "f_port", 0, 255),
        f_cnt=_int(message, "f_cnt", 0, MAX_F_CNT),
        payload=_base64(message.get("frm_payload"), "frm_payload"),
        decoded=_decoded(message, "decoded_payload"),
        gateways=tuple(gateways),
        sf=_spreading_factor(_path(message, "settings", "data_rate", "lora"), "spreading_factor"),
        received_ns=_time(received_at, "received_at", now_ns),
    )


def _bad_topic(topic: str, expected: str) -> UplinkError:
    return UplinkError(f"topic {topic!r:.120} is not {expected}", "unknown_topic")


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise UplinkError(f"invalid JSON: {error}", "invalid_json") from error
    if not isinstance(value, dict):
        raise UplinkError(f"JSON body is {type(value).__name__}, expected an object")
    return value


def _v3_names(value: object, depth: int = 0) -> set[str]:
    """ChirpStack v3 spellings anywhere in the first levels of the event."""
    found: set[str] = set()
    if depth > 3:
        return found
    if isinstance(value, dict):
        found.update(name for name in _CHIRPSTACK_V3_NAMES if name in value)
        for child in value.values():
            found |= _v3_names(child, depth + 1)
    elif isinstance(value, list):
        for child in value[:16]:
            found |= _v3_names(child, depth + 1)
    return found


def _object(parent: Mapping[str, Any], key: str, *, required: bool = False) -> dict[str, Any]:
    value = parent.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise UplinkError(f"{key} must be a JSON object, got {type(value).__name__}")
    return value


def _decoded(parent: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """The network server's decoded payload; absent (no codec configured) is None."""
    return _object(parent, key) if parent.get(key) is not None else None


def _path(parent: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    current: Mapping[str, Any] = parent
    for key in keys:
        current = _object(current, key)
    return dict(current)


def _list(parent: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    value = parent.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise UplinkError(f"{key} must be a list of objects")
    return value


def _str(parent: Mapping[str, Any], key: str) -> str:
    value = parent.get(key, "")
    if not isinstance(value, str):
        raise UplinkError(f"{key} must be a string, got {value!r:.40}")
    return value


def _int(parent: Mapping[str, Any], key: str, low: int, high: int) -> int:
    value = parent.get(key, 0)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UplinkError(f"{key} must be an integer in {low}..{high}, got {value!r:.40}")
    return value


def _snr(rx: Mapping[str, Any]) -> float:
    value = rx.get("snr", 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not -50 <= value <= 50:
        raise UplinkError(f"snr must be a number in -50..50, got {value!r:.40}")
    return float(value)


def _spreading_factor(lora: Mapping[str, Any], key: str) -> int | None:
    if key not in lora:
        return None
    return _int(lora, key, 5, 12)


def _gateway_id(value: object, where: str) -> str:
    """A gateway id becomes a tag value: EUI hex (ChirpStack) or a TTS id, 1-64 characters."""
    if not isinstance(value, str) or not _GATEWAY_ID.fullmatch(value):
        raise UplinkError(
            f"{where} must be a gateway id (1-64 of A-Z a-z 0-9 . _ : -), got {value!r:.40}"
        )
    return value


def _eui(value: object, where: str) -> str:
    if not isinstance(value, str) or not _HEX16.fullmatch(value):
        raise UplinkError(f"{where} must be 16 hex digits, got {value!r:.40}")
    return value.lower()


def _base64(value: object, where: str) -> bytes:
    if value is None:
        return b""
    if not isinstance(value, str):
        raise UplinkError(f"{where} must be a base64 string, got {value!r:.40}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise UplinkError(f"bad base64 in {where}: {error}", "bad_base64") from error


def _time(value: object, where: str, now_ns: int | None) -> int:
    if value is None:
        return time.time_ns() if now_ns is None else now_ns
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise UplinkError(f"{where} must be an RFC 3339 timestamp, got {value!r:.40}")
    day, clock, fraction, zone = match.groups()
    try:
        base = datetime.fromisoformat(f"{day}T{clock}{'+00:00' if zone.upper() == 'Z' else zone}")
        seconds = int(base.timestamp())
    except (ValueError, OverflowError) as error:
        raise UplinkError(f"{where} is not a valid time: {value!r:.40}") from error
    return seconds * 1_000_000_000 + int((fraction or "0").ljust(9, "0"))
