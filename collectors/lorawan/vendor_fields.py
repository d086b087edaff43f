"""From a vendor codec's `data` (or the network server's decoded object) to `environment`
fields, by the defaults of environment_fields.yaml or a device model's own paths."""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from collectors.lorawan.codecs import Fields, PayloadError

DEFAULTS_FILE = Path(__file__).with_name("environment_fields.yaml")


class Source(BaseModel):
    """Where a field is in the codec's output: a dotted path, times `scale`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str = Field(pattern=r"^[^.\s]+(\.[^.\s]+)*$")
    scale: float = 1.0


SourceSpec = Annotated[Source, BeforeValidator(lambda v: {"path": v} if isinstance(v, str) else v)]


class EnvironmentField(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["int", "float", "bool"]
    range: tuple[float, float] | None = None
    names: tuple[SourceSpec, ...]
    true_words: tuple[str, ...] = ()  # what codecs say for a bool (Milesight's pir "trigger")
    false_words: tuple[str, ...] = ()


@cache
def environment_fields() -> Mapping[str, EnvironmentField]:
    raw = yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8"))
    return {name: EnvironmentField.model_validate(spec) for name, spec in raw.items()}


def map_fields(
    model: str, data: Mapping[str, Any], own: Mapping[str, Source] | None = None
) -> Fields:
    """The environment fields found in `data`: a model's own source for a field replaces the
    default names. None values count as absent; nothing found, a wrong type or a value out of
    its plausible range refuses the uplink (`codec_output`)."""
    fields: Fields = {}
    for name, spec in environment_fields().items():
        sources = (own[name],) if own and name in own else spec.names
        for source in sources:
            raw = _lookup(data, source.path)
            if raw is not None:
                fields[name] = _value(model, name, spec, raw, source.scale)
                break
    if not fields:
        raise PayloadError(f"{model}: the decoded data has no environment field", "codec_output")
    return fields


def _lookup(data: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _value(model: str, name: str, spec: EnvironmentField, raw: Any, scale: float) -> Any:
    if spec.type == "bool":
        if isinstance(raw, bool):
            return raw
        if raw in (0, 1) and isinstance(raw, int):
            return bool(raw)
        if isinstance(raw, str) and raw in spec.true_words + spec.false_words:
            return raw in spec.true_words
        raise PayloadError(f"{model}: {name} must be a boolean, got {raw!r:.40}", "codec_output")
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise PayloadError(f"{model}: {name} must be a number, got {raw!r:.40}", "codec_output")
    value = raw * scale
    if spec.range is not None and not spec.range[0] <= value <= spec.range[1]:
        low, high = spec.range
        raise PayloadError(
            f"{model}: {name} {value:g} is outside {low:g}..{high:g}", "codec_output"
        )
    return round(value) if spec.type == "int" else float(value)
