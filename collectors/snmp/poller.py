"""Poll one switch: system, interfaces (rates from counters), CPU, temperature, optics.

Writes `device` (always, also when the switch does not answer: up=0 and poll_ms), `interface`
per ifIndex and `optics` per uplink transceiver (see DESIGN.md). Only the needed columns are
walked, with GETBULK; 64-bit ifXTable counters are used when the switch has them, else the
32-bit ifTable ones (detected per device, again after every reboot).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from collectors.snmp import ber
from collectors.snmp.client import SnmpError, SnmpTransport, walk_columns
from collectors.snmp.rates import Reading, Verdict, counter_rate, elapsed_s, event_rate
from gateway.collector import CollectorError
from gateway.sample import FieldValue, Sample


def _oid(text: str) -> bytes:
    return ber.encode_oid(text)


SYS_UPTIME, SYS_NAME = _oid("1.3.6.1.2.1.1.3.0"), _oid("1.3.6.1.2.1.1.5.0")
IF = "1.3.6.1.2.1.2.2.1."
IFX = "1.3.6.1.2.1.31.1.1.1."
COLUMNS = {  # name -> column OID
    "descr": _oid(IF + "2"),
    "speed": _oid(IF + "5"),
    "admin": _oid(IF + "7"),
    "oper": _oid(IF + "8"),
    "in_discards": _oid(IF + "13"),
    "in_errors": _oid(IF + "14"),
    "out_discards": _oid(IF + "19"),
    "out_errors": _oid(IF + "20"),
    "in_octets32": _oid(IF + "10"),
    "out_octets32": _oid(IF + "16"),
    "name": _oid(IFX + "1"),
    "in_octets64": _oid(IFX + "6"),
    "out_octets64": _oid(IFX + "10"),
    "high_speed": _oid(IFX + "15"),
    "alias": _oid(IFX + "18"),
}
IF_COLUMNS = (
    "descr",
    "speed",
    "admin",
    "oper",
    "in_discards",
    "in_errors",
    "out_discards",
    "out_errors",
)
HC_COLUMNS = ("name", "in_octets64", "out_octets64", "high_speed", "alias")
OCTETS32 = ("in_octets32", "out_octets32")
CPU_LOAD = _oid("1.3.6.1.2.1.25.3.3.1.2")
SENSOR = "1.3.6.1.2.1.99.1.1.1."
SENSOR_COLUMNS = {
    "type": _oid(SENSOR + "1"),
    "scale": _oid(SENSOR + "2"),
    "precision": _oid(SENSOR + "3"),
    "value": _oid(SENSOR + "4"),
}
SCALE_EXPONENT = {
    1: -24,
    2: -21,
    3: -18,
    4: -15,
    5: -12,
    6: -9,
    7: -6,
    8: -3,
    9: 0,
    10: 3,
    11: 6,
    12: 9,
    13: 12,
    14: 18,
    15: 15,
    16: 21,
    17: 24,
}
OPTIC_FIELDS = {1: "temp_c", 2: "tx_dbm", 3: "rx_dbm", 4: "bias_ma"}


@dataclass(frozen=True)
class SnmpTarget:
    site: str
    device: str
    role: str
    transport: SnmpTransport
    max_repetitions: int = 25
    deadline_s: float = 10.0


@dataclass
class _DeviceState:
    reading: Reading | None = None
    counters: dict[tuple[tuple[int, ...], str], int] = field(default_factory=dict)
    high_capacity: bool | None = None  # None: not yet known


class SnmpPoller:
    name = "snmp"

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        on_discard: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self._clock = clock
        self._on_discard = on_discard
        self._state: dict[str, _DeviceState] = {}
        self.discarded: dict[str, int] = {}  # verdict -> count, over all devices
        self._directory: dict[tuple[str, int], tuple[str, str]] = {}

    def interface(self, device: str, if_index: int) -> tuple[str, str] | None:
        """(ifname, role) of an interface as last polled, for traps that only carry ifIndex."""
        return self._directory.get((device, if_index))

    async def poll(self, target: SnmpTarget) -> list[Sample]:
        started = time.perf_counter()
        now_ns = int(self._clock() * 1e9)
        tags = {"site": target.site, "device": target.device, "role": target.role}
        try:
            async with asyncio.timeout(target.deadline_s):
                samples, device_fields = await self._read(target, now_ns)
        except (SnmpError, TimeoutError) as error:
            poll_ms = (time.perf_counter() - started) * 1000
            down = Sample("device", tags, {"up": False, "poll_ms": round(poll_ms, 3)}, now_ns)
            reason = (
                str(error) or f"{target.device}: no complete answer within {target.deadline_s:g} s"
            )
            raise CollectorError(reason, [down]) from error
        device_fields["poll_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return [Sample("device", tags, device_fields, now_ns), *samples]

    async def _read(
        self, target: SnmpTarget, now_ns: int
    ) -> tuple[list[Sample], dict[str, FieldValue]]:
        transport = target.transport
        state = self._state.setdefault(target.device, _DeviceState())
        uptime_vb, _name = await transport.get([SYS_UPTIME, SYS_NAME])
        if uptime_vb.tag != ber.TIMETICKS:
            raise SnmpError(f"{target.device}: sysUpTime missing ({uptime_vb.tag:#x})")
        reading = Reading(int.from_bytes(uptime_vb.raw, "big"), now_ns / 1e9)
        seconds = elapsed_s(state.reading, reading) if state.reading else None
        rebooted = state.reading is not None and seconds is None
        if rebooted:
            state.counters.clear()
            state.high_capacity = None
        state.reading = reading
        columns = [COLUMNS[c] for c in IF_COLUMNS]
        if state.high_capacity is not False:
            columns += [COLUMNS[c] for c in HC_COLUMNS]
        if state.high_capacity is not True:
            columns += [COLUMNS[c] for c in OCTETS32]
        table = await walk_columns(transport, columns, target.max_repetitions)
        if state.high_capacity is None:
            state.high_capacity = bool(table.get(COLUMNS["in_octets64"]))
        extras = await walk_columns(
            transport, [CPU_LOAD, *SENSOR_COLUMNS.values()], target.max_repetitions
        )
        interfaces, names = self._interfaces(target, state, table, seconds, now_ns)
        device: dict[str, FieldValue] = {
            "up": True,
            "uptime_s": reading.uptime_ticks / 100,
            "rebooted": rebooted,
            "high_capacity_counters": bool(state.high_capacity),
        }
        device.update(_cpu_and_temperature(extras))
        optics = _optics(target, extras, names, now_ns)
        return interfaces + optics, device

    def _interfaces(
        self,
        target: SnmpTarget,
        state: _DeviceState,
        table: dict[bytes, dict[tuple[int, ...], ber.VarBind]],
        seconds: float | None,
        now_ns: int,
    ) -> tuple[list[Sample], dict[int, str]]:
        def column(name: str) -> dict[tuple[int, ...], ber.VarBind]:
            return table.get(COLUMNS[name], {})

        bits = 64 if state.high_capacity else 32
        octet_columns = ("in_octets64", "out_octets64") if bits == 64 else OCTETS32
        samples, names = [], {}
        for index, oper in column("oper").items():
            name = (
                _text(column("name").get(index)) or _text(column("descr").get(index)) or str(index)
            )
            names[index[0]] = name
            alias = _text(column("alias").get(index))
            high = column("high_speed").get(index)
            speed_mbps = _int(high) if high else _int(column("speed").get(index)) // 1_000_000
            fields: dict[str, FieldValue] = {
                "oper_up": _int(oper) == 1,
                "admin_up": _int(column("admin").get(index)) == 1,
                "speed_mbps": speed_mbps,
            }
            if seconds:
                speed_bps = speed_mbps * 1e6 or None
                for direction, octets in zip(("in", "out"), octet_columns, strict=True):
                    self._rate(
                        state,
                        index,
                        octets,
                        column(octets).get(index),
                        seconds,
                        bits,
                        speed_bps,
                        direction,
                        fields,
                    )
                for event in ("in_errors", "out_errors", "in_discards", "out_discards"):
                    current = column(event).get(index)
                    if current is not None:
                        rate = event_rate(
                            state.counters.get((index, event)), _int(current), seconds, bits=32
                        )
                        if rate is not None:
                            fields[event] = round(rate, 6)
            for counter in (
                *octet_columns,
                "in_errors",
                "out_errors",
                "in_discards",
                "out_discards",
            ):
                if (value := column(counter).get(index)) is not None:
                    state.counters[(index, counter)] = _int(value)
            role = (
                "uplink" if alias.lower().startswith("uplink") or speed_mbps >= 10_000 else "access"
            )
            tags = {"site": target.site, "device": target.device, "ifname": name, "role": role}
            samples.append(Sample("interface", tags, fields, now_ns))
            self._directory[(target.device, index[0])] = (name, role)
        return samples, names

    def _rate(
        self,
        state: _DeviceState,
        index: tuple[int, ...],
        counter: str,
        varbind: ber.VarBind | None,
        seconds: float,
        bits: int,
        speed_bps: float | None,
        direction: str,
        fields: dict[str, FieldValue],
    ) -> None:
        if varbind is None:
            return
        rate, verdict = counter_rate(
            state.counters.get((index, counter)),
            _int(varbind),
            seconds,
            bits=bits,
            speed_bps=speed_bps,
        )
        if verdict not in (Verdict.OK, Verdict.FIRST):
            self.discarded[verdict.value] = self.discarded.get(verdict.value, 0) + 1
            self._on_discard(verdict.value)
            fields[f"{direction}_rate_discarded"] = verdict.value
        if rate is not None:
            fields[f"{direction}_bps"] = round(rate, 3)
            if speed_bps:
                fields[f"{direction}_util_pct"] = round(100 * rate / speed_bps, 4)


def _int(varbind: ber.VarBind | None) -> int:
    if varbind is None or varbind.tag in ber.EXCEPTIONS:
        return 0
    value = ber.value_of(varbind)
    return value if isinstance(value, int) else 0


def _text(varbind: ber.VarBind | None) -> str:
    if varbind is None or varbind.tag != ber.OCTET_STRING:
        return ""
    return varbind.raw.decode("utf-8", errors="replace")


def _sensor_values(
    extras: dict[bytes, dict[tuple[int, ...], ber.VarBind]],
) -> dict[int, tuple[int, float]]:
    """{sensor index: (type, value in base units)} from ENTITY-SENSOR-MIB."""
    columns = {name: extras.get(oid, {}) for name, oid in SENSOR_COLUMNS.items()}
    out = {}
    for index, raw in columns["value"].items():
        exponent = SCALE_EXPONENT.get(_int(columns["scale"].get(index)), 0)
        precision = _int(columns["precision"].get(index))
        out[index[0]] = (
            _int(columns["type"].get(index)),
            _int(raw) * 10.0**exponent / 10**precision,
        )
    return out


def _cpu_and_temperature(
    extras: dict[bytes, dict[tuple[int, ...], ber.VarBind]],
) -> dict[str, FieldValue]:
    fields: dict[str, FieldValue] = {}
    loads = [_int(v) for v in extras.get(CPU_LOAD, {}).values()]
    if loads:
        fields["cpu_pct"] = sum(loads) / len(loads)
    sensors = _sensor_values(extras)
    if 1 in sensors and sensors[1][0] == 8:  # chassis sensor, celsius
        fields["temp_c"] = round(sensors[1][1], 2)
    return fields


def _optics(
    target: SnmpTarget,
    extras: dict[bytes, dict[tuple[int, ...], ber.VarBind]],
    names: dict[int, str],
    now_ns: int,
) -> list[Sample]:
    """Transceiver readings, from sensors indexed 1000 + 10 * ifIndex + kind."""
    per_port: dict[int, dict[str, FieldValue]] = {}
    for index, (_kind, value) in _sensor_values(extras).items():
        if index < 1000 or index % 10 not in OPTIC_FIELDS:
            continue
        port, field_name = (index - 1000) // 10, OPTIC_FIELDS[index % 10]
        if field_name.endswith("dbm"):
            value = 10 * math.log10(value * 1000) if value > 0 else -40.0
        elif field_name == "bias_ma":
            value *= 1000
        per_port.setdefault(port, {})[field_name] = round(value, 3)
    return [
        Sample(
            "optics",
            {"site": target.site, "device": target.device, "ifname": names.get(p, str(p))},
            f,
            now_ns,
        )
        for p, f in sorted(per_port.items())
    ]
