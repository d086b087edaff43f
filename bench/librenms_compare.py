"""edumon's poll on LibreNMS's recordings of real devices, compared strictly with what LibreNMS
discovers from the same recordings.

snmpsim serves each selected `tests/snmpsim/<name>.snmprec` of a LibreNMS checkout; edumon's
SnmpPoller polls it once (as `edumon test` does), serially, once with the shipped profiles
alone and once with an ecosystem library (`--library`, e.g. kentik/snmp-profiles'
profiles/kentik_snmp) in `snmp.profile_dirs`. Compared with `tests/data/<name>.json`
(bench/librenms_truth.py): CPU and memory within 5 percentage points (of the mean of
LibreNMS's processors or its busiest; of the mean of its system pools or the largest),
temperature within 1 degree C (of its hottest chassis sensor, with or without the power
supplies'), each transceiver power sensor on the same port, direction and lane within 0.5 dB.
A value edumon has and LibreNMS does not is not counted; one LibreNMS has and edumon does not
is "missing"; a differing one is "wrong" and listed.

Usage: nice -n 10 python bench/librenms_compare.py LIBRENMS/tests/snmpsim
           [--library DIR] [--per-family 3] [--families a,b,...] [--verbose]
The recordings are read where they are, never copied into this repository.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from bench.librenms_sim import serve_recordings
from bench.librenms_truth import Optic, Truth, truth_of
from collectors.snmp.client import SnmpError, UdpSockets, V2cTransport
from collectors.snmp.config import ProfileDir
from collectors.snmp.poller import SnmpPoller, SnmpTarget
from collectors.snmp.profile_model import Profile
from collectors.snmp.profiles import load_profiles
from gateway.collector import CollectorError
from gateway.devstack.snmpsim import SnmpSim
from gateway.sample import Sample

# network operating systems (LibreNMS's os names): switches, routers, Wi-Fi controllers
FAMILIES = [
    "3com",
    "allied",
    "aos6",
    "aos7",
    "arista",
    "arubaos",
    "arubaos-cx",
    "awplus",
    "boss",
    "ciena-saos",
    "ciscosb",
    "ciscowlc",
    "cnos",
    "comware",
    "cumulus",
    "dcn-software",
    "dell-os10",
    "dlink",
    "dlink-dgs1250",
    "dnos",
    "edgecos",
    "edgeswitch",
    "eltex-mes21xx",
    "eltex-mes23xx",
    "eltex-mes24xx",
    "enterasys",
    "exos",
    "fortiswitch",
    "fs-centec",
    "fs-switch",
    "ftos",
    "hirschmann",
    "hiveos-wireless",
    "ios",
    "iosxe",
    "iosxr",
    "ironware",
    "jetstream",
    "junos",
    "merakims",
    "moxa-etherdevice",
    "netgear",
    "nxos",
    "ocnos",
    "picos",
    "planetos",
    "powerconnect",
    "procurve",
    "qtech",
    "raisecom",
    "routeros",
    "ruckuswireless-sz",
    "slxos",
    "swos",
    "timos",
    "tplink",
    "unifi",
    "voss",
    "vrp",
    "vyos",
    "xos",
    "zynos",
    "zxr10",
]
TOLERANCE = {"cpu": 5.0, "mem": 5.0, "temp": 1.0, "optics": 0.5}
FIELDS = {"cpu": "cpu_pct", "mem": "mem_pct", "temp": "temp_c"}


def select(recordings: Path, data: Path, families: Sequence[str], per_family: int) -> list[str]:
    """Up to `per_family` recordings per family that LibreNMS found something to compare in."""
    chosen: dict[str, list[str]] = defaultdict(list)
    for path in sorted(recordings.glob("*.snmprec")):
        family = path.stem.split("_")[0]
        truth_path = data / f"{path.stem}.json"
        if family not in families or len(chosen[family]) >= per_family or not truth_path.exists():
            continue
        truth = truth_of(truth_path)
        if any(v is not None for v in (truth.cpu, truth.mem, truth.temp)) or truth.optics:
            chosen[family].append(path.stem)
    return [name for names in chosen.values() for name in names]


async def poll_all(
    server: SnmpSim, names: list[str], profiles: dict[str, Profile]
) -> dict[str, list[Sample] | str]:
    sockets = UdpSockets()
    out: dict[str, list[Sample] | str] = {}
    try:
        for name in names:
            transport = V2cTransport(
                sockets, name, server.host, server.port, name.encode(), timeout_s=5, retries=1
            )
            poller = SnmpPoller(profiles=profiles)
            try:
                target = SnmpTarget("lab", name, "access", transport, deadline_s=120)
                out[name] = await poller.poll(target)
            except (CollectorError, SnmpError) as error:
                out[name] = f"no answer: {error}"
    finally:
        sockets.close()
    return out


def compare(
    truth: Truth, samples: list[Sample]
) -> tuple[Counter[str], Counter[str], list[str], list[str]]:
    """(matched per field, total per field, the wrong values, the missing ones)."""
    matched: Counter[str] = Counter()
    total: Counter[str] = Counter()
    wrong: list[str] = []
    missing: list[str] = []
    device = next((s.fields for s in samples if s.measurement == "device"), {})
    for key, name in FIELDS.items():
        expected = getattr(truth, key)
        if expected is None:
            continue
        total[key] += 1
        got = device.get(name)
        fair = [expected, *truth.also.get(key, [])]
        if isinstance(got, int | float) and any(
            abs(float(got) - value) <= TOLERANCE[key] for value in fair
        ):
            matched[key] += 1
        elif got is not None:
            wrong.append(f"{name}={got} (LibreNMS {expected:.1f}, profile {device['profile']})")
        else:
            missing.append(f"{name} (LibreNMS {expected:.1f}, profile {device.get('profile')})")
    optics = _optics(samples)
    for optic in truth.optics:
        total["optics"] += 1
        got_optic = _find(optic, optics)
        if got_optic is not None and abs(got_optic - optic.value) <= TOLERANCE["optics"]:
            matched["optics"] += 1
        elif got_optic is not None:
            wrong.append(
                f"{optic.direction}_dbm {optic.descr!r}={got_optic} (LibreNMS {optic.value})"
            )
        else:
            missing.append(f"{optic.direction}_dbm {optic.descr!r} (LibreNMS {optic.value})")
    return matched, total, wrong, missing


def _optics(samples: list[Sample]) -> dict[str, dict[int | None, dict[str, float]]]:
    """{ifname: {lane rank (None: the module's series): fields}}."""
    by_port: dict[str, dict[str | None, dict[str, float]]] = defaultdict(dict)
    for s in samples:
        if s.measurement == "optics":
            values = {k: float(v) for k, v in s.fields.items() if isinstance(v, int | float)}
            by_port[s.tags["ifname"]][s.tags.get("lane")] = values
    ranked: dict[str, dict[int | None, dict[str, float]]] = {}
    for port, lanes in by_port.items():
        numbered = sorted((int(lane), fields) for lane, fields in lanes.items() if lane is not None)
        ranked[port] = {rank + 1: fields for rank, (_, fields) in enumerate(numbered)}
        if None in lanes:
            ranked[port][None] = lanes[None]
    return ranked


def _find(optic: Optic, optics: dict[str, dict[int | None, dict[str, float]]]) -> float | None:
    """The same port, direction and lane (lanes by rank: vendors count from 0 or 1)."""
    lanes = next((optics[name] for name in optic.ports if name in optics), None)
    if lanes is None:
        return None
    lane = optic.lane
    if lane is None or (lane == 1 and set(lanes) == {None}):
        fields = lanes.get(None) or (lanes.get(1) if len(lanes) == 1 else None)
    else:
        fields = lanes.get(lane)
    return None if fields is None else fields.get(f"{optic.direction}_dbm")


KEYS = ("cpu", "mem", "temp", "optics")


def report(
    title: str,
    names: list[str],
    truths: dict[str, Truth],
    polled: dict[str, list[Sample] | str],
    verbose: bool = False,
) -> list[str]:
    """The run's totals, its table per family (matched/total per field), the wrong values;
    with `verbose`, the missing ones."""
    per_family: dict[str, tuple[Counter[str], Counter[str]]] = {}
    devices: Counter[str] = Counter()
    wrong_lines, missing_lines, silent = [], [], []
    for name in names:
        result = polled[name]
        if isinstance(result, str):
            silent.append(f"  {name}: {result}")
            result = []
        m, t, wrong, missing = compare(truths[name], result)
        family = name.split("_")[0]
        devices[family] += 1
        matched, total = per_family.setdefault(family, (Counter(), Counter()))
        matched.update(m)
        total.update(t)
        wrong_lines += [f"  {name}: {w}" for w in wrong]
        missing_lines += [f"  {name}: {w}" for w in missing]
    rows = [(f, devices[f], *per_family[f]) for f in sorted(per_family)]
    all_matched = sum((m for _, _, m, _ in rows), Counter())
    all_total = sum((t for _, _, _, t in rows), Counter())
    lines = [
        f"{title}: {len(rows)} families, {len(names)} devices",
        f"  {'family':<22} {'devices':>7} " + " ".join(f"{k:>9}" for k in KEYS),
        *(_row(f, n, m, t) for f, n, m, t in rows),
        _row("all", len(names), all_matched, all_total),
        f"  wrong values: {len(wrong_lines)}",
        *wrong_lines,
    ]
    lines += ["  not polled:", *silent] if silent else []
    return lines + (["  missing:", *missing_lines] if verbose else [])


def _row(family: str, devices: int, matched: Counter[str], total: Counter[str]) -> str:
    cells = " ".join(f"{f'{matched[k]}/{total[k]}' if total[k] else '-':>9}" for k in KEYS)
    return f"  {family:<22} {devices:>7} {cells}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recordings", type=Path, help="LibreNMS's tests/snmpsim")
    parser.add_argument("--data", type=Path, help="LibreNMS's tests/data (default: beside)")
    parser.add_argument("--library", type=Path, help="an ecosystem profile library")
    parser.add_argument("--per-family", type=int, default=3)
    parser.add_argument("--families", help="comma-separated LibreNMS os names")
    parser.add_argument("--verbose", action="store_true", help="list the missing values too")
    args = parser.parse_args()
    data = args.data or args.recordings.parent / "data"
    families = args.families.split(",") if args.families else FAMILIES
    names = select(args.recordings, data, families, args.per_family)
    truths = {name: truth_of(data / f"{name}.json") for name in names}
    runs = [("shipped profiles", load_profiles())]
    if args.library:
        library = ProfileDir(path=args.library, format="datadog", strict=False)
        runs.append((f"with {args.library.name}", load_profiles([library])))
    with serve_recordings(args.recordings, names) as server:
        for title, profiles in runs:
            polled = asyncio.run(poll_all(server, names, profiles))
            print("\n".join(report(title, names, truths, polled, args.verbose)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
