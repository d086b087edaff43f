"""Deduplication, frame loss, f_cnt resets and wrap, window eviction."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.lorawan.tracking import UplinkTracker
from collectors.lorawan.uplink import GatewayRx, Uplink

SECOND = 1_000_000_000
T0 = 1_763_372_000 * SECOND
EUI = "70b3d57ed0050001"


def uplink(
    f_cnt: int,
    *,
    at: int = T0,
    dedup: str | None = None,
    eui: str = EUI,
    gateways: tuple[GatewayRx, ...] = (GatewayRx("fake-gw-1", -90, 5.0),),
) -> Uplink:
    return Uplink(
        network_server="chirpstack" if dedup else "ttn",
        dedup_id=dedup,
        dev_eui=eui,
        device_name="env-101",
        f_port=2,
        f_cnt=f_cnt,
        payload=b"",
        decoded=None,
        gateways=gateways,
        sf=7,
        received_ns=at,
    )


def test_same_frame_via_several_gateways_is_one_uplink() -> None:
    tracker = UplinkTracker()
    first = tracker.accept(uplink(10, gateways=(GatewayRx("fake-gw-1", -90, 5.0),)))
    assert first is not None
    # TTS-style: no dedup id, the same f_cnt arrives again through another gateway/route
    assert (
        tracker.accept(uplink(10, at=T0 + SECOND, gateways=(GatewayRx("fake-gw-2", -70, 8.0),)))
        is None
    )
    assert tracker.accept(uplink(11, at=T0 + 2 * SECOND)) is not None


def test_chirpstack_dedup_id_decides_not_f_cnt() -> None:
    tracker = UplinkTracker()
    assert tracker.accept(uplink(5, dedup="fake-dedup-1")) is not None
    assert tracker.accept(uplink(5, dedup="fake-dedup-1", at=T0 + 5 * SECOND)) is None
    retransmitted = tracker.accept(uplink(5, dedup="fake-dedup-2", at=T0 + 6 * SECOND))
    assert retransmitted is not None
    assert (retransmitted.frames_lost, retransmitted.f_cnt_reset) == (0, False)


def test_best_gateway_is_highest_snr_then_rssi() -> None:
    gateways = (
        GatewayRx("fake-gw-far", -118, -7.5),
        GatewayRx("fake-gw-near", -80, 9.0),
        GatewayRx("fake-gw-near-loud", -60, 9.0),
    )
    result = UplinkTracker().accept(uplink(1, gateways=gateways))
    assert result is not None
    assert (result.best_gateway, result.rssi, result.snr, result.gateways) == (
        "fake-gw-near-loud",
        -60,
        9.0,
        3,
    )
    empty = UplinkTracker().accept(uplink(1, gateways=()))
    assert empty is not None
    assert (empty.best_gateway, empty.rssi, empty.snr, empty.gateways) == (None, None, None, 0)


@pytest.mark.parametrize(
    ("f_cnts", "lost", "resets"),
    [
        ([100, 101, 102], [0, 0, 0], [False, False, False]),
        ([100, 103, 104, 110], [0, 2, 0, 5], [False] * 4),
        ([500, 501, 0, 1, 3], [0, 0, 0, 0, 1], [False, False, True, False, False]),  # rejoin
        ([500, 5], [0, 0], [False, True]),  # back to a small value
        ([5000, 4000, 4001], [0, 0, 0], [False, True, False]),  # large drop
        ([5000, 4998, 5001], [0, 0, 0], [False, False, False]),  # a late frame, not a reset
        ([2**32 - 2, 2**32 - 1, 0, 2], [0, 0, 0, 1], [False] * 4),  # 32-bit wrap
        ([2**32 - 3, 1], [0, 3], [False, False]),  # wrap across lost frames
        ([100, 100_000], [0, 0], [False, True]),  # beyond MAX_FCNT_GAP: a new session
    ],
)
def test_frame_loss_resets_and_wrap(f_cnts: list[int], lost: list[int], resets: list[bool]) -> None:
    tracker = UplinkTracker()
    results = [tracker.accept(uplink(n, at=T0 + i * 70 * SECOND)) for i, n in enumerate(f_cnts)]
    assert all(r is not None for r in results)
    assert [r.frames_lost for r in results if r] == lost
    assert [r.f_cnt_reset for r in results if r] == resets


def test_devices_are_tracked_separately() -> None:
    tracker = UplinkTracker()
    tracker.accept(uplink(10))
    other = tracker.accept(uplink(10, eui="70b3d57ed0050002"))
    assert other is not None
    after_gap = tracker.accept(uplink(13, at=T0 + SECOND))
    assert after_gap is not None
    assert after_gap.frames_lost == 2


def test_window_eviction_and_bounded_memory() -> None:
    tracker = UplinkTracker(window_ns=60 * SECOND, max_entries=50)
    assert tracker.accept(uplink(1)) is not None
    assert tracker.accept(uplink(1, at=T0 + 59 * SECOND)) is None
    # after the window the same (dev_eui, f_cnt) is a new delivery: no loss, no reset
    late = tracker.accept(uplink(1, at=T0 + 61 * SECOND))
    assert late is not None
    assert (late.frames_lost, late.f_cnt_reset) == (0, False)
    for i in range(200):
        tracker.accept(uplink(2 + i, at=T0 + 120 * SECOND + i))
    assert len(tracker) <= 50
    for i in range(10):
        tracker.accept(uplink(500 + i, at=T0 + 1000 * SECOND + i))
    assert len(tracker) == 10  # everything older than the window was evicted


def test_window_eviction_survives_out_of_order_times() -> None:
    tracker = UplinkTracker(window_ns=60 * SECOND)
    tracker.accept(uplink(1, at=T0 + 100 * SECOND))
    tracker.accept(uplink(2, at=T0))  # a late, older message
    assert tracker.accept(uplink(1, at=T0 + 101 * SECOND)) is None


@given(st.lists(st.integers(0, 5), min_size=1, max_size=40), st.integers(0, 2**32 - 1))
def test_consecutive_frames_with_gaps_count_exactly(gaps: list[int], start: int) -> None:
    tracker = UplinkTracker()
    tracker.accept(uplink(start))
    f_cnt, at = start, T0
    for gap in gaps:
        f_cnt = (f_cnt + gap + 1) % 2**32
        at += SECOND
        result = tracker.accept(uplink(f_cnt, at=at))
        assert result is not None
        assert (result.frames_lost, result.f_cnt_reset) == (gap, False)


@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 10**12)), max_size=60))
def test_any_sequence_gives_sane_results(frames: list[tuple[int, int]]) -> None:
    tracker = UplinkTracker(max_entries=20)
    for f_cnt, offset in frames:
        result = tracker.accept(replace(uplink(f_cnt), received_ns=T0 + offset))
        if result is not None:
            assert 0 <= result.frames_lost <= tracker.max_gap
            assert not (result.f_cnt_reset and result.frames_lost)
    assert len(tracker) <= 20
