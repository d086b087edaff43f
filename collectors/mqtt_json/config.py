"""The `mqtt_json:` section: mappings from topic patterns to measurements, and `json_device`
devices, the inventory's known ids behind a mapping's `device` template.

    mqtt_json:
      mappings:
        - name: tasmota
          topic: "tele/{device}/SENSOR"        # MQTT filter; {name} binds a segment
          measurement: environment
          device: "{device}"                   # looked up among the json_devices of `tasmota`
          time: {path: Time, format: rfc3339}  # default: the receive time
          tags: {sensor: AM2301}               # constant, "{segment}", or {path: ...}
          fields:
            temp_c: AM2301.Temperature         # a JSON path, or {path, type, scale, offset}
            power_w: {path: ENERGY.Power, scale: 1.0}
    sites: [{..., devices: [{kind: json_device, id: r101-plug, mapping: tasmota,
                             match: tasmota_8A2B3C, room: "101"}]}]
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from collectors.mqtt_json.paths import TopicPattern, parse_path, template_names
from gateway.inventory import DeviceBase, Interval, Section, Slug

TAG_NAME = r"^[a-z][a-z0-9_]{0,31}$"
RESERVED_TAGS = frozenset({"site", "room", "device"})  # set from the inventory with `device`


def _json_path(value: Any) -> Any:
    if isinstance(value, str):
        parse_path(value)
    return value


JsonPath = Annotated[str, BeforeValidator(_json_path)]


def _shorthand(key: str) -> Any:
    """`name: value` stands for `name: {key: value}`."""
    return BeforeValidator(lambda value: {key: value} if isinstance(value, str) else value)


class TagSpec(Section):
    value: str | None = None  # a constant, or a template of topic segments: "ap-{ap}"
    path: JsonPath | None = None  # or a JSON field of the payload
    # distinct values that may become series; one more is refused (a device cannot create
    # series without end)
    max_values: int = Field(default=100, ge=1, le=10_000)

    @model_validator(mode="after")
    def _one_source(self) -> TagSpec:
        if (self.value is None) == (self.path is None):
            raise ValueError("a tag has either a value (or template) or a path")
        return self


class FieldSpec(Section):
    path: JsonPath
    type: Literal["float", "int", "bool", "string"] = "float"
    scale: float = 1.0  # the stored value is raw * scale + offset (numbers only)
    offset: float = 0.0
    required: bool = False  # missing: the message is refused (otherwise the field is left out)

    @model_validator(mode="after")
    def _numeric_scale(self) -> FieldSpec:
        if self.type in ("bool", "string") and (self.scale != 1.0 or self.offset != 0.0):
            raise ValueError(f"scale and offset apply to numbers, not to {self.type}")
        return self


class TimeSpec(Section):
    path: JsonPath
    format: Literal["unix", "unix_ms", "unix_us", "unix_ns", "rfc3339"] = "unix"
    # for rfc3339 times without an offset (Tasmota sends local time)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value


class MappingSpec(Section):
    name: Slug
    topic: str
    measurement: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    device: str | None = None  # template whose value is a json_device's `match`
    tags: dict[Annotated[str, Field(pattern=TAG_NAME)], Annotated[TagSpec, _shorthand("value")]] = (
        Field(default_factory=dict)
    )
    fields: dict[
        Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")],
        Annotated[FieldSpec, _shorthand("path")],
    ] = Field(min_length=1)
    time: Annotated[TimeSpec, _shorthand("path")] | None = None

    @field_validator("topic")
    @classmethod
    def _pattern(cls, value: str) -> str:
        TopicPattern.parse(value)
        return value

    @model_validator(mode="after")
    def _templates(self) -> MappingSpec:
        names = set(TopicPattern.parse(self.topic).names)
        templates = [t.value for t in self.tags.values() if t.value is not None]
        for template in [*templates, *([self.device] if self.device else [])]:
            unknown = [n for n in template_names(template) if n not in names]
            if unknown:
                raise ValueError(f"{{{unknown[0]}}} is not a named segment of {self.topic!r}")
        reserved = sorted(RESERVED_TAGS & set(self.tags)) if self.device else []
        if reserved:
            raise ValueError(f"tag {reserved[0]} comes from the inventory with `device`")
        return self


class MqttJsonSettings(Section):
    mappings: list[MappingSpec] = Field(default_factory=list)
    # no message at all for this long is an intake outage (None: devices may all be quiet)
    silence_s: Interval | None = None
    max_payload_bytes: int = Field(default=65536, ge=64, le=2**24)


class JsonDevice(DeviceBase):
    """A device publishing its own JSON: the mapping it follows and how its topic names it."""

    kind: Literal["json_device"]
    id: Slug
    mapping: Slug
    match: str | None = Field(default=None, min_length=1, max_length=128)  # default: the id
    room: str = ""
