"""Poll one switch: system, interfaces (rates from counters), and what its profile declares
(CPU, memory, temperature, fans, PSUs, sensors, optics).

Writes `device` (always, also when the switch does not answer: up=0 and poll_ms), `interface`
per kept port and `optics` per transceiver (see DESIGN.md). Only the needed columns are
walked, with GETBULK; 64-bit ifXTable counters are used when the switch has them, else the
32-bit ifTable ones (detected per device, again after every reboot).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from collectors.snmp import ber
from collectors.snmp.client import SnmpError, SnmpTransport, walk_columns
from collectors.snmp.extra_metrics import identity_fields, metric_samples
from collectors.snmp.interface_cap import InterfaceCap
from collectors.snmp.interfaces import (
    C32_COLUMNS,
    EVENT_COLUMNS,
    HC_COLUMNS,
    STATE_COLUMNS,
    CounterState,
    Selection,
    port_names,
    ports,
    unique_names,
)
from collectors.snmp.optics import read_sensors
from collectors.snmp.profile_log import ProfileChoices
from collectors.snmp.profile_model import Profile
from collectors.snmp.profile_reader import ENTITY_COLUMNS, Table, Walked, device_fields, read
from collectors.snmp.profiles import Matched, load_profiles, match_profile
from collectors.snmp.rates import Reading, interval
from collectors.snmp.varbind_values import number, text
from collectors.snmp.wifi import WifiController, WifiReader
from collectors.snmp.wifi_model import WifiProfile, load_wifi_profiles
from gateway.collector import CollectorError
from gateway.plausible import Refused, described, keep_plausible
from gateway.sample import FieldValue, Sample

log = logging.getLogger(__name__)

SYSTEM = {
    "sysUpTime": "1.3.6.1.2.1.1.3.0",
    "sysName": "1.3.6.1.2.1.1.5.0",
    "sysObjectID": "1.3.6.1.2.1.1.2.0",
    "sysDescr": "1.3.6.1.2.1.1.1.0",
    "hrSystemUptime": "1.3.6.1.2.1.25.1.1.0",
    "snmpEngineTime": "1.3.6.1.6.3.10.2.1.3.0",  # seconds, not ticks
    "snmpEngineBoots": "1.3.6.1.6.3.10.2.1.2.0",  # rises at every restart of the agent
}
UPTIME_SOURCES = ("sysUpTime", "hrSystemUptime", "snmpEngineTime")
METRIC_LIMIT = "snmp_metric_limit"  # the discard reason of series past a device's limit
ROWS_AT_ONCE = 1000  # interface rows turned into samples between two turns of the event loop
ENTITY_REFRESH_S = 3600.0  # ENTITY-MIB changes with the hardware: walked again hourly, on reboot


@dataclass(frozen=True)
class SnmpTarget:
    site: str
    device: str
    role: str
    transport: SnmpTransport
    max_repetitions: int = 25
    deadline_s: float = 10.0
    profile: str | None = None  # force this profile instead of matching
    uplinks: frozenset[str] = frozenset()  # ifName/ifDescr of the uplinks
    include: tuple[str, ...] = ()  # ifName/ifAlias patterns kept whatever their ifType
    exclude: tuple[str, ...] = ()  # ifName/ifAlias patterns never kept
    uplink_alias_pattern: str | None = r"(?i)^uplink"
    wifi: WifiController | None = None  # a Wi-Fi controller's APs, as wifi_ap samples
    metric_limit: int = 2000  # snmp_metric series at most per poll (extra_metrics.py)


@dataclass
class _DeviceState:
    reading: Reading | None = None
    counters: CounterState = field(default_factory=CounterState)
    high_capacity: bool | None = None  # None: not yet known
    matched: Matched | None = None
    identity: tuple[str, str] = ("", "")  # sysObjectID, sysDescr it was matched on
    uptime_source: str | None = "sysUpTime"  # until the agent shows otherwise
    boots: int | None = None  # snmpEngineBoots as last read
    entity: dict[str, Table] | None = None  # ENTITY-MIB columns as last walked
    entity_read_at: float = 0.0


class SnmpPoller:
    name = "snmp"

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        on_discard: Callable[[str], None] = lambda reason: None,
        profiles: Mapping[str, Profile] | None = None,
        on_refused: Callable[[str, str, str], None] = lambda device, field, reason: None,
        interface_cap: InterfaceCap | None = None,
        wifi_profiles: tuple[WifiProfile, ...] | None = None,
    ) -> None:
        self._clock = clock
        self.interface_cap = interface_cap or InterfaceCap()
        self._on_discard = on_discard
        self._on_refused = on_refused  # (device, field, reason) of an implausible reading
        self._profiles = dict(profiles) if profiles is not None else load_profiles()
        self._state: dict[str, _DeviceState] = {}
        self.discarded: dict[str, int] = {}  # verdict -> count, over all devices
        # device -> ifIndex -> (ifname, role), as last polled (replaced at every poll)
        self._directory: dict[str, dict[int, tuple[str, str]]] = {}
        self.wifi = WifiReader(wifi_profiles if wifi_profiles is not None else load_wifi_profiles())
        self.profile_choices = ProfileChoices()  # logs them: one line for the first round

    def interface(self, device: str, if_index: int) -> tuple[str, str] | None:
        """(ifname, role) of an interface as last polled, for traps that only carry ifIndex."""
        return self._directory.get(device, {}).get(if_index)

    def profile_of(self, device: str) -> Matched | None:
        """The profile a device matched at its last poll, and why."""
        state = self._state.get(device)
        return state.matched if state else None

    async def poll(self, target: SnmpTarget) -> list[Sample]:
        started = time.perf_counter()
        now_ns = int(self._clock() * 1e9)
        tags = {"site": target.site, "device": target.device, "role": target.role}
        try:
            async with asyncio.timeout(target.deadline_s):
                samples, device_fields_ = await self._read(target, now_ns)
        except (SnmpError, TimeoutError) as error:
            poll_ms = (time.perf_counter() - started) * 1000
            down = Sample("device", tags, {"up": False, "poll_ms": round(poll_ms, 3)}, now_ns)
            reason = (
                str(error) or f"{target.device}: no complete answer within {target.deadline_s:g} s"
            )
            raise CollectorError(reason, [down]) from error
        device_fields_["poll_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return [Sample("device", tags, device_fields_, now_ns), *samples]

    async def _read(
        self, target: SnmpTarget, now_ns: int
    ) -> tuple[list[Sample], dict[str, FieldValue]]:
        transport = target.transport
        state = self._state.setdefault(target.device, _DeviceState())
        system = await read_system(transport)
        matched = self._matched(target, state, system)
        reading = self._uptime(target, state, system, now_ns / 1e9)
        boots = number(system["snmpEngineBoots"])
        boots_now = None if boots is None else int(boots)
        seconds, rebooted = interval(state.reading, reading, state.boots, boots_now)
        if rebooted:
            state.counters.clear()
            state.high_capacity = None
        state.boots = boots_now if boots_now is not None else state.boots
        # a clock that stood still: no interval to rate; the reading before stays the base
        standing = seconds == 0
        if not standing:
            state.reading = reading
        rows = await self._interface_rows(target, state)
        names = unique_names(rows)
        if rebooted or now_ns / 1e9 - state.entity_read_at > ENTITY_REFRESH_S:
            state.entity = None
        # ENTITY-MIB as last walked, and the interface columns just read (a profile's tags may
        # name ifName or ifAlias): not asked again
        known = {**(state.entity or {}), **{STATE_COLUMNS[k]: rows[k] for k in STATE_COLUMNS}}
        walked = await read(transport, matched.profile, target.max_repetitions, known)
        if state.entity is None:
            state.entity = {oid: walked.column(oid) for oid in ENTITY_COLUMNS}
            state.entity_read_at = now_ns / 1e9
        sensors = read_sensors(matched.profile, walked, port_names(rows))
        device: dict[str, FieldValue] = {
            "up": True,
            "rebooted": rebooted,
            "high_capacity_counters": bool(state.high_capacity),
            "profile": matched.profile.name,
        }
        if state.uptime_source is not None:
            device["uptime_s"] = reading.uptime_ticks / 100
        refused: list[tuple[str, Refused]] = []
        device_refused: list[Refused] = []
        device.update(device_fields(matched.profile, walked, sensors.chassis, device_refused))
        device.update(identity_fields(matched.profile, walked))
        refused += [("", r) for r in device_refused]
        refused_before = self.interface_cap.refused[target.device]
        samples = await self._interfaces(
            target, matched.profile, state, rows, names, seconds, now_ns
        )
        device["interfaces_refused"] = self.interface_cap.refused[target.device] - refused_before
        if matched.profile.metrics:
            extra, device["metrics_left_out"] = self._extra_metrics(
                target, matched.profile, walked, now_ns
            )
            samples += extra
        for (if_index, lane), fields in sorted(sensors.optics.items(), key=_port_order):
            # a table row for a port the device does not list, or one past the interface cap
            if not self.interface_cap.admitted(target.device, names.get(if_index, "")):
                continue
            tags = {
                "site": target.site,
                "device": target.device,
                "ifname": names[if_index],
            }
            if lane is not None:
                tags["lane"] = str(lane)
            where = f"{names[if_index]}{'' if lane is None else f' lane {lane}'} "
            plausible = keep_plausible(fields, where, refused)
            if plausible:
                samples.append(Sample("optics", tags, plausible, now_ns))
        if refused:
            device["refused"] = described(refused)
            for _, r in refused:
                self._on_refused(target.device, r.field, r.reason)
        if target.wifi is not None:
            # an AP that is its own agent is named by its sysName, else by its id in the config
            controller = (target.site, target.device)
            name = text(system["sysName"]) or target.device
            identity = system_identity(system)
            samples += await self.wifi.read(
                transport, controller, target.wifi, identity, name, now_ns, target.max_repetitions
            )
        return samples, device

    def _matched(
        self, target: SnmpTarget, state: _DeviceState, system: dict[str, ber.VarBind]
    ) -> Matched:
        identity = system_identity(system)
        if state.matched is None or identity != state.identity:
            state.matched = match_profile(self._profiles, *identity, forced=target.profile)
            state.identity = identity
            self.profile_choices.matched(target.device, state.matched)
        else:
            self.profile_choices.polled_again(target.device)
        return state.matched

    def _extra_metrics(
        self, target: SnmpTarget, profile: Profile, walked: Walked, now_ns: int
    ) -> tuple[list[Sample], int]:
        """The snmp_metric samples, and how many series the device's limit left out (also
        counted as discarded, reason snmp_metric_limit)."""
        tags = {"site": target.site, "device": target.device}
        samples, left_out = metric_samples(profile, walked, tags, target.metric_limit, now_ns)
        if left_out:
            self.discarded[METRIC_LIMIT] = self.discarded.get(METRIC_LIMIT, 0) + left_out
            for _ in range(left_out):
                self._on_discard(METRIC_LIMIT)
        return samples, left_out

    def _uptime(
        self, target: SnmpTarget, state: _DeviceState, system: dict[str, ber.VarBind], now: float
    ) -> Reading:
        """The agent's clock: sysUpTime, else hrSystemUptime, else snmpEngineTime, else ours."""
        source, ticks = None, int(now * 100) % 2**32
        for name in UPTIME_SOURCES:
            value = ber.value_of(system[name])
            if system[name].tag in (ber.TIMETICKS, ber.INTEGER) and isinstance(value, int):
                source, ticks = name, value * (100 if name == "snmpEngineTime" else 1)
                break
        if source != state.uptime_source and source != "sysUpTime":
            log.warning(
                "%s: no sysUpTime; rates are timed by %s",
                target.device,
                source or "the poller's clock",
            )
        state.uptime_source = source
        return Reading(ticks, now)

    async def _interface_rows(
        self, target: SnmpTarget, state: _DeviceState
    ) -> dict[str, dict[tuple[int, ...], ber.VarBind]]:
        counters = dict(EVENT_COLUMNS)
        if state.high_capacity is not False:
            counters.update(HC_COLUMNS)
        rows = await _walk(target, STATE_COLUMNS)
        hc = await _walk(target, counters)
        if state.high_capacity is None:
            state.high_capacity = bool(hc.get("in_octets"))
        if not state.high_capacity:
            hc = {k: v for k, v in hc.items() if k not in HC_COLUMNS}
            hc.update(await _walk(target, C32_COLUMNS))
        return {**rows, **hc}

    async def _interfaces(
        self,
        target: SnmpTarget,
        profile: Profile,
        state: _DeviceState,
        rows: dict[str, dict[tuple[int, ...], ber.VarBind]],
        names: dict[int, str],
        seconds: float | None,
        now_ns: int,
    ) -> list[Sample]:
        selection = Selection(
            frozenset(profile.interfaces.types if profile.interfaces else ()),
            (*(profile.interfaces.include if profile.interfaces else ()), *target.include),
            target.exclude,
            target.uplinks,
            target.uplink_alias_pattern,
        )
        before = state.counters.discarded.copy()
        bits = 64 if state.high_capacity else 32
        samples = []
        uptime = state.reading.uptime_ticks if state.uptime_source and state.reading else None
        directory = self._directory[target.device] = {}
        oper = rows["oper"]
        indexes = list(oper)
        for start in range(0, len(indexes), ROWS_AT_ONCE):
            if start:  # a switch of 20,000 ports must not hold the event loop for a second
                await asyncio.sleep(0)
            part = {**rows, "oper": {i: oper[i] for i in indexes[start : start + ROWS_AT_ONCE]}}
            for port in ports(selection, part, names, state.counters, seconds, bits, uptime):
                if not self.interface_cap.admit(target.device, port.ifname):
                    continue
                tags = {
                    "site": target.site,
                    "device": target.device,
                    "ifname": port.ifname,
                    "role": port.role,
                }
                samples.append(Sample("interface", tags, port.fields, now_ns))
                directory[port.if_index] = (port.ifname, port.role)
        state.counters.keep_only({index[0] for index in rows["oper"]})
        for reason, count in (state.counters.discarded - before).items():
            self.discarded[reason] = self.discarded.get(reason, 0) + count
            for _ in range(count):
                self._on_discard(reason)
        return samples


async def read_system(transport: SnmpTransport) -> dict[str, ber.VarBind]:
    """The SYSTEM scalars by name, in one GET."""
    varbinds = await transport.get([ber.encode_oid(oid) for oid in SYSTEM.values()])
    return dict(zip(SYSTEM, varbinds, strict=False))


def system_identity(system: dict[str, ber.VarBind]) -> tuple[str, str]:
    """(sysObjectID as dotted text, sysDescr): what profiles match on."""
    object_id = ber.value_of(system["sysObjectID"])
    dotted = ".".join(map(str, object_id)) if isinstance(object_id, tuple) else ""
    return dotted, text(system["sysDescr"])


async def _walk(
    target: SnmpTarget, columns: Mapping[str, str]
) -> dict[str, dict[tuple[int, ...], ber.VarBind]]:
    encoded = {name: ber.encode_oid(oid) for name, oid in columns.items()}
    table = await walk_columns(target.transport, list(encoded.values()), target.max_repetitions)
    return {name: table.get(oid, {}) for name, oid in encoded.items()}


def _port_order(item: tuple[tuple[int, int | None], object]) -> tuple[int, int]:
    (if_index, lane), _ = item
    return if_index, -1 if lane is None else lane
