"""What a profile reads beyond the schema's numbers: measurement `snmp_metric` (an ecosystem
profile's other metrics), one series per metric and table row, tagged with the profile's index
tags, at most `limit` series per device and poll, the rest counted as left out; and the
device's identity texts (vendor, model, serial, os_version) for its `device` series."""

from __future__ import annotations

import re
from collections.abc import Mapping

from collectors.snmp import ber
from collectors.snmp.profile_model import ExtraMetric, IdentitySource, MetricTag, Profile
from collectors.snmp.profile_reader import Index, Walked
from collectors.snmp.varbind_values import number, text
from gateway.sample import Sample

RESERVED_TAGS = frozenset({"site", "device", "metric"})
MAX_TAG_TEXT = 64  # a tag value from the device is cut here, so no row makes a huge series key


def metric_samples(
    profile: Profile, walked: Walked, tags: Mapping[str, str], limit: int, now_ns: int
) -> tuple[list[Sample], int]:
    """(the samples, how many series were left out by `limit`)."""
    samples: list[Sample] = []
    left_out = 0
    # the columns of one table share their tag definitions: each row's tags are read once
    row_tags: dict[tuple[int, Index], dict[str, str]] = {}
    kinds: dict[str, int] = {}
    for metric in profile.metrics:
        kind = kinds.setdefault(repr(metric.tags), len(kinds))
        for index, varbind in walked.column(metric.oid).items():
            value = _value(metric, varbind)
            if value is None:
                continue
            if len(samples) >= limit:
                left_out += 1
                continue
            found = row_tags.get((kind, index))
            if found is None:
                found = row_tags[kind, index] = {**tags, **_row_tags(metric, index, walked)}
            series = {**found, "metric": metric.name}
            samples.append(Sample("snmp_metric", series, {"value": value}, now_ns))
    return samples, left_out


def identity_fields(profile: Profile, walked: Walked) -> dict[str, str]:
    """vendor, model, serial, os_version: for each, the first source that yields a text."""
    out: dict[str, str] = {}
    for name, sources in profile.identity.items():
        found = next((t for source in sources if (t := _identity(source, walked))), "")
        if found:
            out[name] = found[:MAX_TAG_TEXT]
    return out


def _identity(source: IdentitySource, walked: Walked) -> str:
    if source.value is not None:
        return source.value
    value = text(walked.column(source.oid).get(()))
    if source.pattern is None or not value:
        return value
    found = re.search(source.pattern, value)
    return (found.group(1) if found.groups() else found.group(0)).strip() if found else ""


def _value(metric: ExtraMetric, varbind: ber.VarBind) -> float | None:
    if metric.mapping and varbind.tag == ber.OCTET_STRING:
        mapped = metric.mapping.get(text(varbind))
        return None if mapped is None else mapped * metric.scale
    value = number(varbind, metric.value_pattern)
    return None if value is None else round(value * metric.scale, 6)


def _row_tags(metric: ExtraMetric, index: Index, walked: Walked) -> dict[str, str]:
    found: dict[str, str] = {}
    for tag in metric.tags:
        value = _tag_value(tag, index, walked)
        if value:
            name = f"tag_{tag.tag}" if tag.tag in RESERVED_TAGS else tag.tag
            found[name] = tag.mapping.get(value, value)[:MAX_TAG_TEXT]
    if index and not metric.tags:  # rows of an untagged table stay apart by their index
        found["index"] = ".".join(map(str, index))
    return found


def _tag_value(tag: MetricTag, index: Index, walked: Walked) -> str:
    if tag.index is not None:
        return str(index[tag.index - 1]) if tag.index <= len(index) else ""
    row = index
    if tag.index_slices:
        row = tuple(arc for start, end in tag.index_slices for arc in index[start : end + 1])
    varbind = walked.column(tag.column).get(row)
    if varbind is None or varbind.tag in ber.EXCEPTIONS:
        return ""
    if varbind.tag == ber.OCTET_STRING:
        return text(varbind)
    value = ber.value_of(varbind)
    return ".".join(map(str, value)) if isinstance(value, tuple) else str(value)
