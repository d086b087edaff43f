"""What a reading of the schema (docs/DESIGN.md, "Storage contract") can be: one range per
field, in the unit the field is stored in. A reading outside its range is one the device did
not mean (a sentinel scaled by the wrong precision, a register read as the wrong type); it is
not stored, but counted and shown (`edumon test`, /metrics), never silently dropped.

Thresholds of a reading (`rx_dbm_high_alarm`...) have the reading's range.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from gateway.sample import FieldValue

THRESHOLD_SUFFIXES = ("_low_alarm", "_low_warn", "_high_warn", "_high_alarm")

# field -> (lowest, highest) plausible value, both included
RANGES: dict[str, tuple[float, float]] = {
    "temp_c": (-40.0, 150.0),  # a device's or a transceiver's own temperature, °C
    "rx_dbm": (-40.0, 10.0),  # optical power; -40 dBm is also the floor agents send for none
    "tx_dbm": (-40.0, 10.0),
    "bias_ma": (0.0, 200.0),  # laser bias current
    "voltage_v": (0.0, 15.0),  # a transceiver's or a board's supply
    "cpu_pct": (0.0, 100.0),
    "mem_pct": (0.0, 100.0),
    "fans_failed": (0.0, 1000.0),
    "psus_failed": (0.0, 1000.0),
    "sensors_failed": (0.0, 10000.0),
    "budget_w": (0.0, 100_000.0),  # a switch's PoE budget (a chassis of PSUs), W
    "power_w": (0.0, 100_000.0),  # PoE drawn by a switch or one port, W
    "used_pct": (0.0, 1000.0),  # of the PoE budget: above 100 is an overrun, not an error
}


class Refused(NamedTuple):
    field: str
    value: float
    reason: str  # "above 150", "below -40"


def range_of(field: str) -> tuple[float, float] | None:
    base = field
    for suffix in THRESHOLD_SUFFIXES:
        if field.endswith(suffix):
            base = field.removesuffix(suffix)
            break
    return RANGES.get(base)


def refusal(field: str, value: float) -> Refused | None:
    """Why `value` cannot be a reading of `field`; None when it can (or no range is known)."""
    bounds = range_of(field)
    if bounds is None:
        return None
    low, high = bounds
    if value < low:
        return Refused(field, value, f"below {low:g}")
    if value > high:
        return Refused(field, value, f"above {high:g}")
    return None


def cannot_be_negative(field: str) -> bool:
    """A field whose range starts at 0: its agents' -1 means "no reading"."""
    bounds = range_of(field)
    return bounds is not None and bounds[0] >= 0


def keep_plausible(
    fields: Mapping[str, FieldValue], where: str, refused: list[tuple[str, Refused]]
) -> dict[str, FieldValue]:
    """The fields whose value is plausible; the others go to `refused`, with `where` (a port,
    "" for the device itself)."""
    out: dict[str, FieldValue] = {}
    for name, value in fields.items():
        why = refusal(name, value) if isinstance(value, int | float) else None
        if why is None:
            out[name] = value
        else:
            refused.append((where, why))
    return out


def described(refused: list[tuple[str, Refused]]) -> str:
    """What `edumon test` shows: `temp_c=2000 (above 150); Te1/1 rx_dbm=12.5 (above 10)`."""
    return "; ".join(f"{where}{r.field}={r.value:g} ({r.reason})" for where, r in refused)
