"""A walk of one table column that stops at a bound: forwarding tables can hold tens of
thousands of rows, and discovery reads at most a configured number per switch."""

from __future__ import annotations

from dataclasses import dataclass, field

from collectors.snmp import ber
from collectors.snmp.client import SnmpError, SnmpTransport


@dataclass
class RowBudget:
    """Rows one switch's discovery may still read; `cut` counts walks stopped at the bound."""

    left: int
    read: int = 0
    cut: int = 0

    def take(self, count: int) -> int:
        granted = min(count, self.left)
        self.left -= granted
        self.read += granted
        return granted


@dataclass
class Column:
    rows: dict[tuple[int, ...], ber.VarBind] = field(default_factory=dict)
    complete: bool = True


async def walk_bounded(
    transport: SnmpTransport, column: str, budget: RowBudget, max_repetitions: int = 25
) -> Column:
    """{row index: varbind} of one column, in order, up to the budget's rows; stops at the
    column's end, an exception, or an OID that does not increase (a looping agent)."""
    prefix = ber.encode_oid(column)
    result, cursor = Column(), prefix
    last: tuple[int, ...] = ()
    while True:
        if budget.left <= 0:
            budget.cut += 1
            result.complete = False
            return result
        varbinds = await transport.bulk([cursor], min(max_repetitions, budget.left))
        if not varbinds:
            raise SnmpError(f"empty GETBULK answer walking {column}")
        for varbind in varbinds:
            oid = varbind.oid
            if not oid.startswith(prefix) or len(oid) <= len(prefix):
                return result
            if varbind.tag in ber.EXCEPTIONS:
                return result
            index = ber.oid_suffix(oid, prefix)
            if index <= last:
                return result
            if not budget.take(1):
                budget.cut += 1
                result.complete = False
                return result
            result.rows[index] = varbind
            last, cursor = index, oid
