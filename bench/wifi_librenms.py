"""edumon's Wi-Fi profiles on LibreNMS's recordings of real APs and controllers, compared with
the wireless sensors LibreNMS discovers from the same recordings.

snmpsim serves each selected `tests/snmpsim/<name>.snmprec` of a LibreNMS checkout; edumon's
SnmpPoller polls it once as a controller with `wifi:` placing every AP it reports (so what
is compared is what the profile reads, not the placement). Per recording: the Wi-Fi profile
that matched (or none), the APs found, and the clients per band beside LibreNMS's `clients`
sensors of `tests/data/<name>.json`: UniFi's per band ("Clients (ng)", "(na)"), MikroTik's per
wireless interface ("2G: ...", "5G: ..."; a virtual AP's "SSID: ..." has no band), Ruckus
SmartZone's controller total ("System Total") and its AP count.

Usage: nice -n 10 python bench/wifi_librenms.py LIBRENMS/tests/snmpsim
           [--recordings unifi,unifi_nanohd,...]
The recordings are read where they are, never copied into this repository.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from pathlib import Path

from bench.librenms_sim import serve_recordings
from collectors.snmp.client import UdpSockets, V2cTransport
from collectors.snmp.poller import SnmpPoller, SnmpTarget
from collectors.snmp.wifi import WifiController
from collectors.snmp.wifi_config import WifiPlacement
from gateway.collector import CollectorError
from gateway.devstack.snmpsim import SnmpSim

RECORDINGS = [
    *("unifi", "unifi_nanohd", "unifi_ukultra", "unifi_unifi", "unifi_achd", "unifi-usp_rps"),
    *("ruckuswireless-sz", "ruckuswireless-sz_smartcell"),
    *("routeros", "routeros_rb433gl", "routeros_ltap-mini", "routeros_wifi", "routeros_station"),
    *("routeros_rblhgr", "routeros_crs317"),
]
# every AP in a room named as it is ("<private>": the recordings' sysName)
EVERYWHERE = WifiPlacement.model_validate(
    {"name_pattern": r"^(?P<room>.*)$", "aps": {"<private>": {"room": "private"}}}
)
BAND_OF_LABEL = {"ng": "2g", "na": "5g", "2G": "2g", "5G": "5g"}
Counts = dict[str, int]  # band (or total/aps) -> clients


def librenms_clients(path: Path) -> Counts:
    """LibreNMS's client counts by band, or its controller total and AP count."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    sensors = ((data.get("wireless") or {}).get("discovery") or {}).get("wireless_sensors", [])
    found: Counter[str] = Counter()
    for sensor in sensors:
        kind, index, descr = (
            sensor["sensor_class"],
            str(sensor["sensor_index"]),
            sensor["sensor_descr"],
        )
        value = int(float(sensor["sensor_current"] or 0))
        if kind == "ap-count" and index == "total":
            found["aps"] = value
        if kind != "clients":
            continue
        if index == "total":
            found["total"] = value
        elif descr.startswith("Clients (") and index in BAND_OF_LABEL:  # UniFi per band
            found[BAND_OF_LABEL[index]] += value
        elif descr[:2] in BAND_OF_LABEL and descr[2] == ":":  # MikroTik per interface
            found[BAND_OF_LABEL[descr[:2]]] += value
        elif descr.startswith("SSID: ") and sensor["sensor_type"] == "mikrotik":
            found["no band"] += value
    return dict(found)


async def poll(server: SnmpSim, name: str) -> tuple[str, Counts]:
    sockets = UdpSockets()
    poller = SnmpPoller()
    try:
        transport = V2cTransport(
            sockets, name, server.host, server.port, name.encode(), timeout_s=3, retries=1
        )
        wifi = WifiController(EVERYWHERE, frozenset({"lab"}))
        target = SnmpTarget("lab", name, "access", transport, 50, 30.0, wifi=wifi)
        try:
            samples = await poller.poll(target)
        except CollectorError as error:
            return f"not polled: {error}", {}
    finally:
        sockets.close()
    chosen = poller.wifi.profile_of(name)
    profile = chosen.profile.name if chosen else "no Wi-Fi profile"
    counts: Counter[str] = Counter()
    aps = set()
    for sample in samples:
        if sample.measurement == "wifi_ap":
            aps.add(sample.tags["ap"])
            if sample.tags["band"] != "all":
                counts[sample.tags["band"]] += int(sample.fields.get("clients", 0))
    counts["aps"] = len(aps)
    counts["total"] = sum(v for k, v in counts.items() if k in ("2g", "5g", "6g"))
    return profile, dict(counts)


def line(name: str, profile: str, ours: Counts, theirs: Counts) -> str:
    keys = [k for k in ("2g", "5g", "6g", "no band", "total", "aps") if k in theirs]
    compared = [f"{k} {ours.get(k, '-')}/{theirs[k]}" for k in keys]
    same = all(ours.get(k) == theirs[k] for k in keys if k != "no band")
    verdict = "LibreNMS counts no clients" if not keys else ("same" if same else "DIFFERS")
    return (
        f"{name:<28} {profile:<20} APs {ours.get('aps', 0):<3} {', '.join(compared):<40} {verdict}"
    )


async def run(server: SnmpSim, names: list[str], data: Path) -> None:
    print(f"{'recording':<28} {'Wi-Fi profile':<20} clients edumon/LibreNMS")
    for name in names:
        profile, ours = await poll(server, name)
        print(line(name, profile, ours, librenms_clients(data / f"{name}.json")), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recordings", type=Path, help="LibreNMS's tests/snmpsim")
    parser.add_argument("--data", type=Path, help="LibreNMS's tests/data (default: beside)")
    parser.add_argument("--names", help="comma-separated recording names")
    args = parser.parse_args()
    data = args.data or args.recordings.parent / "data"
    names = args.names.split(",") if args.names else RECORDINGS
    names = [n for n in names if (args.recordings / f"{n}.snmprec").exists()]
    with serve_recordings(args.recordings, names) as server:
        asyncio.run(run(server, names, data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
