"""Time-weighting: holds, gaps as unknown, Last-Will holds, masks and combinations."""

from __future__ import annotations

import pytest

from gateway.reports.timeline import Timeline, Totals, all_up, any_up, combine

GAP = 30


def tl(*segments: tuple[int, int, bool]) -> Timeline:
    return Timeline(segments)


@pytest.mark.parametrize(
    ("points", "down_holds", "segments"),
    [
        ([], False, []),
        ([(0, True)], False, []),  # the last sample bounds nothing
        ([(0, True), (10, True), (20, False), (30, True)], False, [(0, 20, True), (20, 30, False)]),
        # a silence longer than the gap is unknown, whatever came before
        (
            [(0, True), (10, True), (100, True), (110, True)],
            False,
            [(0, 10, True), (100, 110, True)],
        ),
        ([(0, False), (100, True), (110, True)], False, [(100, 110, True)]),
        # the Last Will's "offline" holds until the device speaks again
        (
            [(0, True), (10, False), (100, True), (110, True)],
            True,
            [(0, 10, True), (10, 100, False), (100, 110, True)],
        ),
        # but "online" never holds across a gap
        ([(0, True), (100, True)], True, []),
        # exactly max gap apart still holds
        ([(0, False), (GAP, True)], False, [(0, GAP, False)]),
    ],
)
def test_from_samples(
    points: list[tuple[int, bool]], down_holds: bool, segments: list[tuple[int, int, bool]]
) -> None:
    assert Timeline.from_samples(points, GAP, down_holds=down_holds).segments == segments


def test_totals_split_up_down_unknown_and_excluded() -> None:
    timeline = tl((0, 40, True), (40, 50, False), (70, 100, True))
    assert timeline.totals(0, 100) == Totals(70, 10, 20, 0)
    # count only [20, 90): up 20-40 and 70-90, down 40-50, unknown 50-70, 30 excluded
    counted = Timeline.constant([(20, 90)])
    totals = timeline.totals(0, 100, counted)
    assert totals == Totals(40, 10, 20, 30)
    assert totals.up_pct() == 80.0
    assert Timeline().totals(0, 100).up_pct() is None  # nothing known is not 0 % and not 100 %
    assert timeline.totals(45, 60) == Totals(0, 5, 10, 0)  # clipped to the window


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (any_up, [(0, 10, True), (10, 20, False), (20, 30, True), (30, 40, True)]),
        (all_up, [(0, 10, False), (10, 20, False), (20, 30, True), (30, 40, True)]),
    ],
)
def test_combine_rules(rule: object, expected: list[tuple[int, int, bool]]) -> None:
    a = tl((0, 10, True), (10, 20, False), (20, 30, True))  # unknown 30-40
    b = tl((0, 20, False), (30, 40, True))  # unknown 20-30
    assert combine([a, b], rule).segments == Timeline(expected).segments  # type: ignore[arg-type]


def test_state_at() -> None:
    timeline = tl((0, 10, True), (20, 30, False))
    assert [timeline.state_at(t) for t in (-1, 0, 9, 10, 20, 29, 30)] == [
        None,
        True,
        True,
        None,
        False,
        False,
        None,
    ]
