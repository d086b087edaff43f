"""An in-memory SNMP agent at edumon's transport boundary (`SnmpTransport`), for discovery's
table tests: cells by OID, answered in OID order like a real agent (GETBULK past the last
cell: endOfMibView). Integration tests use the simulator fleet, snmpsim and snmpd instead."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from collectors.snmp import ber
from collectors.snmp.client import RequestStats


def octets(value: bytes | str) -> tuple[int, bytes]:
    return ber.OCTET_STRING, value.encode() if isinstance(value, str) else value


def integer(value: int) -> tuple[int, bytes]:
    return ber.INTEGER, ber.encode_integer(value)


def gauge(value: int) -> tuple[int, bytes]:
    return ber.GAUGE32, ber.encode_unsigned(value)


class TableAgent:
    def __init__(self, cells: dict[str, tuple[int, bytes]]) -> None:
        self.stats = RequestStats()
        self.requests = 0
        self.set(cells)

    def set(self, cells: dict[str, tuple[int, bytes]]) -> None:
        keyed = sorted(
            (tuple(int(a) for a in oid.split(".")), value) for oid, value in cells.items()
        )
        self._oids = [oid for oid, _ in keyed]
        self._values = [value for _, value in keyed]

    async def get(self, oids: Sequence[bytes]) -> list[ber.VarBind]:
        self.requests += 1
        out = []
        for oid in oids:
            key = ber.decode_oid(oid)
            at = bisect.bisect_left(self._oids, key)
            if at < len(self._oids) and self._oids[at] == key:
                out.append(ber.VarBind(oid, *self._values[at]))
            else:
                out.append(ber.VarBind(oid, ber.NO_SUCH_OBJECT, b""))
        return out

    async def bulk(self, oids: Sequence[bytes], max_repetitions: int) -> list[ber.VarBind]:
        self.requests += 1
        cursors = [bisect.bisect_right(self._oids, ber.decode_oid(oid)) for oid in oids]
        out = []
        for _ in range(max_repetitions):
            for i, at in enumerate(cursors):
                if at >= len(self._oids):
                    out.append(ber.VarBind(oids[i], ber.END_OF_MIB_VIEW, b""))
                else:
                    out.append(ber.VarBind(ber.encode_oid(self._oids[at]), *self._values[at]))
                cursors[i] = at + 1
        return out
