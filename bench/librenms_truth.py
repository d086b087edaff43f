"""What LibreNMS discovered from one of its recordings (its tests/data/<name>.json), in the
shape edumon's fields take: CPU as the mean of the processors (or the busiest), memory as the
mean of the system memory pools (or the largest pool's), temperature as the hottest sensor
that is not a transceiver's (or not a power supply's or PoE controller's either), and each transceiver power
sensor with its port, direction and lane.

Used by bench/librenms_compare.py; LibreNMS's files are read where they are, never copied.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRANSCEIVER = re.compile(r"(?i)transc|sfp|xcvr|\bdom\b|optic|lane|qsfp|gbic|\bxfp\b")
RX = re.compile(r"(?i)\brx\b|rx[ _-]?pow|receiv|\binput\b|rxpower|\bin\b")
TX = re.compile(r"(?i)\btx\b|tx[ _-]?pow|transmi|\boutput\b|txpower|\bout\b")
LANE = re.compile(r"(?i)(?:lane|\bchannel|\bch)\s*(\d+)")
NO_LIGHT_DBM = -39.9  # LibreNMS keeps the agents' -40 dBm floors; no reading for edumon
POWER_SUPPLY = re.compile(r"(?i)power|psu|supply|\bpoe\b")  # and PoE controllers
NON_SYSTEM_POOLS = re.compile(r"(?i)swap|virtual|buffer|cache|shared|disk|flash")


@dataclass(frozen=True)
class Optic:
    ports: frozenset[str]  # the names the port may carry in edumon (ifName, ifDescr)
    direction: str  # rx or tx
    lane: int | None
    value: float
    descr: str


@dataclass
class Truth:
    os: str
    cpu: float | None = None
    mem: float | None = None
    temp: float | None = None
    # what else a device-wide value may fairly be, from the same items (edumon keeps one
    # number per device: a profile may take the hottest, the busiest or the main pool)
    also: dict[str, list[float]] = field(default_factory=dict)
    optics: list[Optic] = field(default_factory=list)


def _discovered(data: dict[str, Any], module: str, key: str) -> list[dict[str, Any]]:
    section = data.get(module)
    if not isinstance(section, dict):
        return []
    found = (section.get("discovery") or {}).get(key) or []
    return [row for row in found if isinstance(row, dict)]


def truth_of(path: Path) -> Truth:
    data = json.loads(path.read_text(encoding="utf-8"))
    devices = _discovered(data, "os", "devices")
    truth = Truth(os=str(devices[0].get("os", "")) if devices else path.stem.split("_")[0])
    cpus = [float(p["processor_usage"]) for p in _discovered(data, "processors", "processors")]
    cpus = [c for c in cpus if 0 <= c <= 100]
    truth.cpu = sum(cpus) / len(cpus) if cpus else None
    truth.also["cpu"] = [max(cpus)] if cpus else []
    pools = _discovered(data, "mempools", "mempools")
    system = [p for p in pools if p.get("mempool_class") == "system"] or [
        p for p in pools if not NON_SYSTEM_POOLS.search(str(p.get("mempool_descr", "")))
    ]
    percents = [float(p["mempool_perc"]) for p in system if p.get("mempool_perc") is not None]
    truth.mem = sum(percents) / len(percents) if percents else None
    sized = [p for p in system if p.get("mempool_perc") is not None and p.get("mempool_total")]
    largest = max(sized, key=lambda p: float(p["mempool_total"]), default=None)
    truth.also["mem"] = [float(largest["mempool_perc"])] if largest else []
    ports = _ports(data)
    sensors = _discovered(data, "sensors", "sensors")
    chassis = [
        s
        for s in sensors
        if s.get("sensor_class") == "temperature"
        and s.get("sensor_current") is not None
        and not _transceiver(s, ports)
        and -40 < float(s["sensor_current"]) < 150
    ]
    temps = [float(s["sensor_current"]) for s in chassis]
    truth.temp = max(temps) if temps else None
    no_psu = [
        float(s["sensor_current"])
        for s in chassis
        if not POWER_SUPPLY.search(str(s.get("sensor_descr") or ""))
    ]
    truth.also["temp"] = [max(no_psu)] if no_psu else []
    for sensor in sensors:
        if sensor.get("sensor_class") != "dbm" or sensor.get("sensor_current") is None:
            continue
        if float(sensor["sensor_current"]) <= NO_LIGHT_DBM or sensor["sensor_current"] == 0:
            continue  # an agent's "no reading" (-40 floor, 0 in an empty cage), kept by LibreNMS
        optic = _optic(sensor, ports)
        if optic is not None:  # else its port or direction cannot be told
            truth.optics.append(optic)
    return truth


def _ports(data: dict[str, Any]) -> dict[int, frozenset[str]]:
    out = {}
    for port in _discovered(data, "ports", "ports"):
        names = {str(port.get(k) or "") for k in ("ifName", "ifDescr")} - {""}
        if isinstance(port.get("ifIndex"), int) and names:
            out[port["ifIndex"]] = frozenset(names)
    return out


def _transceiver(sensor: dict[str, Any], ports: dict[int, frozenset[str]]) -> bool:
    if sensor.get("entPhysicalIndex_measured") in ("ports", "port"):
        return True
    text = f"{sensor.get('group') or ''} {sensor.get('sensor_descr') or ''}"
    return bool(TRANSCEIVER.search(text)) or _port_in(text, ports) is not None


def _port_in(text: str, ports: dict[int, frozenset[str]]) -> frozenset[str] | None:
    """The port whose longest name appears in the text as a whole word."""
    best: tuple[int, frozenset[str]] | None = None
    for names in ports.values():
        for name in names:
            if len(name) < 3:
                continue
            if re.search(rf"(?<![\w/.:-]){re.escape(name)}(?![\w/.:-]|\.\d)", text) and (
                best is None or len(name) > best[0]
            ):
                best = (len(name), names)
    return best[1] if best else None


def _optic(sensor: dict[str, Any], ports: dict[int, frozenset[str]]) -> Optic | None:
    descr = str(sensor.get("sensor_descr") or "")
    where = f"{descr} {sensor.get('group') or ''} {sensor.get('sensor_index') or ''}"
    names: frozenset[str] | None = None
    if sensor.get("entPhysicalIndex_measured") in ("ports", "port"):
        try:
            names = ports.get(int(sensor.get("entPhysicalIndex") or ""))
        except ValueError:
            names = None
    names = names or _port_in(descr, ports)
    rx, tx = bool(RX.search(where)), bool(TX.search(where))
    if names is None or rx == tx:
        return None
    lane = LANE.search(where)
    return Optic(
        names,
        "rx" if rx else "tx",
        int(lane.group(1)) if lane else None,
        float(sensor["sensor_current"]),
        descr,
    )
