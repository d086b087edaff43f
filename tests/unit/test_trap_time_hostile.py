"""RFC 3414 timeliness of v3 traps on a fake clock: the engine's clock is followed, not frozen."""

from __future__ import annotations

import pytest

from collectors.snmp.trap_time import NotInTimeWindow, TrapTimeliness

ENGINE = b"\x80\x00\x1f\x88\x80switch"


def test_the_window_follows_the_engines_clock() -> None:
    now = [1000.0]
    timeliness = TrapTimeliness(clock=lambda: now[0])
    timeliness.check(ENGINE, 3, 50_000, 1)
    now[0] += 600  # ten minutes later the switch's clock says about 50,600
    timeliness.check(ENGINE, 3, 50_590, 2)
    with pytest.raises(NotInTimeWindow):
        timeliness.check(ENGINE, 3, 50_010, 3)  # a trap captured back then, replayed now
    with pytest.raises(NotInTimeWindow) as replayed:
        timeliness.check(ENGINE, 3, 50_590, 2)
    assert replayed.value.reason == "replayed"
    timeliness.check(b"another engine", 1, 7, 1)  # engines are independent


@pytest.mark.parametrize("boots", [0, -1, 2**31 - 1])
def test_boots_of_no_running_engine_never_pass(boots: int) -> None:
    with pytest.raises(NotInTimeWindow):
        TrapTimeliness().check(ENGINE, boots, 0, 1)


def test_memory_is_bounded() -> None:
    timeliness = TrapTimeliness(max_engines=100)
    for n in range(1000):
        timeliness.check(n.to_bytes(8, "big"), 1, n, n)
    assert len(timeliness._engines) == 100
