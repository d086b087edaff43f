"""Decoders of the vendor-codec device models: the network server's decoded object when it
maps to environment fields, else the model's codec run on the uplink's bytes (in its worker
process, awaited: collectors/lorawan/codec_runtime.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from collectors.lorawan.codec_runtime import CpuBudget, JsCodec
from collectors.lorawan.codecs import Fields, PayloadError
from collectors.lorawan.uplink import Uplink
from collectors.lorawan.vendor_config import VendorModel, codec_path, load_codec
from collectors.lorawan.vendor_fields import Source, map_fields


@dataclass
class VendorDecoder:
    model: str
    codec: JsCodec
    sources: Mapping[str, Source]

    async def __call__(self, uplink: Uplink) -> Fields:
        if uplink.decoded is not None:
            try:
                return map_fields(self.model, uplink.decoded, self.sources)
            except PayloadError:
                pass  # a foreign or broken server-side codec: the bytes are the truth
        data = await self.codec.decode(uplink.payload, uplink.f_port, uplink.received_ns)
        return map_fields(self.model, data, self.sources)


def vendor_decoders(
    codec_dir: Path | None,
    models: Mapping[str, VendorModel],
    *,
    time_limit_s: float,
    memory_bytes: int,
    budget_s: float,
    quarantine_s: float,
) -> dict[str, VendorDecoder]:
    """One decoder per model, its codec checked once (config checks proved it loads)."""
    return {
        name: VendorDecoder(
            name,
            load_codec(
                name,
                codec_path(codec_dir, model.codec),
                time_limit_s,
                memory_bytes,
                CpuBudget(budget_s, quarantine_s),
            ),
            model.fields,
        )
        for name, model in models.items()
    }


def in_quarantine(decoders: Mapping[str, VendorDecoder]) -> list[str]:
    """The models in quarantine now (the CodecQuarantined rule counts them)."""
    return [name for name, decoder in decoders.items() if decoder.codec.budget.left_s()]


def quarantine_warning(decoders: Mapping[str, VendorDecoder]) -> str | None:
    """What makes the LoRaWAN component `degraded` in /healthz while a model is quarantined."""
    names = in_quarantine(decoders)
    return f"codec quarantined (over its CPU budget): {', '.join(names)}" if names else None


def quarantine_totals(decoders: Mapping[str, VendorDecoder]) -> dict[tuple[str, str], int]:
    """How often each model was quarantined (/metrics, /healthz)."""
    return {
        ("codec_quarantines", name): decoder.codec.budget.quarantines
        for name, decoder in decoders.items()
    }
