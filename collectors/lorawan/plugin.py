"""The LoRaWAN collector's plugin: uplinks of the inventory's sensors, from the network servers'
MQTT integrations (ChirpStack v4, The Things Stack v3) on edumon's broker."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from collectors.lorawan.config import LorawanSensor, LorawanSettings
from collectors.lorawan.intake import DUPLICATE, LorawanIntake
from collectors.lorawan.samples import SensorInfo
from collectors.lorawan.vendor import (
    VendorDecoder,
    in_quarantine,
    quarantine_totals,
    quarantine_warning,
    vendor_decoders,
)
from collectors.lorawan.vendor_config import model_problems
from gateway.collector import (
    Collector,
    CollectorContext,
    CollectorEmit,
    CollectorPlugin,
    RawData,
    Totals,
)
from gateway.config import EdumonConfig
from gateway.deadletter import DeadLetterFile
from gateway.intake_health import CollectorHealth
from gateway.inventory import raw_devices, repeated_values
from gateway.mqtt_stream import mqtt_collector
from gateway.yaml_lines import Path as KeyPath

NAME = "lorawan"
TOPICS = ("application/+/device/+/event/up", "v3/+/devices/+/up")


def lorawan_intake(config: EdumonConfig) -> LorawanIntake:
    sensors = {
        device.dev_eui: SensorInfo(site.id, device.id, device.room or "", device.profile)
        for site, device in config.devices_of(LorawanSensor)
    }
    dead_letters = DeadLetterFile.in_state_dir(config.service.state_dir, NAME)
    settings = config.settings_of(NAME, LorawanSettings)
    vendor = vendor_decoders(
        settings.codec_dir,
        settings.models,
        time_limit_s=settings.codec_time_limit_s,
        memory_bytes=settings.codec_memory,
        budget_s=settings.codec_budget_s,
        quarantine_s=settings.codec_quarantine_s,
    )
    return LorawanIntake(sensors, dead_letters, vendor=vendor, window=config.service.timestamps)


def vendor_of(intake: LorawanIntake) -> dict[str, VendorDecoder]:
    return {name: d for name, d in intake.vendor.items() if isinstance(d, VendorDecoder)}


def close_codec_workers(intake: LorawanIntake) -> None:
    for decoder in vendor_of(intake).values():
        decoder.codec.close()


async def stop_codec_workers(intake: LorawanIntake) -> None:
    for decoder in vendor_of(intake).values():
        await decoder.codec.stop()


def intake_totals(intake: LorawanIntake) -> Totals:
    totals: dict[tuple[str, str], int] = {("accepted", ""): intake.accepted}
    totals.update(quarantine_totals(vendor_of(intake)))
    for kind, n in intake.counts.items():
        totals[
            "duplicate" if kind == DUPLICATE else "rejected", "" if kind == DUPLICATE else kind
        ] = n
    return totals


def open_lorawan(context: CollectorContext) -> Collector:
    config = context.config
    intake = lorawan_intake(config)
    collector = mqtt_collector(
        config,
        NAME,
        topics=TOPICS,
        handler=lambda topic, payload, retained: intake.handle(topic, payload),
        dead_letters=intake.dead_letters,
        intake_totals=lambda: intake_totals(intake),
        silence_s=config.settings_of(NAME, LorawanSettings).silence_s,
        bounds=context.metrics.bounds,
        measurements=("environment", "lorawan"),
    )
    [stream] = collector.streams

    async def run(emit: CollectorEmit, health: CollectorHealth) -> None:
        decoders = vendor_of(intake)
        health.add_field("codecs_quarantined", lambda: len(in_quarantine(decoders)))
        health.add_warning("codecs", lambda: quarantine_warning(decoders))
        await stream.run(emit, health)

    collector.streams = [replace(stream, run=run)]
    collector.close = lambda: close_codec_workers(intake)
    return collector


def dev_eui_problems(data: RawData) -> Iterator[tuple[KeyPath, str]]:
    """A dev_eui used twice (LoRaWAN EUIs are unique whatever their case)."""
    euis = (
        ((*at, "dev_eui"), eui.lower() if isinstance(eui := device.get("dev_eui"), str) else None)
        for at, device in raw_devices(data)
    )
    yield from repeated_values("dev_eui", euis)


def lorawan_problems(data: RawData) -> Iterator[tuple[KeyPath, str]]:
    yield from dev_eui_problems(data)
    yield from model_problems(data)


PLUGIN = CollectorPlugin(
    name=NAME,
    open=open_lorawan,
    devices=(LorawanSensor,),
    settings_key=NAME,
    settings=LorawanSettings,
    relative_paths=("codec_dir",),
    config_problems=lorawan_problems,
    device_tags=(("environment", "device"), ("lorawan", "device")),
)
