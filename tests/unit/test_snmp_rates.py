"""Counter -> rate rules: wraps, resets, reboots, impossible rates (table-driven)."""

from __future__ import annotations

import pytest

from collectors.snmp.rates import (
    Reading,
    Verdict,
    counter_rate,
    elapsed_s,
    event_rate,
    interval,
)

G = 1e9


@pytest.mark.parametrize(
    ("previous", "current", "seconds", "bits", "speed", "rate", "verdict"),
    [
        (None, 100, 60, 64, G, None, Verdict.FIRST),
        (1000, 1000 + 75_000_000, 60, 64, G, 10_000_000.0, Verdict.OK),
        (2**64 - 10, 5, 60, 64, G, None, Verdict.RESET),  # 64-bit never wraps in practice
        (2**32 - 1000, 500, 60, 32, 100e6, 1500 * 8 / 60, Verdict.OK),  # one wrap, 100M link
        (2**32 - 1000, 500, 60, 32, 10e9, None, Verdict.AMBIGUOUS_WRAP),  # 10G could wrap 17 times
        (1000, 2000, 60, 32, 1e9, None, Verdict.AMBIGUOUS_WRAP),  # 1G in 60 s: 1000 or 1000 + 2^32?
        (
            1000,
            2000,
            30,
            32,
            1e9,
            1000 * 8 / 30,
            Verdict.OK,
        ),  # 1G in 30 s: one more wrap is too fast
        (1000, 2000, 60, 32, 100e6, 1000 * 8 / 60, Verdict.OK),
        (2**32 - 1000, 500, 60, 32, None, None, Verdict.AMBIGUOUS_WRAP),  # speed unknown
        (0, 8 * 10**9, 60, 64, G, None, Verdict.ABOVE_SPEED),  # 1.07 Gb/s on 1G
        (0, int(1.04 * G * 60 / 8), 60, 64, G, 1.04 * G, Verdict.OK),  # within 5 % tolerance
        (0, 10**12, 60, 64, None, 10**12 * 8 / 60, Verdict.OK),  # no speed: no ceiling
    ],
)
def test_counter_rate(
    previous: int | None,
    current: int,
    seconds: float,
    bits: int,
    speed: float | None,
    rate: float | None,
    verdict: Verdict,
) -> None:
    got_rate, got_verdict = counter_rate(previous, current, seconds, bits=bits, speed_bps=speed)
    assert got_verdict is verdict
    assert got_rate == pytest.approx(rate) if rate is not None else got_rate is None


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        (Reading(1000, 0.0), Reading(7000, 60.0), 60.0),
        (Reading(1000, 0.0), Reading(7050, 60.0), 60.5),  # the agent's clock, not the poller's
        (Reading(8_640_000, 0.0), Reading(500, 60.0), None),  # rebooted 5 s ago
        (Reading(2**32 - 3000, 0.0), Reading(3000, 60.0), 60.0),  # 497-day TimeTicks wrap
        (
            Reading(2**32 - 3000, 0.0),
            Reading(3000, 3600.0),
            None,
        ),  # a wrap would mean 60 s, not 1 h
        (Reading(5000, 0.0), Reading(5000, 60.0), 0.0),  # stood still: no time, no reboot
    ],
)
def test_elapsed_by_agent_clock(
    previous: Reading, current: Reading, expected: float | None
) -> None:
    assert elapsed_s(previous, current) == expected


@pytest.mark.parametrize(
    ("previous", "current", "seconds", "speed", "rate", "verdict"),
    [
        (None, 5, 60, G, None, Verdict.FIRST),
        (10, 70, 60, G, 1.0, Verdict.OK),
        (2**32 - 30, 30, 60, G, 1.0, Verdict.OK),  # a wrap 60 errors wide fits a 1G link
        # ifInErrors reset from 500 to 3, no discontinuity column: 2^32 - 497 errors in 60 s
        # would be 71,582,780 errors/s, beyond the 1.49 M frames/s a 1G link carries
        (500, 3, 60, G, None, Verdict.RESET),
        (500, 3, 60, None, None, Verdict.RESET),  # speed unknown: a wrap cannot be told
        (2**32 - 30, 30, 60, None, None, Verdict.RESET),
        (0, 10**9, 60, 100e6, None, Verdict.PACKET_RATE),  # more errors than frames
        (0, 10**9, 60, None, 10**9 / 60, Verdict.OK),  # no speed: no ceiling
    ],
)
def test_event_rate(
    previous: int | None,
    current: int,
    seconds: float,
    speed: float | None,
    rate: float | None,
    verdict: Verdict,
) -> None:
    got_rate, got_verdict = event_rate(previous, current, seconds, speed_bps=speed)
    assert got_verdict is verdict
    assert got_rate == pytest.approx(rate) if rate is not None else got_rate is None


@pytest.mark.parametrize(
    ("previous", "current", "boots", "expected"),
    [
        (None, Reading(6000, 60.0), (None, 3), (None, False)),  # the first poll
        (Reading(6000, 0.0), Reading(12000, 60.0), (3, 3), (60.0, False)),
        (Reading(6000, 0.0), Reading(6000, 60.0), (None, None), (0.0, False)),  # stood still
        (Reading(600_000, 0.0), Reading(700, 60.0), (None, None), (None, True)),  # went back
        (Reading(6000, 0.0), Reading(12000, 60.0), (3, 4), (None, True)),  # engine boots rose
        (Reading(6000, 0.0), Reading(12000, 60.0), (None, 4), (60.0, False)),  # first boots
    ],
)
def test_a_reboot_is_the_clock_going_back_or_boots_rising(
    previous: Reading | None,
    current: Reading,
    boots: tuple[int | None, int | None],
    expected: tuple[float | None, bool],
) -> None:
    assert interval(previous, current, *boots) == expected
