"""The MQTT JSON collector's plugin: the `mqtt_json:` mappings and their `json_device`s."""

from __future__ import annotations

from collections.abc import Iterator

from collectors.mqtt_json.config import JsonDevice, MqttJsonSettings
from collectors.mqtt_json.intake import JsonIntake, Placement
from collectors.mqtt_json.mapping import CompiledMapping
from gateway.collector import (
    Collector,
    CollectorContext,
    CollectorPlugin,
    RawData,
)
from gateway.config import EdumonConfig
from gateway.deadletter import DeadLetterFile
from gateway.intake_health import kind_totals
from gateway.inventory import raw_devices, repeated_values
from gateway.mqtt_stream import mqtt_collector
from gateway.yaml_lines import Path as KeyPath

NAME = "mqtt_json"


def settings(config: EdumonConfig) -> MqttJsonSettings:
    return config.settings_of(NAME, MqttJsonSettings)


def json_intake(config: EdumonConfig) -> JsonIntake:
    devices = {
        (device.mapping, device.match or device.id): Placement(site.id, device.room, device.id)
        for site, device in config.devices_of(JsonDevice)
    }
    section = settings(config)
    return JsonIntake(
        [CompiledMapping.of(spec) for spec in section.mappings],
        devices,
        DeadLetterFile.in_state_dir(config.service.state_dir, NAME),
        section.max_payload_bytes,
        config.service.timestamps,
    )


def open_mqtt_json(context: CollectorContext) -> Collector:
    config = context.config
    intake = json_intake(config)
    section = settings(config)
    topics = list(dict.fromkeys(m.pattern.subscription for m in intake.mappings))
    return mqtt_collector(
        config,
        NAME,
        topics=topics,
        handler=intake.handle,
        dead_letters=intake.dead_letters,
        intake_totals=lambda: kind_totals(intake.counts),
        silence_s=section.silence_s,
        bounds=context.metrics.bounds,
        measurements=tuple(sorted({m.measurement for m in section.mappings})),
    )


def mapping_problems(data: RawData) -> Iterator[tuple[KeyPath, str]]:
    """Mapping names used twice; json_devices naming a mapping that is not there or has no
    `device` template; two devices of one mapping with the same match."""
    section = data.get(NAME)
    mappings = section.get("mappings") if isinstance(section, dict) else None
    named = [(i, m) for i, m in enumerate(mappings or []) if isinstance(m, dict)]
    names = ((((NAME, "mappings", i, "name"), m.get("name"))) for i, m in named)
    yield from repeated_values("mapping name", names)
    with_device = {m.get("name"): m.get("device") is not None for _, m in named}
    matches = []
    for at, device in raw_devices(data):
        if device.get("kind") != "json_device":
            continue
        mapping = device.get("mapping")
        if mapping not in with_device:
            yield (*at, "mapping"), f"no mqtt_json mapping is named {mapping!r}"
        elif not with_device[mapping]:
            yield (*at, "mapping"), f"mapping {mapping!r} has no `device` template"
        match = device.get("match", device.get("id"))
        matches.append(((*at, "match"), f"{mapping}: {match}"))
    yield from repeated_values("mapping and match", iter(matches))


PLUGIN = CollectorPlugin(
    name=NAME,
    open=open_mqtt_json,
    devices=(JsonDevice,),
    settings_key=NAME,
    settings=MqttJsonSettings,
    device_tags=(("environment", "device"),),
    config_problems=mapping_problems,
    wanted=lambda config: bool(settings(config).mappings),
)
