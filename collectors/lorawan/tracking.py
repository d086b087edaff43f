"""Deduplication and frame-loss accounting of LoRaWAN uplinks.

Duplicates: the same ChirpStack deduplicationId, or (without one) the same dev_eui and f_cnt,
seen again within the window (by the uplink's own receive time). Memory is bounded: entries
older than the window are evicted, and at most `max_entries` are kept.

Frame loss: the gap between consecutive f_cnt of a device, modulo 2**32 (so a 32-bit wrap is
not a loss spike). A f_cnt that goes back to a small value, or drops by more than
`reset_drop`, or jumps forward by more than `max_gap`, is a reset (the device rejoined or
rebooted): no loss is counted and `f_cnt_reset` is set. A small step back is a late frame.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from collectors.lorawan.uplink import GatewayRx, Uplink

F_CNT_MODULO = 1 << 32
DEFAULT_WINDOW_NS = 60 * 1_000_000_000


@dataclass(frozen=True)
class TrackResult:
    frames_lost: int
    f_cnt_reset: bool
    best_gateway: str | None  # highest snr, then highest rssi; None without rx metadata
    rssi: int | None
    snr: float | None
    gateways: int


class UplinkTracker:
    def __init__(
        self,
        *,
        window_ns: int = DEFAULT_WINDOW_NS,
        reset_below: int = 10,
        reset_drop: int = 100,
        max_gap: int = 16384,
        max_entries: int = 100_000,
        max_devices: int = 100_000,
    ) -> None:
        self.window_ns = window_ns
        self.reset_below = reset_below
        self.reset_drop = reset_drop
        self.max_gap = max_gap  # LoRaWAN's MAX_FCNT_GAP
        self.max_entries = max_entries
        self.max_devices = max_devices
        self._seen: OrderedDict[tuple[str, ...], int] = OrderedDict()
        self._last_f_cnt: OrderedDict[str, int] = OrderedDict()
        self._newest_ns = 0

    def __len__(self) -> int:
        """Dedup entries held now (for tests and self-metrics)."""
        return len(self._seen)

    def accept(self, uplink: Uplink) -> TrackResult | None:
        """The tracking result of a new uplink, or None for a duplicate."""
        key = (
            ("id", uplink.dedup_id)
            if uplink.dedup_id
            else ("fcnt", uplink.dev_eui, str(uplink.f_cnt))
        )
        self._evict(uplink.received_ns)
        seen_ns = self._seen.get(key)
        if seen_ns is not None and abs(uplink.received_ns - seen_ns) <= self.window_ns:
            return None
        self._seen[key] = uplink.received_ns
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        lost, reset = self._frame_loss(uplink.dev_eui, uplink.f_cnt)
        best = best_gateway(uplink.gateways)
        return TrackResult(
            frames_lost=lost,
            f_cnt_reset=reset,
            best_gateway=best.gateway_id if best else None,
            rssi=best.rssi if best else None,
            snr=best.snr if best else None,
            gateways=len(uplink.gateways),
        )

    def _evict(self, received_ns: int) -> None:
        self._newest_ns = max(self._newest_ns, received_ns)
        oldest_kept = self._newest_ns - self.window_ns
        while self._seen:
            key, seen_ns = next(iter(self._seen.items()))
            if seen_ns >= oldest_kept:
                break
            del self._seen[key]

    def _frame_loss(self, dev_eui: str, f_cnt: int) -> tuple[int, bool]:
        previous = self._last_f_cnt.get(dev_eui)
        lost, reset, advance = 0, False, True
        if previous is not None:
            step = (f_cnt - previous) % F_CNT_MODULO
            if step == 0:  # a retransmission after the dedup window
                advance = False
            elif step <= self.max_gap:  # forward, possibly across the 32-bit wrap
                lost = step - 1
            elif f_cnt < self.reset_below or previous - f_cnt > self.reset_drop or f_cnt > previous:
                reset = True
            else:  # a late frame a few counts back: already counted as lost, keep the newest
                advance = False
        if advance:
            self._last_f_cnt[dev_eui] = f_cnt
            self._last_f_cnt.move_to_end(dev_eui)
            while len(self._last_f_cnt) > self.max_devices:
                self._last_f_cnt.popitem(last=False)
        return lost, reset


def best_gateway(gateways: tuple[GatewayRx, ...]) -> GatewayRx | None:
    """The gateway that heard the uplink best: highest SNR, then highest RSSI."""
    return max(gateways, key=lambda rx: (rx.snr, rx.rssi), default=None)
