"""A varbind's value as the poll uses it: a number or a text, next to the BER codec that
decoded it (every reader of an SNMP answer goes through these two)."""

from __future__ import annotations

import re

from collectors.snmp import ber

LEADING_NUMBER = r"^\s*([-+]?\d+(?:\.\d+)?)"  # "-2.31 dBm", "27C": the number in front


def number(varbind: ber.VarBind | None, pattern: str | None = None) -> float | None:
    """A numeric value, also from the text some agents return (the first group of `pattern`,
    else the number it starts with); None when absent."""
    if varbind is None or varbind.tag in ber.EXCEPTIONS:
        return None
    if varbind.tag == ber.INTEGER:  # the common cases, without a call to value_of
        return float(int.from_bytes(varbind.raw, "big", signed=True))
    if varbind.tag in ber.UNSIGNED:
        return float(int.from_bytes(varbind.raw, "big"))
    value = ber.value_of(varbind)
    if isinstance(value, int):
        return float(value)
    if isinstance(value, bytes):
        found = re.search(pattern or LEADING_NUMBER, value.decode("utf-8", "replace"))
        return float(found.group(1)) if found else None
    return None


def text(varbind: ber.VarBind | None) -> str:
    """An OCTET STRING's text without surrounding blanks; "" for anything else."""
    if varbind is None or varbind.tag != ber.OCTET_STRING:
        return ""
    return varbind.raw.decode("utf-8", errors="replace").strip()
