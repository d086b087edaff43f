"""CPU per poll of one device matched by an ecosystem (Datadog/Kentik-format) profile, beside
the same device on an edumon profile, in one run against the same snmpsim agent.

- the project's fixture (tests/fixtures/snmprec/fake-acme-ecosystem) on its Datadog-format
  profile (tests/fixtures/ecosystem) versus an edumon profile reading the same CPU, memory,
  temperature and fan OIDs (written to a temp dir by this script);
- with `--recording FILE.snmprec --library DIR` also a real recording (e.g. a LibreNMS one)
  on the shipped profiles versus the shipped profiles plus that library (e.g. Kentik's).

CPU is this process's (time.process_time) for `SnmpPoller.poll` as the service calls it
(GET, GETBULK walks, decoding, samples); snmpsim's own CPU is not counted. Rounds alternate
between the two sides so a noisy neighbour hits both alike.

Usage: nice -n 10 python bench/ecosystem_cost.py [--rounds 30] [--recording F --library D]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from collectors.snmp.client import UdpSockets, V2cTransport
from collectors.snmp.config import ProfileDir
from collectors.snmp.poller import SnmpPoller, SnmpTarget
from collectors.snmp.profile_model import Profile
from collectors.snmp.profiles import load_profiles
from gateway.devstack.snmpsim import SnmpSim

FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures"
ACME_EDUMON = """\
name: acme-edumon
extends: generic
match:
  sysobjectid: [1.3.6.1.4.1.99991.1.48]
device:
  cpu_pct:
    - oid: 1.3.6.1.4.1.99991.2.1.0
  mem_pct:
    - used: 1.3.6.1.4.1.99991.2.2.1.2
      free: 1.3.6.1.4.1.99991.2.2.1.3
  temp_c:
    - oid: 1.3.6.1.4.1.99991.3.1.1.3
      scale: 0.1
      aggregate: max
  fans_failed:
    - oid: 1.3.6.1.4.1.99991.3.2.1.2
      ok: [1]
      ignore: [3]
"""


async def cpu_per_poll(
    server: SnmpSim, community: str, sides: dict[str, dict[str, Profile]], rounds: int
) -> dict[str, tuple[float, int]]:
    """{side: (median CPU ms per poll, samples per poll)}."""
    sockets = UdpSockets()
    spent: dict[str, list[float]] = {side: [] for side in sides}
    samples: dict[str, int] = {}
    try:
        transport = V2cTransport(
            sockets, community, server.host, server.port, community.encode(), timeout_s=5
        )
        pollers = {side: SnmpPoller(profiles=profiles) for side, profiles in sides.items()}
        target = SnmpTarget("lab", community, "access", transport, deadline_s=60)
        for side, poller in pollers.items():  # warm-up: matching, ENTITY-MIB, imports
            samples[side] = len(await poller.poll(target))
        for _ in range(rounds):
            for side, poller in pollers.items():
                started = time.process_time()
                await poller.poll(target)
                spent[side].append((time.process_time() - started) * 1000)
    finally:
        sockets.close()
    return {side: (statistics.median(ms), samples[side]) for side, ms in spent.items()}


def show(title: str, result: dict[str, tuple[float, int]]) -> None:
    (base, (base_ms, _)), (other, (other_ms, _)) = result.items()
    print(title)
    for side, (ms, count) in result.items():
        print(
            f"  {side:<20} {ms:7.2f} ms CPU per poll, {count:4d} samples, {ms / count * 1000:5.0f} us each"
        )
    print(f"  ratio {other} / {base}: x{other_ms / base_ms:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--recording", type=Path, help="a .snmprec file of a real device")
    parser.add_argument("--library", type=Path, help="an ecosystem profile library")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        served, mine = Path(tmp) / "recordings", Path(tmp) / "mine"
        served.mkdir()
        mine.mkdir()
        (mine / "acme.yaml").write_text(ACME_EDUMON)
        acme = "fake-acme-ecosystem"
        shutil.copyfile(FIXTURES / "snmprec" / f"{acme}.snmprec", served / f"{acme}.snmprec")
        if args.recording:  # copied: snmpsim names a symlinked file's agent by its target
            shutil.copyfile(args.recording, served / args.recording.name)
        with SnmpSim(Path(tmp) / "snmpsim", served) as server:
            sides = {
                "edumon profile": load_profiles([mine]),
                "ecosystem profile": load_profiles([FIXTURES / "ecosystem"]),
            }
            show(acme, asyncio.run(cpu_per_poll(server, acme, sides, args.rounds)))
            if args.recording and args.library:
                library = ProfileDir(path=args.library, format="datadog", strict=False)
                sides = {"shipped": load_profiles(), "+ library": load_profiles([library])}
                result = asyncio.run(cpu_per_poll(server, args.recording.stem, sides, args.rounds))
                show(args.recording.stem, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
