"""The school-day traffic model: shaped like a school week, deterministic, exactly integrable."""

from __future__ import annotations

import pytest

from simulators.snmp.traffic import PortTraffic, school_day_factor

MONDAY = 0
HOUR = 60


@pytest.mark.parametrize(
    ("minute", "factor"),
    [
        (MONDAY + 3 * HOUR, 0.02),  # night
        (MONDAY + 7 * HOUR + 45, 0.3),  # arriving
        (MONDAY + 8 * HOUR + 10, 0.9),  # first lesson
        (MONDAY + 8 * HOUR + 50, 0.5),  # first break
        (MONDAY + 16 * HOUR, 0.25),  # after school
        (5 * 24 * HOUR + 10 * HOUR, 0.03),  # Saturday
    ],
)
def test_school_day_shape(minute: int, factor: float) -> None:
    assert school_day_factor(minute) == factor


def test_deterministic_for_a_seed_and_consistent_with_rates() -> None:
    a, b = PortTraffic(7, 3, 1e9), PortTraffic(7, 3, 1e9)
    t0, t1 = 1_763_366_400.0, 1_763_366_400.0 + 3600
    assert a.octets(t0, t1) == b.octets(t0, t1) > 0
    assert PortTraffic(8, 3, 1e9).octets(t0, t1) != a.octets(t0, t1)
    # within one minute the rate is constant: the counter grows exactly by rate * dt / 8
    t = 1_763_366_700.0
    assert a.octets(t0, t + 30) - a.octets(t0, t) == pytest.approx(
        a.rate_bps(t) * 30 / 8, abs=16
    )  # float sums
    assert a.mean_bps(t, t + 30) == pytest.approx(a.rate_bps(t))
