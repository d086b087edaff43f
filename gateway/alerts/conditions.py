"""Is a rule's condition true for this value? Pure functions, plus the little memory each needs:
the previous verdict (hysteresis) and a short window of points (rate of change)."""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable

from gateway.alerts.rules import Rate, Rule, Scalar, Threshold

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}

Window = deque[tuple[float, float]]


def threshold_holds(threshold: Threshold, value: float, was_active: bool) -> bool:
    """`value op threshold`; once active, active until the value is back beyond `clear`."""
    if was_active and threshold.clear is not None:
        above = threshold.op in (">", ">=")
        return value > threshold.clear if above else value < threshold.clear
    return _OPS[threshold.op](value, threshold.value)


def rate_per_s(rate: Rate, window: Window, at_s: float, value: float) -> float | None:
    """Change per second over at least `rate.over` (None until the window is that long).

    `window` keeps the points of the last `over` seconds plus the newest older one; a value
    lower than the previous one is a counter reset, after which the window starts again."""
    if window and value < window[-1][1]:
        window.clear()
    window.append((at_s, value))
    while len(window) > 2 and window[1][0] <= at_s - rate.over:
        window.popleft()
    first_at, first_value = window[0]
    if at_s - first_at < rate.over:
        return None
    return (value - first_value) / (at_s - first_at)


def rate_holds(rate: Rate, per_s: float | None) -> bool:
    return per_s is not None and _OPS[rate.op](per_s, rate.value)


def equals_holds(rule: Rule, value: Scalar) -> bool:
    wanted = rule.equals
    if isinstance(wanted, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(wanted, bool) and value is wanted
    return value == wanted


def numeric(value: Scalar) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


def holds(rule: Rule, value: Scalar, number: float | None, firing: bool) -> bool:
    """The rule's `equals` or `threshold` condition (True for a pure `rate` rule)."""
    if rule.threshold is not None:
        # hysteresis keeps a firing alert firing; a pending one must stay past the threshold
        return number is not None and threshold_holds(rule.threshold, number, firing)
    if rule.equals is not None:
        return equals_holds(rule, value)
    return True
