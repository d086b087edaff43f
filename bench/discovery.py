"""CPU of one discovery round of a 48-port switch with 2,000 forwarding entries, beside the
CPU of its normal (counter) poll, in one run against the same simulated agent.

The agent is the simulator's SimSwitch (48 access ports, 2 uplinks, ENTITY sensors) with
the discovery tables of simulators/snmp/discovery_tables.py: two LLDP neighbours, 2,000
dot1qTpFdbTable entries (40 of them MACs of the inventory), PoE on every access port. It
runs in a child process, so only edumon's CPU (time.process_time of this process: requests,
decoding, samples, the Discovery) is counted. Rounds alternate between the two sides.

Discovery runs every `snmp.discovery_interval_s` (300 s) and the poll every `interval_s`
(60 s): the cost over time is the per-round ratio times 60/300. The target: discovery costs
less than a fifth of the poll's CPU.

Usage: nice -n 10 python bench/discovery.py [--rounds 20] [--entries 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
from collections.abc import Awaitable, Callable

from collectors.snmp.client import UdpSockets, V2cTransport
from collectors.snmp.discovery.reader import DiscoveryPoller, DiscoveryTarget
from collectors.snmp.poller import SnmpPoller, SnmpTarget
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.discovery_tables import PoeState, discovery_cells
from simulators.snmp.switch import SimSwitch
from simulators.snmp.wiring import VLAN, Powered, Wiring

COMMUNITY = "bench-discovery"
INVENTORY_MACS = 40


def mac(n: int) -> str:
    return f"02:00:{n >> 24 & 255:02x}:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"


def bench_switch(entries: int) -> SimSwitch:
    switch = SimSwitch("bench-sw", seed=3, uplinks=2, boot=time.time() - 86400)
    wiring = Wiring()
    wiring.link("bench-sw", "core-a")
    wiring.link("bench-sw", "core-b")
    for n in range(entries):
        wiring.fdb["bench-sw"].append((mac(n), 1 + n % 48, VLAN))
    for port in range(1, 49):
        wiring.powered["bench-sw"][port] = Powered(f"ap-{port}", mac(port), 10.5, 4)
    switch.set_extra(discovery_cells(switch, wiring, {}, set(), PoeState()))
    return switch


def serve(entries: int, ready: multiprocessing.SimpleQueue[int]) -> None:
    async def run() -> None:
        fleet = SnmpFleet([(bench_switch(entries), "127.0.0.1", 0)], COMMUNITY.encode())
        await fleet.start()
        ready.put(fleet.addresses["bench-sw"][1])
        await asyncio.Event().wait()

    asyncio.run(run())


async def measure(port: int, rounds: int) -> dict[str, tuple[float, int, int]]:
    """{side: (median CPU ms per round, varbinds per round, requests per round)}."""
    sockets = UdpSockets()
    transport = V2cTransport(
        sockets, "bench-sw", "127.0.0.1", port, COMMUNITY.encode(), timeout_s=5
    )
    poller = SnmpPoller()
    discovery = DiscoveryPoller()
    macs = frozenset(mac(n * 50) for n in range(INVENTORY_MACS))
    sides: dict[str, Callable[[], Awaitable[object]]] = {
        "poll": lambda: poller.poll(
            SnmpTarget("lab", "bench-sw", "access", transport, deadline_s=60)
        ),
        "discovery": lambda: discovery.poll(
            DiscoveryTarget("lab", "bench-sw", transport, macs=macs)
        ),
    }
    spent: dict[str, list[float]] = {side: [] for side in sides}
    varbinds: dict[str, int] = {}
    requests: dict[str, int] = {}
    try:
        for run in sides.values():  # warm-up: profile matching, ENTITY-MIB, imports
            await run()
        for _ in range(rounds):
            for side, run in sides.items():
                stats = transport.stats
                before, asked = stats.varbinds, stats.requests
                started = time.process_time()
                await run()
                spent[side].append((time.process_time() - started) * 1000)
                varbinds[side], requests[side] = stats.varbinds - before, stats.requests - asked
    finally:
        sockets.close()
    found = discovery.totals
    assert found.rows_evicted == 0, "the bench's tables must fit discovery's bound"
    return {
        side: (statistics.median(ms), varbinds[side], requests[side]) for side, ms in spent.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--entries", type=int, default=2000)
    args = parser.parse_args()
    ready: multiprocessing.SimpleQueue[int] = multiprocessing.SimpleQueue()
    agent = multiprocessing.Process(target=serve, args=(args.entries, ready), daemon=True)
    agent.start()
    try:
        result = asyncio.run(measure(ready.get(), args.rounds))
    finally:
        agent.terminate()
        agent.join()
    print(f"48-port switch, {args.entries} forwarding entries, {args.rounds} rounds each")
    for side, (ms, count, asked) in result.items():
        print(f"  {side:<10} {ms:7.2f} ms CPU per round, {count:5d} varbinds, {asked:3d} requests")
    ratio = result["discovery"][0] / result["poll"][0]
    over_time = ratio * 60 / 300
    print(f"  per round: discovery / poll x{ratio:.2f}")
    print(f"  over time (poll every 60 s, discovery every 300 s): x{over_time:.2f}")
    return 0 if over_time < 0.2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
