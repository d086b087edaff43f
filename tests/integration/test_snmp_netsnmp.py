"""The same poller against a real net-snmp `snmpd`: what our walker reads agrees with
`snmpbulkwalk` of the same OIDs in the same test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from collectors.snmp import ber
from collectors.snmp.client import UdpSockets, V2cTransport, walk_columns
from collectors.snmp.interfaces import STATE_COLUMNS
from collectors.snmp.poller import SnmpPoller, SnmpTarget
from tests.netns_lab import VethLink
from tests.netns_lab import missing_tools as netns_missing
from tests.netsnmp import bulkwalk as netsnmp_bulkwalk
from tests.netsnmp import serve_snmpd
from tests.unavailable import unavailable

pytestmark = pytest.mark.integration
COMMUNITY = "test-only-community"
V2C = ["-v2c", "-c", COMMUNITY]
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"  # ifName
ROUNDS, DATAGRAMS, DATAGRAM_BYTES, POLL_GAP_S, RESET_GAP_S = 8, 300, 1000, 1.5, 4.0


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    yield from serve_snmpd(
        tmp_path_factory.mktemp("snmpd"), f"rocommunity {COMMUNITY} 127.0.0.1\n", V2C
    )


def bulkwalk(port: int, oid: str) -> dict[int, str]:
    return netsnmp_bulkwalk(port, oid, V2C)


@pytest.fixture
async def transport(snmpd: int) -> AsyncIterator[V2cTransport]:
    sockets = UdpSockets()
    yield V2cTransport(
        sockets, "snmpd", "127.0.0.1", snmpd, COMMUNITY.encode(), timeout_s=1, retries=1
    )
    sockets.close()


async def test_names_and_counters_agree_with_snmpbulkwalk(
    snmpd: int, transport: V2cTransport
) -> None:
    names_oid, in_oid, out_oid = (
        "1.3.6.1.2.1.31.1.1.1.1",
        "1.3.6.1.2.1.31.1.1.1.6",
        "1.3.6.1.2.1.31.1.1.1.10",
    )
    before = {oid: bulkwalk(snmpd, oid) for oid in (in_oid, out_oid)}
    ours = await walk_columns(
        transport, [ber.encode_oid(o) for o in (names_oid, in_oid, out_oid)], 10
    )
    after = {oid: bulkwalk(snmpd, oid) for oid in (in_oid, out_oid)}
    names = {index[0]: vb.raw.decode() for index, vb in ours[ber.encode_oid(names_oid)].items()}
    assert names == bulkwalk(snmpd, names_oid)
    assert "lo" in names.values()
    for oid in (in_oid, out_oid):
        counters = {
            i[0]: int.from_bytes(vb.raw, "big") for i, vb in ours[ber.encode_oid(oid)].items()
        }
        assert set(counters) == set(before[oid]) == set(after[oid])
        for index, value in counters.items():
            # counters move (our own SNMP traffic crosses lo): ours lies between the two walks
            assert int(before[oid][index]) <= value <= int(after[oid][index]), (oid, index)


async def test_poller_reads_snmpd_like_a_switch(snmpd: int, transport: V2cTransport) -> None:
    poller = SnmpPoller()
    target = SnmpTarget("host", "snmpd", "core", transport, include=("^lo$",))
    await poller.poll(target)
    time.sleep(1.1)  # let sysUpTime advance
    samples = await poller.poll(target)
    device = next(s for s in samples if s.measurement == "device")
    assert device.fields["up"] is True and device.fields["high_capacity_counters"] is True
    interfaces = {s.tags["ifname"]: s.fields for s in samples if s.measurement == "interface"}
    names, types = bulkwalk(snmpd, "1.3.6.1.2.1.31.1.1.1.1"), bulkwalk(snmpd, "1.3.6.1.2.1.2.2.1.3")
    # ethernet ports, and the loopback because the target includes it by name
    assert set(interfaces) == {n for i, n in names.items() if types[i] == "6"} | {"lo"}
    # snmpd caches ifTable for a few seconds, so the rate may be 0, but it is a rate
    assert float(interfaces["lo"]["in_bps"]) >= 0 and interfaces["lo"]["oper_up"] is True
    assert set(bulkwalk(snmpd, STATE_COLUMNS["oper"])) == {
        int(i) for i in bulkwalk(snmpd, "1.3.6.1.2.1.2.2.1.1").values()
    }


async def test_a_veth_recreated_mid_poll_never_shows_more_than_was_sent(
    snmpd: int, transport: V2cTransport
) -> None:
    """The veth pair is deleted and made again (same name and ifIndex, counters from zero)
    while it is polled: net-snmp then shows the drop as a jump of +2^32. No stored rate may
    be more than every bit sent across the link in the whole test, in one second."""
    if reason := netns_missing():
        unavailable(reason)
    with VethLink() as link:
        deadline = time.monotonic() + 30
        while link.name not in bulkwalk(snmpd, IF_NAME).values():  # snmpd caches its list
            assert time.monotonic() < deadline, "snmpd never showed the veth"
            await asyncio.sleep(0.5)
        poller = SnmpPoller()
        target = SnmpTarget("host", "snmpd", "core", transport)
        stored: list[dict[str, object]] = []
        for round_ in range(ROUNDS):
            link.send(DATAGRAMS, DATAGRAM_BYTES)
            if round_ == ROUNDS // 2:
                link.recreate()
                link.send(DATAGRAMS, DATAGRAM_BYTES)
                # long enough that 2^32 octets fit under the link's speed: only the
                # packet counters can tell the jump is not traffic
                await asyncio.sleep(RESET_GAP_S)
            samples = await poller.poll(target)
            # right after the re-creation snmpd may not list it for a moment
            stored += [dict(s.fields) for s in samples if s.tags.get("ifname") == link.name]
            await asyncio.sleep(POLL_GAP_S)
    bound = 8 * link.sent_bytes
    rates = [float(f[key]) for f in stored for key in ("in_bps", "out_bps") if key in f]  # type: ignore[arg-type]
    assert rates and max(rates) <= bound, (bound, stored)
    assert any("out_bps" in f and float(f["out_bps"]) > 0 for f in stored)  # type: ignore[arg-type]
    # the jump itself was seen and dropped as a reset, by the packet counters
    discarded = {v for f in stored for k, v in f.items() if k.endswith("_rate_discarded")}
    assert discarded & {"above_packet_rate", "implausible_frames"}, stored


async def test_host_resources_read_as_the_agent_means_them(
    snmpd: int, transport: V2cTransport
) -> None:
    """net-snmp's HOST-RESOURCES: memory in use is the RAM's hrStorageUsed less the "Memory
    buffers" and "Cached memory" rows (what `free` calls used), CPU the mean hrProcessorLoad."""
    poller = SnmpPoller()
    samples = await poller.poll(SnmpTarget("host", "snmpd", "core", transport))
    device = next(s.fields for s in samples if s.measurement == "device")
    storage = "1.3.6.1.2.1.25.2.3.1."
    descr, units = bulkwalk(snmpd, storage + "3"), bulkwalk(snmpd, storage + "4")
    size, used = bulkwalk(snmpd, storage + "5"), bulkwalk(snmpd, storage + "6")
    row = {name: index for index, name in descr.items()}
    ram = row["Physical memory"]
    in_kb = {i: int(used[i]) * int(units[i].split()[0]) / 1024 for i in used}
    busy = in_kb[ram] - in_kb[row["Memory buffers"]] - in_kb[row["Cached memory"]]
    total = int(size[ram]) * int(units[ram].split()[0]) / 1024
    assert device["mem_pct"] == pytest.approx(100 * busy / total, abs=2.0)  # memory moves
    assert device["mem_pct"] < 100 * in_kb[ram] / total  # buffers and cache are never zero
    # net-snmp answers hrProcessorLoad only after its first minute: until then no cpu_pct
    # (not a 0); after it, the mean over the processors (the snmpsim fixtures check 7 and 9)
    loads = [int(v) for v in bulkwalk(snmpd, "1.3.6.1.2.1.25.3.3.1.2").values()]
    if loads:
        assert device["cpu_pct"] == pytest.approx(sum(loads) / len(loads), abs=10)
    else:
        assert "cpu_pct" not in device
