"""Samples of one accepted uplink: the device's measurement plus its `lorawan` radio sample."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from collectors.lorawan.codecs import (
    ENV_SENSOR,
    EXHIBIT_NODE,
    Fields,
    PayloadError,
    codec_for,
    decode_payload,
    fields_from_decoded,
)
from collectors.lorawan.tracking import TrackResult
from collectors.lorawan.uplink import Uplink
from gateway.sample import FieldValue, Sample


class UnknownDevice(LookupError):
    """A dev_eui that is not in the inventory; the caller dead-letters the message."""

    kind = "unknown_device"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown device"


@dataclass(frozen=True)
class SensorInfo:
    """Where a LoRaWAN device is and how its payload is encoded (from the inventory)."""

    site: str
    device: str
    room: str
    profile: str


def sensor_info(uplink: Uplink, inventory: Mapping[str, SensorInfo]) -> SensorInfo:
    info = inventory.get(uplink.dev_eui)
    if info is None:
        raise UnknownDevice(
            f"unknown device: dev_eui {uplink.dev_eui} ({uplink.device_name!r:.60}) "
            "is not in the inventory"
        )
    return info


def payload_fields(uplink: Uplink, profile: str) -> Fields:
    """The network server's decoded object when it is present and valid, else the bytes."""
    codec_for(profile, uplink.f_port)  # the port must be the profile's measurement port
    if uplink.decoded is not None:
        try:
            return fields_from_decoded(profile, uplink.decoded)
        except PayloadError:
            pass  # a foreign or broken server-side codec: the bytes are the truth
    return decode_payload(profile, uplink.f_port, uplink.payload)


def samples_for(
    uplink: Uplink,
    track: TrackResult,
    inventory: Mapping[str, SensorInfo],
    vendor_fields: Fields | None = None,
) -> list[Sample]:
    """`vendor_fields`: what a vendor codec decoded (collectors/lorawan/vendor.py) for a
    profile it decodes; such sensors are environment sensors. Other profiles are decoded here."""
    info = sensor_info(uplink, inventory)
    vendor = vendor_fields is not None
    fields = vendor_fields if vendor_fields is not None else payload_fields(uplink, info.profile)
    at = uplink.received_ns
    samples: list[Sample] = []
    if info.profile == ENV_SENSOR or vendor:
        tags = {"site": info.site, "room": info.room, "device": info.device}
        samples.append(Sample("environment", tags, dict(fields), at))
    elif info.profile == EXHIBIT_NODE:
        tags = {"site": info.site, "exhibit": info.device, "zone": info.room}
        samples.append(Sample("exhibit", tags, dict(fields), at))
    samples.append(_radio_sample(uplink, track, info, at))
    return samples


def _radio_sample(uplink: Uplink, track: TrackResult, info: SensorInfo, at: int) -> Sample:
    tags = {
        "device": info.device,
        "dev_eui": uplink.dev_eui,
        "gateway": track.best_gateway or "none",
    }
    fields: dict[str, FieldValue] = {
        "f_cnt": uplink.f_cnt,
        "frames_lost": track.frames_lost,
        "f_cnt_reset": track.f_cnt_reset,
        "gateways": track.gateways,
    }
    if track.rssi is not None:
        fields["rssi"] = track.rssi
    if track.snr is not None:
        fields["snr"] = track.snr
    if uplink.sf is not None:
        fields["sf"] = uplink.sf
    return Sample("lorawan", tags, fields, at)
