"""An agent without sysUpTime: the poller times rates by hrSystemUptime, else snmpEngineTime,
else its own clock; it says so once, and never stores up=false for an agent that answers.
The agent is a fake at our transport boundary: a sorted table of varbinds."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import pytest

from collectors.snmp import ber
from collectors.snmp.client import RequestStats
from collectors.snmp.poller import SnmpPoller, SnmpTarget
from collectors.snmp.profiles import load_profiles

IF_OPER, IF_NAME, IF_HC_IN = (
    "1.3.6.1.2.1.2.2.1.8.1",
    "1.3.6.1.2.1.31.1.1.1.1.1",
    "1.3.6.1.2.1.31.1.1.1.6.1",
)
PROFILES = load_profiles()


class TableAgent:
    """GET and GETBULK over a fixed MIB view, like any agent."""

    def __init__(self, values: dict[str, tuple[int, bytes]]) -> None:
        self.values = values
        self.stats = RequestStats()
        self._sorted = sorted(values, key=lambda o: tuple(map(int, o.split("."))))

    def _keys(self) -> list[tuple[int, ...]]:
        return [tuple(map(int, o.split("."))) for o in self._sorted]

    async def get(self, oids: Sequence[bytes]) -> list[ber.VarBind]:
        out = []
        for oid in oids:
            found = self.values.get(ber.oid_text(oid))
            out.append(
                ber.VarBind(oid, *found) if found else ber.VarBind(oid, ber.NO_SUCH_OBJECT, b"")
            )
        return out

    async def bulk(self, oids: Sequence[bytes], max_repetitions: int) -> list[ber.VarBind]:
        keys, cursors, out = self._keys(), [ber.decode_oid(o) for o in oids], []
        for _ in range(max_repetitions):
            for i, cursor in enumerate(cursors):
                at = bisect.bisect_right(keys, cursor)
                if at == len(keys):
                    out.append(ber.VarBind(ber.encode_oid(cursor), ber.END_OF_MIB_VIEW, b""))
                    continue
                oid = self._sorted[at]
                out.append(ber.VarBind(ber.encode_oid(oid), *self.values[oid]))
                cursors[i] = keys[at]
        return out


def agent(uptime: dict[str, tuple[int, bytes]], octets: int) -> TableAgent:
    return TableAgent(
        {
            "1.3.6.1.2.1.1.2.0": (ber.OBJECT_ID, ber.encode_oid("1.3.6.1.4.1.8072.3.2.10")),
            IF_OPER: (ber.INTEGER, ber.encode_integer(1)),
            "1.3.6.1.2.1.2.2.1.3.1": (ber.INTEGER, ber.encode_integer(6)),
            IF_NAME: (ber.OCTET_STRING, b"eth0"),
            IF_HC_IN: (ber.COUNTER64, ber.encode_unsigned(octets)),
            **uptime,
        }
    )


def ticks(value: int) -> tuple[int, bytes]:
    return ber.TIMETICKS, ber.encode_unsigned(value)


CASES = {
    # name: (uptime varbinds at the first and the second poll, uptime_s stored, log line)
    "hrSystemUptime": (
        {"1.3.6.1.2.1.25.1.1.0": ticks(100_000)}, {"1.3.6.1.2.1.25.1.1.0": ticks(106_000)},
        1060.0, "no sysUpTime; rates are timed by hrSystemUptime",
    ),
    "snmpEngineTime (seconds)": (
        {"1.3.6.1.6.3.10.2.1.3.0": (ber.INTEGER, ber.encode_integer(1000))},
        {"1.3.6.1.6.3.10.2.1.3.0": (ber.INTEGER, ber.encode_integer(1060))},
        1060.0, "no sysUpTime; rates are timed by snmpEngineTime",
    ),
    "nothing: the poller's clock": ({}, {}, None, "no sysUpTime; rates are timed by the poller's clock"),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
async def test_uptime_fallbacks(case: str, caplog: pytest.LogCaptureFixture) -> None:
    first, second, uptime_s, said = CASES[case]
    now = [1_800_000_000.0]
    poller = SnmpPoller(clock=lambda: now[0], profiles=PROFILES)
    samples = []
    for values, octets in ((first, 10**9), (second, 10**9 + 60 * 125_000)):
        target = SnmpTarget("lab", "gw", "access", agent(values, octets))
        samples.append(await poller.poll(target))
        now[0] += 60
    device = samples[1][0].fields
    assert device["up"] is True and device.get("uptime_s") == uptime_s
    assert device["rebooted"] is False
    (eth0,) = [s.fields for s in samples[1] if s.measurement == "interface"]
    assert eth0["in_bps"] == pytest.approx(1e6 * 8 / 8)  # 125 kB/s for 60 s, by either clock
    assert [r.message for r in caplog.records if "sysUpTime" in r.message] == [f"gw: {said}"]


REBOOT_CASES = {
    # name: (sysUpTime and snmpEngineBoots at three polls 60 s apart, rebooted at each)
    "sysUpTime stands still while the agent answers": (
        ((6000, None), (6000, None), (18000, None)), [False, False, False],
    ),
    "sysUpTime goes back": (((600_000, None), (700, None), (6700, None)), [False, True, False]),
    "snmpEngineBoots rises": (((6000, 3), (12000, 4), (18000, 4)), [False, True, False]),
}  # fmt: skip


@pytest.mark.parametrize("case", REBOOT_CASES)
async def test_a_reboot_is_a_clock_going_back_or_boots_rising(case: str) -> None:
    polls, expected = REBOOT_CASES[case]
    now = [1_800_000_000.0]
    poller = SnmpPoller(clock=lambda: now[0], profiles=PROFILES)
    rebooted, rates = [], []
    for i, (uptime, boots) in enumerate(polls):
        values = {"1.3.6.1.2.1.1.3.0": ticks(uptime)}
        if boots is not None:
            values["1.3.6.1.6.3.10.2.1.2.0"] = (ber.INTEGER, ber.encode_integer(boots))
        target = SnmpTarget("lab", "gw", "access", agent(values, 10**9 + i * 60 * 125_000))
        samples = await poller.poll(target)
        rebooted.append(samples[0].fields["rebooted"])
        (eth0,) = [s.fields for s in samples if s.measurement == "interface"]
        rates.append(eth0.get("in_bps"))
        now[0] += 60
    assert rebooted == expected
    if case.startswith("sysUpTime stands"):  # the third rate runs from the first poll's base
        assert rates == [None, None, pytest.approx(1e6 * 2 * 60 / 120)]
