"""The poller against the simulated fleet over real UDP, with the agents on a clock the test
moves, so every rate is predicted exactly from the traffic model."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from collectors.snmp import ber
from collectors.snmp.client import UdpSockets, V2cTransport
from collectors.snmp.poller import SnmpPoller, SnmpTarget
from gateway.collector import CollectorError
from gateway.sample import Sample
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.switch import HR_PROCESSOR_LOAD, SENSOR_TABLE, SimSwitch

pytestmark = pytest.mark.integration
COMMUNITY = b"test-only-community"
MONDAY_10_05 = 1_763_366_700.0  # 2025-11-17 10:05 local model time (in a lesson)
UPLINK, ACCESS = 49, 3


@dataclass
class Lab:
    fleet: SnmpFleet
    sockets: UdpSockets
    poller: SnmpPoller
    now: list[float]
    ports: dict[str, tuple[str, int]]

    def target(
        self, name: str, *, timeout_s: float = 0.5, retries: int = 1, deadline_s: float = 5.0
    ) -> SnmpTarget:
        host, port = self.ports[name]
        transport = V2cTransport(
            self.sockets, name, host, port, COMMUNITY, timeout_s=timeout_s, retries=retries
        )
        return SnmpTarget("school", name, "core", transport, deadline_s=deadline_s)

    def advance(self, seconds: float) -> None:
        self.now[0] += seconds


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    now = [MONDAY_10_05]
    specs = [("sw", {}, "127.0.0.1"), ("old", {"old": True}, "127.0.0.1"), ("sw6", {}, "::1")]
    specs += [(f"peer-{i}", {}, "127.0.0.1") for i in range(18)]
    switches = [
        (SimSwitch(name, seed=11, boot=now[0] - 3 * 86400, **options), host, 0)  # type: ignore[arg-type]
        for name, options, host in specs
    ]
    fleet = SnmpFleet(switches, COMMUNITY, clock=lambda: now[0])
    await fleet.start()  # port 0: the kernel picks free ports, no race with other tests
    sockets = UdpSockets()
    yield Lab(fleet, sockets, SnmpPoller(clock=lambda: now[0]), now, fleet.addresses)
    fleet.close()
    sockets.close()


def interfaces(samples: list[Sample]) -> dict[str, dict[str, object]]:
    return {s.tags["ifname"]: dict(s.fields) for s in samples if s.measurement == "interface"}


def device(samples: list[Sample]) -> dict[str, object]:
    return next(dict(s.fields) for s in samples if s.measurement == "device")


def expected_bps(
    switch: SimSwitch, port: int, direction: str, t1: float, t2: float, bits: int = 64
) -> float:
    traffic = switch.traffic[(port, direction)]
    delta = (traffic.octets(switch.boot, t2) - traffic.octets(switch.boot, t1)) % 2**bits
    return round(delta * 8 / (t2 - t1), 3)


async def test_rates_are_exactly_the_traffic_model(lab: Lab) -> None:
    target, switch = lab.target("sw"), lab.fleet["sw"]
    first = await lab.poller.poll(target)
    assert "in_bps" not in interfaces(first)["Te1/0/1"]  # one reading is not a rate
    t1 = lab.now[0]
    lab.advance(60)
    second = await lab.poller.poll(target)
    uplink, access = interfaces(second)["Te1/0/1"], interfaces(second)["Gi1/0/3"]
    assert uplink["in_bps"] == expected_bps(switch, UPLINK, "in", t1, lab.now[0])
    assert uplink["out_bps"] == expected_bps(switch, UPLINK, "out", t1, lab.now[0])
    assert uplink["in_util_pct"] == round(100 * float(uplink["in_bps"]) / 10e9, 4)  # type: ignore[arg-type]
    assert uplink["speed_mbps"] == 10_000 and uplink["oper_up"] is True
    assert access["in_bps"] == expected_bps(switch, ACCESS, "in", t1, lab.now[0])
    roles = {s.tags["ifname"]: s.tags["role"] for s in second if s.measurement == "interface"}
    assert roles["Te1/0/1"] == "uplink" and roles["Gi1/0/3"] == "access" and len(roles) == 50
    info = device(second)
    assert info["up"] is True and info["uptime_s"] == 3 * 86400 + 60
    assert info["high_capacity_counters"] is True and "cpu_pct" in info and "temp_c" in info
    optics = {s.tags["ifname"]: s.fields for s in second if s.measurement == "optics"}
    assert set(optics) == {"Te1/0/1", "Te1/0/2"}
    assert -10 < float(optics["Te1/0/1"]["rx_dbm"]) < 0  # type: ignore[arg-type]


async def test_a_poll_out_of_schedule_rates_each_interval_by_its_own_length(lab: Lab) -> None:
    """The topology may ask a switch between two scheduled polls (gateway/polling.py
    `poll_now`): each rate is over the agent's own time since the poll before (a whole
    interval, 1.5 s, the rest of the interval), for 64- and 32-bit counters alike (a 1G link's
    32-bit counters are polled every 30 s, the most it allows)."""
    for name, bits, interval_s in (("sw", 64, 60), ("old", 32, 30)):
        target, switch = lab.target(name), lab.fleet[name]
        await lab.poller.poll(target)
        for seconds in (interval_s, 1.5, interval_s - 1.5):
            before = lab.now[0]
            lab.advance(seconds)
            uplink = interfaces(await lab.poller.poll(target))["Te1/0/1"]
            expected = expected_bps(switch, UPLINK, "in", before, lab.now[0], bits=bits)
            assert uplink["in_bps"] == expected, (name, seconds)
            assert uplink["out_bps"] == expected_bps(
                switch, UPLINK, "out", before, lab.now[0], bits=bits
            )


async def test_a_reboot_is_recorded_never_a_spike(lab: Lab) -> None:
    target = lab.target("sw")
    await lab.poller.poll(target)
    lab.advance(30)
    lab.fleet.reboot("sw")
    lab.advance(30)
    after = await lab.poller.poll(target)
    assert device(after)["rebooted"] is True and device(after)["uptime_s"] == 30
    assert all("in_bps" not in f for f in interfaces(after).values())
    t1 = lab.now[0]
    lab.advance(60)
    again = await lab.poller.poll(target)
    assert device(again)["rebooted"] is False
    assert interfaces(again)["Te1/0/1"]["in_bps"] == expected_bps(
        lab.fleet["sw"], UPLINK, "in", t1, lab.now[0]
    )


async def test_old_switch_32_bit_counters_wrap_correctly(lab: Lab) -> None:
    """1G uplink, 32-bit counters, polled every 30 s (the most a 1G link allows)."""
    target, switch = lab.target("old"), lab.fleet["old"]
    traffic = switch.traffic[(UPLINK, "in")]
    while True:  # find a 30 s interval in which the 32-bit counter wraps
        t1 = lab.now[0]
        before, after = traffic.octets(switch.boot, t1), traffic.octets(switch.boot, t1 + 30)
        if after % 2**32 < before % 2**32:
            break
        lab.advance(5)
    await lab.poller.poll(target)
    lab.advance(30)
    samples = await lab.poller.poll(target)
    assert device(samples)["high_capacity_counters"] is False
    uplink = interfaces(samples)["Te1/0/1"]
    assert uplink["speed_mbps"] == 1000
    assert uplink["in_bps"] == expected_bps(switch, UPLINK, "in", t1, lab.now[0], bits=32)
    assert 0 < float(uplink["in_bps"]) < 1e9  # type: ignore[arg-type]


async def test_32_bit_counters_polled_too_slowly_are_discarded_not_guessed(lab: Lab) -> None:
    target, switch = lab.target("old"), lab.fleet["old"]
    await lab.poller.poll(target)
    t1 = lab.now[0]
    lab.advance(60)  # a 1G link can carry 7.5 GB in 60 s: how often did 32 bits wrap?
    samples = interfaces(await lab.poller.poll(target))
    assert "in_bps" not in samples["Te1/0/1"]
    assert samples["Te1/0/1"]["in_rate_discarded"] == "ambiguous_wrap"
    assert lab.poller.discarded["ambiguous_wrap"] > 0
    # a 100M access port cannot wrap twice in 60 s: exact
    assert samples["Gi1/0/3"]["in_bps"] == expected_bps(
        switch, ACCESS, "in", t1, lab.now[0], bits=32
    )


async def test_link_flap_and_its_traps(lab: Lab) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(2)
    lab.fleet.trap_receiver = receiver.getsockname()
    target = lab.target("sw")
    await lab.poller.poll(target)
    lab.fleet.flap("sw", UPLINK, up=False)
    lab.advance(60)
    down = interfaces(await lab.poller.poll(target))["Te1/0/1"]
    assert down["oper_up"] is False and down["in_bps"] == 0.0
    lab.fleet.flap("sw", UPLINK, up=True)
    traps = [ber.decode_message(receiver.recv(2048)) for _ in range(2)]
    receiver.close()
    kinds = [ber.oid_text(t.varbinds[1].raw) for t in traps]
    assert kinds == ["1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.4"]  # linkDown, linkUp
    assert all(t.pdu == ber.TRAP_V2 for t in traps)
    assert [ber.value_of(t.varbinds[2]) for t in traps] == [UPLINK, UPLINK]
    lab.advance(60)
    up = interfaces(await lab.poller.poll(target))["Te1/0/1"]
    assert up["oper_up"] is True and float(up["in_bps"]) > 0  # type: ignore[arg-type]


async def test_one_slow_and_one_silent_switch_delay_nobody(lab: Lab) -> None:
    # timings relative to the slow things, not absolute: on a loaded machine the healthy polls
    # may take longer, but never as long as one timeout, which they would if the silent or the
    # slow switch delayed them
    delay_s, timeout_s, deadline_s = 20.0, 1.5, 4.0
    lab.fleet["peer-0"].faults.delay_s = delay_s
    lab.fleet["peer-1"].faults.silent = True
    started = time.monotonic()
    finished: dict[str, float] = {}

    async def poll(name: str) -> list[Sample]:
        target = lab.target(name, timeout_s=timeout_s, retries=1, deadline_s=deadline_s)
        try:
            return await lab.poller.poll(target)
        except CollectorError as error:
            return error.samples
        finally:
            finished[name] = time.monotonic() - started

    names = [f"peer-{i}" for i in range(18)]
    results = dict(zip(names, await asyncio.gather(*(poll(n) for n in names)), strict=True))
    assert device(results["peer-0"])["up"] is False and device(results["peer-1"])["up"] is False
    assert "poll_ms" in device(results["peer-1"])
    healthy = [n for n in names if n not in ("peer-0", "peer-1")]
    assert all(device(results[n])["up"] is True for n in healthy)
    # both end after their two timeouts (the slow one's answers come too late to count)
    assert min(finished["peer-0"], finished["peer-1"]) >= 2 * timeout_s
    assert max(finished[n] for n in healthy) < timeout_s  # before the first timeout even fires
    assert finished["peer-0"] < delay_s / 2  # edumon gave up; it did not wait for the agent


async def test_truncated_bulk_answers_give_the_same_result(lab: Lab) -> None:
    lab.fleet["peer-2"].faults.truncate_bulk = 7
    normal = await lab.poller.poll(lab.target("peer-3"))
    truncated = await lab.poller.poll(lab.target("peer-2"))
    assert len(truncated) == len(normal)
    assert set(interfaces(truncated)) == set(interfaces(normal))


async def test_missing_mibs_are_tolerated(lab: Lab) -> None:
    lab.fleet["peer-4"].faults.no_such = {SENSOR_TABLE, HR_PROCESSOR_LOAD}
    samples = await lab.poller.poll(lab.target("peer-4"))
    info = device(samples)
    assert info["up"] is True and "cpu_pct" not in info and "temp_c" not in info
    assert not [s for s in samples if s.measurement == "optics"]
    assert len(interfaces(samples)) == 50
    transport = lab.target("peer-4").transport
    [vb] = await transport.get([ber.encode_oid("1.3.6.1.2.1.2.2.1.2.999")])
    assert vb.tag == ber.NO_SUCH_INSTANCE


async def test_malformed_answers_are_counted_and_the_device_is_down(lab: Lab) -> None:
    lab.fleet["peer-5"].faults.malformed = True
    with pytest.raises(CollectorError) as failure:
        await lab.poller.poll(lab.target("peer-5", timeout_s=0.2, retries=0))
    assert device(failure.value.samples)["up"] is False
    assert lab.sockets.malformed >= 1


async def test_wrong_community_is_silence(lab: Lab) -> None:
    host, port = lab.ports["peer-6"]
    transport = V2cTransport(lab.sockets, "peer-6", host, port, b"wrong", timeout_s=0.2, retries=0)
    with pytest.raises(CollectorError):
        await lab.poller.poll(SnmpTarget("school", "peer-6", "core", transport))
    assert lab.fleet.stats.wrong_community == 1


async def test_ipv6_target_works_like_ipv4(lab: Lab) -> None:
    target = lab.target("sw6")
    await lab.poller.poll(target)
    t1 = lab.now[0]
    lab.advance(60)
    uplink = interfaces(await lab.poller.poll(target))["Te1/0/1"]
    assert uplink["in_bps"] == expected_bps(lab.fleet["sw6"], UPLINK, "in", t1, lab.now[0])
