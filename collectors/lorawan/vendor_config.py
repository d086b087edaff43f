"""Device models decoded by vendor codecs: `lorawan.models` and the checks of its files.

lorawan:
  codec_dir: lorawan-devices/vendor     # relative to the config file
  models:
    elsys-ers-co2:                      # a `profile` of lorawan_sensor devices
      codec: elsys/ers-co2-codec.yaml   # or a .js; relative to codec_dir
      fields: {co2_ppm: sensors.co2}    # only where the defaults do not fit
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from collectors.lorawan.codec_runtime import WORKER_SLACK_S, CpuBudget, JsCodec
from collectors.lorawan.codec_worker import load_answer
from collectors.lorawan.codecs import CODECS
from collectors.lorawan.js_codec import CodecLoadError, codec_source
from collectors.lorawan.vendor_fields import SourceSpec, environment_fields
from gateway.inventory import Section, Slug, raw_devices
from gateway.yaml_lines import Path as KeyPath

DEFAULT_TIME_LIMIT_S = 0.05  # of CPU per uplink; vendor codecs take about 0.1 ms
DEFAULT_MEMORY = 8 * 2**20
DEFAULT_BUDGET_S = 0.25  # of CPU per second and model, for all its decodes
DEFAULT_QUARANTINE_S = 60.0


class VendorModel(Section):
    codec: str = Field(min_length=1)
    fields: dict[str, SourceSpec] = Field(default_factory=dict)


# the settings of the `lorawan:` section for vendor codecs (collectors/lorawan/config.py)
CodecDir = Path | None
Models = dict[Slug, VendorModel]
TimeLimit = Annotated[float, Field(gt=0, le=5)]
Budget = Annotated[float, Field(gt=0, le=4)]


def codec_path(codec_dir: str | Path | None, codec: str) -> Path:
    return Path(codec_dir or ".") / codec


def load_codec(
    name: str,
    path: Path,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    memory_bytes: int = DEFAULT_MEMORY,
    budget: CpuBudget | None = None,
) -> JsCodec:
    """The model's codec, loaded once in a worker of its own to check that it defines
    decodeUplink (CodecLoadError otherwise); its decodes start their own worker."""
    source = codec_source(path)
    answer = load_answer(source, time_limit_s, memory_bytes, WORKER_SLACK_S + 10 * time_limit_s)
    if answer:
        raise CodecLoadError(f"codec {name} {answer.partition(' ')[2]}")
    return JsCodec(
        name,
        source,
        time_limit_s=time_limit_s,
        memory_bytes=memory_bytes,
        budget=budget or CpuBudget(DEFAULT_BUDGET_S, DEFAULT_QUARANTINE_S),
    )


def model_problems(data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    """Profiles that name no model; models whose field names are unknown or whose codec cannot
    be read or defines no decodeUplink (each codec is loaded once, as the service will)."""
    section = data.get("lorawan")
    section = section if isinstance(section, dict) else {}
    models = section.get("models")
    models = models if isinstance(models, dict) else {}
    known = set(environment_fields())
    for name, model in models.items():
        if not isinstance(model, dict):
            continue
        for field in model.get("fields") or {}:
            if field not in known:
                yield (
                    ("lorawan", "models", name, "fields", field),
                    (f"unknown environment field {field!r}; known: {', '.join(sorted(known))}"),
                )
        codec = model.get("codec")
        if isinstance(codec, str) and codec:
            try:
                load_codec(name, codec_path(section.get("codec_dir"), codec))
            except CodecLoadError as error:
                yield ("lorawan", "models", name, "codec"), str(error)
    for at, device in raw_devices(data):
        profile = device.get("profile")
        if device.get("kind") != "lorawan_sensor" or not isinstance(profile, str):
            continue
        if profile not in CODECS and profile not in models:
            yield (
                (*at, "profile"),
                (
                    f"profile {profile!r} is neither built in ({', '.join(CODECS)}) "
                    "nor a model in lorawan.models"
                ),
            )
