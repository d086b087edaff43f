"""One simulated school switch: its MIB view and values at any instant, and its faults.

MIB content (what the poller reads):
- SNMPv2-MIB system group: sysDescr, sysObjectID, sysUpTime (ticking from boot), sysName;
- IF-MIB ifTable (32-bit counters) and, unless the switch is "old", ifXTable (ifName, ifAlias,
  ifHighSpeed, HC octet and unicast-packet counters): 48 access ports (ifIndex 1-48, 1G; 100M
  on an old switch) and 2-4 uplinks (ifIndex 49+, 10G; 1G on an old switch), ifAlias of an
  uplink starts with "uplink";
- HOST-RESOURCES-MIB hrProcessorLoad.1 (CPU %);
- ENTITY-SENSOR-MIB entPhySensor{Type,Scale,Precision,Value,OperStatus} for the chassis
  temperature (index 1) and the uplinks' optics, indexed 1000 + 10*ifIndex + k with k = 1
  module temperature (celsius, 0.1 degC), 2 tx power and 3 rx power (watts, scale micro,
  precision 1: 0.1 uW), 4 laser bias (amperes, scale milli, precision 2: 0.01 mA);
- ENTITY-MIB: each uplink's transceiver is entity 1000 + 10*ifIndex (mapped to its port by
  entAliasMappingIdentifier), containing its four sensors (entPhysicalContainedIn), and
  every sensor has an entPhysicalDescr.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from collectors.snmp import ber
from simulators.snmp.traffic import PortTraffic

SYSTEM = (1, 3, 6, 1, 2, 1, 1)
IF_TABLE = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IFX_TABLE = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
HR_PROCESSOR_LOAD = (1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2)
SENSOR_TABLE = (1, 3, 6, 1, 2, 1, 99, 1, 1, 1)
SYS_OBJECT_ID = (1, 3, 6, 1, 4, 1, 8072, 3, 2, 10)
ENTITY_TABLE = (1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1)  # entPhysicalEntry: 2 descr, 4 containedIn
ALIAS_MAPPING = (1, 3, 6, 1, 2, 1, 47, 1, 3, 2, 1, 2)  # entAliasMappingIdentifier
IF_INDEX = (1, 3, 6, 1, 2, 1, 2, 2, 1, 1)
SENSOR_KIND = {0: "chassis temperature", 1: "temperature", 2: "Tx power", 3: "Rx power", 4: "bias"}

IF_COLUMNS = (1, 2, 3, 5, 7, 8, 10, 11, 13, 14, 16, 17, 19, 20)
IFX_COLUMNS = (1, 6, 7, 10, 11, 15, 18)
SENSOR_COLUMNS = (1, 2, 3, 4, 5)
ACCESS_PORTS = 48
MAX_COUNTER32 = 2**32


@dataclass(frozen=True)
class Shape:
    uplinks: int
    old: bool  # only 32-bit ifTable counters, no ifXTable, 100M/1G ports
    access_ports: int = ACCESS_PORTS


@dataclass(frozen=True)
class View:
    """The sorted OIDs of one switch shape; cells say which value each OID holds."""

    oids: list[tuple[int, ...]]
    encoded: list[bytes]
    cells: list[tuple[str, int, int]]  # (table, column, row)


@cache
def view_of(shape: Shape) -> View:
    rows = list(range(1, shape.access_ports + shape.uplinks + 1))
    uplinks = rows[shape.access_ports :]
    sensors = [1] + [1000 + 10 * port + k for port in uplinks for k in (1, 2, 3, 4)]
    cells: list[tuple[tuple[int, ...], tuple[str, int, int]]] = [
        ((*SYSTEM, column, 0), ("sys", column, 0)) for column in (1, 2, 3, 5)
    ]
    cells += [((*IF_TABLE, c, r), ("if", c, r)) for c in IF_COLUMNS for r in rows]
    if not shape.old:
        cells += [((*IFX_TABLE, c, r), ("ifx", c, r)) for c in IFX_COLUMNS for r in rows]
    cells += [((*HR_PROCESSOR_LOAD, 1), ("cpu", 0, 1))]
    cells += [((*SENSOR_TABLE, c, s), ("sensor", c, s)) for c in SENSOR_COLUMNS for s in sensors]
    transceivers = [1000 + 10 * port for port in uplinks]
    cells += [((*ENTITY_TABLE, c, e), ("entity", c, e)) for c in (2, 4) for e in sensors]
    cells += [((*ALIAS_MAPPING, e, 0), ("alias", 0, e)) for e in transceivers]
    cells.sort()
    return View(
        [oid for oid, _ in cells], [ber.encode_oid(oid) for oid, _ in cells], [c for _, c in cells]
    )


def _hash(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=4).digest(), "big")


@dataclass
class Faults:
    """What is wrong with a switch right now; tests and scenarios set these at run time."""

    delay_s: float = 0.0  # answer late
    rename_every_s: float = 0.0  # access ports get new names this often (a firmware bug)
    walk_backwards: bool = False  # GETBULK answers go back and forth between two rows
    silent: bool = False  # never answer
    truncate_bulk: int = 0  # answer GETBULK with at most this many varbinds
    no_such: set[tuple[int, ...]] = field(default_factory=set)  # OID prefixes that do not exist
    malformed: bool = False  # answer with broken BER


class SimSwitch:
    def __init__(
        self,
        name: str,
        *,
        seed: int,
        uplinks: int = 2,
        old: bool = False,
        boot: float,
        access_ports: int = ACCESS_PORTS,
    ) -> None:
        self.name = name
        self.seed = seed
        self.shape = Shape(uplinks, old, access_ports)
        self.access_ports = access_ports
        self.view = view_of(self.shape)
        self.boot = boot
        self.engine_id = b"\x80\x00\x1f\x88\x04" + name.encode()[:27]  # RFC 3411 text format
        self.engine_boots = 1
        self.faults = Faults()
        self.down_since: dict[int, float] = {}  # ports whose link is down now
        self.octets_lost: dict[tuple[int, str], int] = {}  # not counted while links were down
        speed_access, speed_uplink = (100e6, 1e9) if old else (1e9, 10e9)
        self.ports = list(range(1, access_ports + uplinks + 1))
        self.speed = {p: speed_uplink if p > access_ports else speed_access for p in self.ports}
        # access ports with nothing plugged in are down and count nothing
        self.unplugged = {p for p in self.ports[:access_ports] if _hash(seed, name, p) % 6 == 0}
        self.traffic: dict[tuple[int, str], PortTraffic] = {}
        for p in self.ports:
            self._fit(p, self.speed[p])
        self._extra: list[Callable[[], tuple[int, bytes]]] = []  # cells of set_extra
        self._base_view: View | None = None  # the view before extra cells

    def set_extra(self, cells: dict[tuple[int, ...], Callable[[], tuple[int, bytes]]]) -> None:
        """Serve these cells too (discovery tables: simulators/snmp/discovery_tables.py),
        each value read when asked; replaces the previous extra cells."""
        if self._base_view is None:
            self._base_view = self.view
        base = self._base_view
        self._extra = list(cells.values())
        merged = sorted(
            [*zip(base.oids, base.cells, strict=True)]
            + [(oid, ("extra", 0, k)) for k, oid in enumerate(cells)]
        )
        self.view = View(
            [oid for oid, _ in merged],
            [ber.encode_oid(oid) for oid, _ in merged],
            [c for _, c in merged],
        )

    def _fit(self, port: int, speed_bps: float) -> None:
        """Give a port its speed and a traffic model scaled to it."""
        self.speed[port] = speed_bps
        uplink = port > self.access_ports
        for direction, share in (("in", 0.4 if uplink else 0.3), ("out", 0.15 if uplink else 0.1)):
            variant = _hash(self.seed, self.name, port, direction)
            self.traffic[(port, direction)] = PortTraffic(self.seed, variant, speed_bps * share)

    def set_uplink_speed(self, speed_bps: float) -> None:
        """Other uplink optics (a school still on 1G); call before the first poll."""
        for port in self.ports[self.access_ports :]:
            self._fit(port, speed_bps)

    # ------------------------------------------------------------------ faults
    def reboot(self, now: float) -> None:
        """sysUpTime and every counter restart from zero; SNMPv3 engine boots goes up."""
        self.boot = now
        self.engine_boots += 1
        self.octets_lost.clear()
        self.down_since = dict.fromkeys(self.down_since, now)

    def link_down(self, port: int, now: float) -> None:
        self.down_since.setdefault(port, now)

    def link_up(self, port: int, now: float) -> None:
        """The link is back: what would have flowed while it was down was never counted."""
        since = self.down_since.pop(port, None)
        if since is not None:
            for direction in ("in", "out"):
                missed = self.traffic[(port, direction)].octets(since, now)
                self.octets_lost[(port, direction)] = (
                    self.octets_lost.get((port, direction), 0) + missed
                )

    def oper_up(self, port: int) -> bool:
        return port not in self.unplugged and port not in self.down_since

    def octets(self, port: int, direction: str, now: float) -> int:
        """The interface's octet counter, unwrapped: frozen while its link is down."""
        if port in self.unplugged:
            return 0
        traffic = self.traffic[(port, direction)]
        counted = traffic.octets(self.boot, now) - self.octets_lost.get((port, direction), 0)
        if port in self.down_since:
            counted -= traffic.octets(self.down_since[port], now)
        return counted

    def value(self, cell: tuple[str, int, int], now: float) -> tuple[int, bytes]:
        table, column, row = cell
        if table == "sys":
            return self._system(column, now)
        if table in ("if", "ifx"):
            return self._interface(table, column, row, now)
        if table == "cpu":
            factor = self.traffic[(self.ports[-1], "in")].rate_bps(now) / self.speed[self.ports[-1]]
            return ber.INTEGER, ber.encode_integer(5 + round(60 * factor))
        if table == "entity":
            if column == 4:
                return ber.INTEGER, ber.encode_integer(0 if row == 1 else row - row % 10)
            port = f"Te1/0/{(row - 1000) // 10 - self.access_ports} " if row > 1 else ""
            return ber.OCTET_STRING, f"{port}{SENSOR_KIND[row % 10]}".encode()
        if table == "alias":
            return ber.OBJECT_ID, ber.encode_oid((*IF_INDEX, (row - 1000) // 10))
        if table == "extra":
            return self._extra[row]()
        return self._sensor(column, row, now)

    def _system(self, column: int, now: float) -> tuple[int, bytes]:
        if column == 1:
            return ber.OCTET_STRING, f"edumon simulated switch {self.name}".encode()
        if column == 2:
            return ber.OBJECT_ID, ber.encode_oid(SYS_OBJECT_ID)
        if column == 3:
            return ber.TIMETICKS, ber.encode_unsigned(self.uptime_ticks(now))
        return ber.OCTET_STRING, self.name.encode()

    def engine_time(self, now: float) -> int:
        return int(now - self.boot)

    def uptime_ticks(self, now: float) -> int:
        return int((now - self.boot) * 100) % MAX_COUNTER32

    def _interface(self, table: str, column: int, port: int, now: float) -> tuple[int, bytes]:
        uplink = port > self.access_ports
        name = f"Te1/0/{port - self.access_ports}" if uplink else f"Gi1/0/{port}"
        if not uplink and self.faults.rename_every_s:
            name += f".{int(now // self.faults.rename_every_s)}"
        if table == "ifx":
            strings = {
                1: name,
                18: f"uplink {port - self.access_ports} to city core" if uplink else "",
            }
            if column in strings:
                return ber.OCTET_STRING, strings[column].encode()
            if column == 15:
                return ber.GAUGE32, ber.encode_unsigned(int(self.speed[port] // 1_000_000))
            octets = self.octets(port, "in" if column in (6, 7) else "out", now)
            count = octets if column in (6, 10) else octets // 800
            return ber.COUNTER64, ber.encode_unsigned(count % 2**64)
        if column in (1, 3, 7, 8):
            value = {1: port, 3: 6, 7: 1, 8: 1 if self.oper_up(port) else 2}[column]
            return ber.INTEGER, ber.encode_integer(value)
        if column == 2:
            return ber.OCTET_STRING, name.encode()
        if column == 5:
            return ber.GAUGE32, ber.encode_unsigned(min(int(self.speed[port]), MAX_COUNTER32 - 1))
        octets = self.octets(port, "in" if column <= 14 else "out", now)
        count = {
            10: octets,
            16: octets,
            11: octets // 800,
            17: octets // 800,
            13: octets // 5_000_000_000,
            19: octets // 5_000_000_000,
            14: octets // 10_000_000_000,
            20: octets // 20_000_000_000,
        }[column]
        return ber.COUNTER32, ber.encode_unsigned(count % MAX_COUNTER32)

    def _sensor(self, column: int, index: int, now: float) -> tuple[int, bytes]:
        kind = 0 if index == 1 else index % 10
        sensor_type, scale, precision = {
            0: (8, 9, 1),
            1: (8, 9, 1),
            2: (6, 7, 1),
            3: (6, 7, 1),
            4: (5, 8, 2),
        }[kind]
        if column in (1, 2, 3, 5):
            return ber.INTEGER, ber.encode_integer(
                {1: sensor_type, 2: scale, 3: precision, 5: 1}[column]
            )
        port = (index - 1000) // 10
        load = self.traffic[(self.ports[-1], "in")].rate_bps(now) / self.speed[self.ports[-1]]
        if kind in (0, 1):
            value = round((38 + 12 * load) * 10)  # 0.1 degC
        elif kind == 4:
            value = 650 + _hash(self.name, port) % 100  # 6.50-7.49 mA
        else:
            dbm = -2.0 - (_hash(self.name, port, kind) % 40) / 10 if self.oper_up(port) else -40.0
            value = round(1000 * 10 ** (dbm / 10) * 10)  # 0.1 uW
        return ber.INTEGER, ber.encode_integer(value)

    # ----------------------------------------------------------------- lookups
    def get(self, oid: bytes, now: float) -> ber.VarBind:
        key = ber.decode_oid(oid)
        if any(key[: len(p)] == p for p in self.faults.no_such):
            return ber.VarBind(oid, ber.NO_SUCH_OBJECT, b"")
        position = bisect.bisect_left(self.view.oids, key)
        if position < len(self.view.oids) and self.view.oids[position] == key:
            return ber.VarBind(oid, *self.value(self.view.cells[position], now))
        neighbours = self.view.oids[max(0, position - 1) : position + 1]
        in_table = any(oid[:-1] == key[:-1] for oid in neighbours)  # the column exists
        return ber.VarBind(oid, ber.NO_SUCH_INSTANCE if in_table else ber.NO_SUCH_OBJECT, b"")

    def next_position(self, oid: bytes) -> int:
        return bisect.bisect_right(self.view.oids, ber.decode_oid(oid))

    def at(self, position: int, now: float) -> ber.VarBind:
        """The varbind at a position of the view, honouring no-such faults (skipped)."""
        return ber.VarBind(self.view.encoded[position], *self.value(self.view.cells[position], now))

    def hidden(self, position: int) -> bool:
        oid = self.view.oids[position]
        return any(oid[: len(p)] == p for p in self.faults.no_such)
