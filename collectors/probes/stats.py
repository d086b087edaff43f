"""Statistics of one probe burst: RTT min/avg/max, jitter, loss."""

from __future__ import annotations

import itertools
from collections.abc import Sequence


def burst_fields(rtts_ms: Sequence[float | None]) -> dict[str, float | int]:
    """Fields for a burst; `None` is a lost packet. RTT fields only exist when something came
    back, so a dead target never drags averages towards 0 ms.

    Jitter is the mean absolute difference of consecutive RTTs (RFC 3550's idea, unsmoothed).
    """
    sent = len(rtts_ms)
    got = [rtt for rtt in rtts_ms if rtt is not None]
    fields: dict[str, float | int] = {
        "sent": sent,
        "received": len(got),
        "loss_pct": round(100.0 * (sent - len(got)) / sent, 3) if sent else 100.0,
    }
    if got:
        fields["rtt_ms"] = round(sum(got) / len(got), 3)
        fields["rtt_min_ms"] = round(min(got), 3)
        fields["rtt_max_ms"] = round(max(got), 3)
        steps = [abs(b - a) for a, b in itertools.pairwise(got)]
        fields["jitter_ms"] = round(sum(steps) / len(steps), 3) if steps else 0.0
    return fields
