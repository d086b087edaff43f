"""An ecosystem profile (its metrics with what it extends already merged in) as edumon's own
profile model: the metrics semantics.yaml names become device sources (cpu_pct, mem_pct,
temp_c, fans_failed, psus_failed), every other one an `ExtraMetric` for snmp_metric. The poll
path then reads it like any edumon profile."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, cast

import yaml

from collectors.snmp.ecosystem.document import Metric, MetricTag, Symbol
from collectors.snmp.profile_model import (
    DeviceField,
    ExtraMetric,
    IdentityField,
    IdentitySource,
    Match,
    Source,
)
from collectors.snmp.profile_model import MetricTag as RowTag

SEMANTICS = Path(__file__).with_name("semantics.yaml")
MEMORY_PARTS = ("mem_used", "mem_free", "mem_total", "mem_cache")
VALUE_CONVERSIONS = ("regexp:",)  # to_one marks presence; the others are for tags
NAMED = re.compile(r"[A-Za-z]")  # Kentik's named sysObjectIDs, reached through `matches` only
NOT_IN_A_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


# Datadog's metadata.device.fields names -> edumon's identity fields
IDENTITY: dict[str, IdentityField] = {
    "vendor": "vendor",
    "model": "model",
    "serial_number": "serial",
    "version": "os_version",
    "os_version": "os_version",
}


@dataclass
class Translated:
    device: dict[DeviceField, list[Source]] = field(default_factory=dict)
    metrics: list[ExtraMetric] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # symbols edumon cannot read, and why


def _name(text: str) -> str:
    """A metric or tag name as snmp_metric takes it: letters, digits, `_.-`, not a digit first."""
    name = NOT_IN_A_NAME.sub("_", text)
    return name if re.match(r"[A-Za-z_]", name) else f"_{name}"


@cache
def _semantics() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SEMANTICS.read_text(encoding="utf-8"))
    return data


def field_of(symbol: Symbol) -> str | None:
    """The device field (or memory part) a symbol feeds, by its name or Kentik tag."""
    names = [n for n in (symbol.tag, symbol.name) if n]
    for name, rule in _semantics().items():
        if not isinstance(rule, dict):
            continue
        if any(n.lower() in (k.lower() for k in rule.get("names", [])) for n in names):
            return name
        pattern, exclude = rule.get("pattern"), rule.get("not")
        for n in names:
            if pattern and re.search(pattern, n) and not (exclude and re.search(exclude, n)):
                return name
    return None


def translate(metrics: list[Metric]) -> Translated:
    out = Translated()
    memory: dict[str, list[tuple[str, str]]] = {}  # part -> [(table, OID)]
    parts: list[ExtraMetric] = []  # the memory parts, as snmp_metric if they give no mem_pct
    for metric in metrics:
        table = metric.table.oid or metric.table.name or "" if metric.table else ""
        symbols = [(s, "") for s in metric.scalars()] + [(s, table) for s in metric.columns()]
        for symbol, symbol_table in symbols:
            problem = _unreadable(symbol)
            if problem:
                out.skipped.append(f"{symbol.name}: {problem}")
                continue
            name = field_of(symbol) if symbol.condition is None else None
            if name in MEMORY_PARTS:
                memory.setdefault(name, []).append((symbol_table, _oid(symbol, symbol_table)))
                parts.append(_extra(symbol, symbol_table, metric.metric_tags))
            elif name is not None and (source := _source(name, symbol, symbol_table)):
                out.device.setdefault(cast(DeviceField, name), []).append(source)
            else:
                out.metrics.append(_extra(symbol, symbol_table, metric.metric_tags))
    used = [] if "mem_cache" in memory else _memory(memory)
    if used:
        out.device["mem_pct"] = [*out.device.get("mem_pct", []), *used]
    elif parts:
        out.metrics += parts
    return out


def identity(metadata: list[dict[str, object]]) -> dict[IdentityField, list[IdentitySource]]:
    """vendor, model, serial and OS version from Datadog's `metadata.device.fields` (of the
    profile and what it extends, the profile's own last): a fixed `value`, or `symbol`/`symbols`
    read with GET (the first group of their `match_pattern`)."""
    fields: dict[Any, Any] = {}
    for each in metadata:
        device = each.get("device")
        found = device.get("fields") if isinstance(device, dict) else None
        fields |= found if isinstance(found, dict) else {}
    out: dict[IdentityField, list[IdentitySource]] = {}
    for key, spec in fields.items():
        name = IDENTITY.get(str(key))
        if name is None or not isinstance(spec, dict):
            continue
        sources = [_identity_source(s) for s in _symbols_of(spec)]
        if isinstance(spec.get("value"), str | int | float):
            sources.insert(0, IdentitySource(value=str(spec["value"])))
        if found := [s for s in sources if s is not None]:
            out[name] = found
    return out


def _symbols_of(spec: dict[Any, Any]) -> list[Any]:
    symbols = spec.get("symbols")
    return [spec["symbol"]] if "symbol" in spec else symbols if isinstance(symbols, list) else []


def _identity_source(symbol: object) -> IdentitySource | None:
    """A scalar (OID ending in .0) only: a metadata OID of one table row cannot be walked."""
    if not isinstance(symbol, dict):
        return None
    oid = str(symbol.get("OID", "")).removeprefix(".")
    pattern = symbol.get("match_pattern")
    if not re.fullmatch(r"[0-2](\.\d+)+\.0", oid) or not isinstance(pattern, str | None):
        return None
    try:
        return IdentitySource(oid=oid, pattern=pattern)
    except ValueError:  # a pattern that is not a regular expression
        return None


def matches(sysobjectids: list[str], sysdescr: str | None = None) -> Match:
    """Prefix wildcards become edumon's prefixes (`1.3.6.1.4.1.9.1.*` -> 1.3.6.1.4.1.9.1); a
    wildcard inside an arc (`...43.45*`) keeps the arcs before it."""
    prefixes = [re.sub(r"\.?\d*\*$", "", p) for p in sysobjectids if not NAMED.search(p)]
    return Match(sysobjectid=[p for p in prefixes if p], sysdescr=sysdescr)


def _unreadable(symbol: Symbol) -> str | None:
    if any(symbol.oid.startswith(f"{table}.") for table in _semantics()["own_rules"]):
        return "IF-MIB: in edumon's interface series"
    conversion = symbol.conversion
    if conversion and not conversion.startswith(VALUE_CONVERSIONS):
        return f"conversion {conversion} is for tags"
    if symbol.extract_value is not None or (conversion or "").startswith("regexp:"):
        pattern = symbol.extract_value or (conversion or "").removeprefix("regexp:")
        try:
            re.compile(pattern)
        except re.error as error:
            return f"not a valid regular expression: {error}"
    return None


def _oid(symbol: Symbol, table: str) -> str:
    """Scalars are read with GET at OID.0 (Kentik writes some without the .0)."""
    if table or symbol.oid.endswith(".0"):
        return symbol.oid
    return symbol.oid + ".0"


def _pattern(symbol: Symbol) -> str | None:
    if symbol.extract_value is not None:
        return symbol.extract_value
    conversion = symbol.conversion or ""
    return conversion.removeprefix("regexp:") if conversion.startswith("regexp:") else None


def _source(name: str, symbol: Symbol, table: str) -> Source | None:
    oid, scale, pattern = _oid(symbol, table), symbol.scale_factor, _pattern(symbol)
    if name in ("fans_failed", "psus_failed"):
        states = {k.lower(): v for k, v in symbol.enum.items()}
        states |= {v.lower(): int(k) for k, v in symbol.mapping.items() if k.lstrip("-").isdigit()}
        ok = [v for k, v in states.items() if k in _semantics()["ok_states"]]
        absent = [v for k, v in states.items() if k in _semantics()["absent_states"]]
        return Source(oid=oid, ok=ok, ignore=absent) if ok else None
    if name == "temp_c":  # the libraries' temperature columns answer 0 where no sensor is
        return Source(oid=oid, scale=scale, value_pattern=pattern, aggregate="max", invalid=[0])
    return Source(oid=oid, scale=scale, value_pattern=pattern)


def _memory(parts: dict[str, list[tuple[str, str]]]) -> list[Source]:
    """mem_pct from two of used, free and total that come from the same table (or are all
    scalars), in the order the profile gives them."""
    sources = []
    for first, second in (
        ("mem_used", "mem_total"),
        ("mem_used", "mem_free"),
        ("mem_free", "mem_total"),
    ):
        for table, oid in parts.get(first, []):
            other = next((o for t, o in parts.get(second, []) if t == table), None)
            if other is not None:
                key = {first.removeprefix("mem_"): oid, second.removeprefix("mem_"): other}
                sources.append(Source.model_validate(key))
    return sources


def _extra(symbol: Symbol, table: str, tags: list[MetricTag]) -> ExtraMetric:
    return ExtraMetric(
        name=_name(symbol.tag or symbol.name),
        oid=_oid(symbol, table),
        scale=symbol.scale_factor,
        value_pattern=_pattern(symbol),
        mapping={k: float(v) for k, v in symbol.enum.items()},
        tags=[row for tag in tags if table and (row := _row_tag(tag)) is not None],
    )


def _row_tag(tag: MetricTag) -> RowTag | None:
    """A row tag edumon can read; a profile-wide scalar tag, a regex-split tag or a binary
    column shown as an address are left out."""
    column = tag.column
    if tag.symbol is not None or tag.oid is not None or tag.match is not None:
        return None
    if column is not None and column.conversion in ("hextoip", "hwaddr"):
        return None
    name = _name(tag.tag or (column.name if column else f"index{tag.index}"))
    mapping = dict(tag.mapping or (column.mapping if column else {}))
    if column is not None and column.enum:
        mapping |= {str(value): key for key, value in column.enum.items()}
    return RowTag(
        tag=name,
        column=column.oid if column else None,
        index=tag.index if column is None else None,
        index_slices=[(s.start, s.end) for s in tag.index_transform],
        mapping=mapping,
    )
