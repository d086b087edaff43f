"""The counter rules at their exact boundaries (the mutation run's survivors of
collectors/snmp/rates.py): where each comparison flips, and the pieces each formula multiplies."""

from __future__ import annotations

import pytest

from collectors.snmp.rates import (
    FRAME_CHECK_PACKETS,
    MAX_FRAME_OCTETS,
    MIN_FRAME_OCTETS,
    MIN_WIRE_FRAME_BITS,
    TICKS_WRAP,
    Reading,
    Verdict,
    counter_delta,
    counter_rate,
    elapsed_s,
    event_rate,
    packets_fit,
)


def wrapped_reading(before_wrap_s: float, after_wrap_s: float, wall_s: float) -> float | None:
    """elapsed_s across a TimeTicks wrap; the wall clock starts at 1,000 s (not at 0)."""
    previous = Reading(TICKS_WRAP - int(before_wrap_s * 100), 1000.0)
    return elapsed_s(previous, Reading(int(after_wrap_s * 100), 1000.0 + wall_s))


def test_a_wrap_is_checked_against_the_wall_clock_s_difference() -> None:
    assert wrapped_reading(30, 30, wall_s=60) == 60.0


@pytest.mark.parametrize(
    ("wrapped_s", "wall_s", "elapsed"),
    [
        (66.0, 60.0, None),  # 6 s off is 10 % of 60 s: not within it
        (65.9, 60.0, 65.9),
        (15.5, 10.0, None),  # 5 s is the least tolerance: 5.5 s off is not within it
        (14.9, 10.0, 14.9),
    ],
)
def test_the_wrap_tolerance_is_strict_and_at_least_5_s(
    wrapped_s: float, wall_s: float, elapsed: float | None
) -> None:
    half = wrapped_s / 2
    assert wrapped_reading(half, half, wall_s=wall_s) == elapsed


def test_a_64_bit_counter_that_stood_still_is_a_zero_rate_not_a_reset() -> None:
    assert counter_rate(1000, 1000, 60, bits=64, speed_bps=1e9) == (0.0, Verdict.OK)


@pytest.mark.parametrize(
    ("speed", "verdict"),
    [
        (580e6, Verdict.AMBIGUOUS_WRAP),  # 2^32 octets in 60 s (573 Mb/s) fit 580M * 1.05
        (2**32 * 8 / 60, Verdict.AMBIGUOUS_WRAP),  # the tolerance is above the speed, not below
        (545392672.5079365, Verdict.AMBIGUOUS_WRAP),  # exactly at speed * 1.05: still possible
        (545392672.5, Verdict.OK),  # just under: one more wrap is too fast
    ],
)
def test_one_more_wrap_at_the_speed_boundary(speed: float, verdict: Verdict) -> None:
    assert counter_rate(1000, 1000, 60, bits=32, speed_bps=speed)[1] is verdict


def test_a_rate_exactly_at_the_tolerance_is_kept() -> None:
    assert counter_rate(0, 21, 8, bits=64, speed_bps=20) == (21.0, Verdict.OK)  # 20 * 1.05
    assert counter_rate(0, 22, 8, bits=64, speed_bps=20)[1] is Verdict.ABOVE_SPEED


def test_the_frames_an_event_counter_may_count_grow_with_the_interval() -> None:
    speed = 1000 * MIN_WIRE_FRAME_BITS  # 1,000 minimal frames a second, 1,050 with tolerance
    assert event_rate(0, 10_000, 10, speed_bps=speed) == (1000.0, Verdict.OK)
    assert event_rate(0, 10_500, 10, speed_bps=speed)[1] is Verdict.OK
    assert event_rate(0, 10_501, 10, speed_bps=speed)[1] is Verdict.PACKET_RATE


def test_an_event_counter_that_stood_still_is_zero_and_the_limit_is_inclusive() -> None:
    speed = 20 * MIN_WIRE_FRAME_BITS  # at most 21 frames a second
    assert event_rate(5, 5, 1, speed_bps=speed) == (0.0, Verdict.OK)
    assert event_rate(0, 21, 1, speed_bps=speed) == (21.0, Verdict.OK)
    assert event_rate(2**32 - 10, 11, 1, speed_bps=speed) == (21.0, Verdict.OK)  # wrapped
    assert event_rate(2**32 - 10, 12, 1, speed_bps=speed)[1] is Verdict.RESET


@pytest.mark.parametrize(
    ("previous", "current", "bits", "delta"),
    [
        (None, 5, 32, None),
        (5, 5, 32, 0),
        (5, 9, 64, 4),
        (2**32 - 2, 3, 32, 5),  # one wrap
        (2**64 - 2, 3, 64, None),  # a 64-bit counter going back was reset
    ],
)
def test_counter_delta(previous: int | None, current: int, bits: int, delta: int | None) -> None:
    assert counter_delta(previous, current, bits=bits) == delta


def test_packets_fit_at_each_boundary() -> None:
    speed = 1000 * MIN_WIRE_FRAME_BITS  # 1,050 frames a second with tolerance
    assert packets_fit(1050 * 64, 1050, 1, speed) is Verdict.OK
    assert packets_fit(1051 * 64, 1051, 1, speed) is Verdict.PACKET_RATE
    assert packets_fit(2051 * 64, 2051, 2, speed) is Verdict.OK  # per second, not per interval
    assert packets_fit(10**9, 10**6, 1, None) is Verdict.OK  # no speed: no packet-rate check
    most = (10 + 2) * MAX_FRAME_OCTETS
    assert packets_fit(most, 10, 1, None) is Verdict.OK
    assert packets_fit(most + 1, 10, 1, None) is Verdict.FRAME_SIZE
    least = FRAME_CHECK_PACKETS * MIN_FRAME_OCTETS
    assert packets_fit(least, FRAME_CHECK_PACKETS, 1, None) is Verdict.OK
    assert packets_fit(least - 1, FRAME_CHECK_PACKETS, 1, None) is Verdict.FRAME_SIZE
    assert packets_fit(0, FRAME_CHECK_PACKETS - 1, 1, None) is Verdict.OK  # too few to judge
