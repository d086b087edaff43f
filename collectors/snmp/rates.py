"""Counter -> rate, without the spikes other pollers draw.

Time between two polls comes from the agent's own sysUpTime, so poller scheduling jitter and
network latency do not distort rates. Rules:
- sysUpTime went backwards (and it is not the 497-day TimeTicks wrap): the agent rebooted;
  no rate for this interval, everything starts over (counted as a reboot, never a spike);
  a sysUpTime that stood still while the agent answered is no reboot, just no time to rate;
- a 64-bit counter that went backwards was reset (e.g. the interface was reset): no rate;
- a 32-bit counter may have wrapped, maybe several times: the delta modulo 2^32 is the only
  possible answer when one more wrap would exceed the interface speed; otherwise the number
  of wraps is unknowable and the rate is skipped (e.g. a 1G link needs polls <= 30 s apart);
- a rate above the interface speed (plus 5 %) is impossible: discarded and counted;
- error and discard counters (32-bit in IF-MIB) follow the same rules: a counter that went
  back wrapped only when the wrapped count fits the packets the link can carry in the
  interval; otherwise it was reset (no rate, counted), never a spike of 2^32 errors;
- ifCounterDiscontinuityTime moved: the agent says its counters restarted; no rate;
- the packet counters of the same interval must fit the octets: more packets per second
  than the link can carry, or octets per packet outside what a frame can be, is a reset the
  agent did not tell (net-snmp 5.9 shows a reset of a Linux interface as a +2^32 jump).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

TICKS_WRAP = 2**32
SPEED_TOLERANCE = 1.05
MIN_WIRE_FRAME_BITS = 84 * 8  # 64-byte frame + preamble + inter-frame gap
MIN_FRAME_OCTETS = 20  # below any frame an interface counts, with slack for header-only counts
MAX_FRAME_OCTETS = 65_536 + 1_518  # a GRO/TSO super-frame on a Linux interface, plus one frame
FRAME_CHECK_PACKETS = 1_000  # under this many packets, octet counts read a moment apart vary


class Verdict(enum.Enum):
    OK = "ok"
    FIRST = "first"  # no previous reading
    RESET = "reset"
    AMBIGUOUS_WRAP = "ambiguous_wrap"
    ABOVE_SPEED = "above_speed"
    DISCONTINUITY = "discontinuity"
    PACKET_RATE = "above_packet_rate"
    FRAME_SIZE = "implausible_frames"


@dataclass(frozen=True)
class Reading:
    uptime_ticks: int  # sysUpTime in 1/100 s
    wall_s: float  # poller clock when it was read, for the TimeTicks-wrap check


def elapsed_s(previous: Reading, current: Reading) -> float | None:
    """Seconds between two readings by the agent's clock; None when the agent rebooted
    (its clock went back); 0.0 when the clock stood still (no rate, but no reboot)."""
    delta = current.uptime_ticks - previous.uptime_ticks
    if delta >= 0:
        return delta / 100
    wall = current.wall_s - previous.wall_s
    wrapped = (delta + TICKS_WRAP) / 100
    # a TimeTicks wrap after ~497 days looks like a reboot, but agrees with the wall clock
    if previous.uptime_ticks > TICKS_WRAP * 0.9 and abs(wrapped - wall) < max(5.0, wall * 0.1):
        return wrapped
    return None


def interval(
    previous: Reading | None, current: Reading, boots_before: int | None, boots_now: int | None
) -> tuple[float | None, bool]:
    """(seconds to rate over, rebooted) from the previous reading to this one: a reboot is
    the agent's clock going back or snmpEngineBoots rising, and leaves nothing to rate."""
    if previous is None:
        return None, False
    seconds = elapsed_s(previous, current)
    rose = boots_now is not None and boots_before is not None and boots_now > boots_before
    return (None, True) if seconds is None or rose else (seconds, False)


def counter_rate(
    previous: int | None, current: int, seconds: float, *, bits: int, speed_bps: float | None
) -> tuple[float | None, Verdict]:
    """Bits per second from two octet-counter readings `seconds` apart."""
    if previous is None:
        return None, Verdict.FIRST
    delta = current - previous
    if bits == 64 and delta < 0:
        return None, Verdict.RESET
    if bits == 32:
        delta %= 2**32
        if speed_bps is None or (delta + 2**32) * 8 / seconds <= speed_bps * SPEED_TOLERANCE:
            return None, Verdict.AMBIGUOUS_WRAP
    rate = delta * 8 / seconds
    if speed_bps and rate > speed_bps * SPEED_TOLERANCE:
        return None, Verdict.ABOVE_SPEED
    return rate, Verdict.OK


def event_rate(
    previous: int | None, current: int, seconds: float, *, speed_bps: float | None
) -> tuple[float | None, Verdict]:
    """Per-second rate of a 32-bit event counter (errors, discards: each is a frame): a
    counter that went back wrapped only if the wrapped count fits the frames the link can
    carry in `seconds`; otherwise (or with the speed unknown) it was reset."""
    if previous is None:
        return None, Verdict.FIRST
    delta = current - previous
    most = speed_bps / MIN_WIRE_FRAME_BITS * SPEED_TOLERANCE * seconds if speed_bps else None
    if delta < 0:
        delta += 2**32
        if most is None or delta > most:
            return None, Verdict.RESET
    if most is not None and delta > most:
        return None, Verdict.PACKET_RATE
    return delta / seconds, Verdict.OK


def counter_delta(previous: int | None, current: int, *, bits: int) -> int | None:
    """How far a counter moved (one wrap at most for 32 bits); None when unknown."""
    if previous is None:
        return None
    delta = current - previous
    if delta < 0:
        if bits == 64:
            return None
        delta += 2**bits
    return delta


def packets_fit(octets: int, packets: int, seconds: float, speed_bps: float | None) -> Verdict:
    """Do `octets` and `packets` counted over one interval describe real frames?"""
    if speed_bps and packets / seconds > speed_bps / MIN_WIRE_FRAME_BITS * SPEED_TOLERANCE:
        return Verdict.PACKET_RATE
    if octets > (packets + 2) * MAX_FRAME_OCTETS:
        return Verdict.FRAME_SIZE
    if packets >= FRAME_CHECK_PACKETS and octets < packets * MIN_FRAME_OCTETS:
        return Verdict.FRAME_SIZE
    return Verdict.OK
