"""Walks of table columns that stop at a bound: forwarding tables can hold tens of thousands
of rows, and discovery reads at most a configured number per switch and round. Columns are
walked together (one GETBULK asks for each), so a table costs few requests."""

from __future__ import annotations

from collections.abc import Sequence
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


Rows = dict[tuple[int, ...], ber.VarBind]


@dataclass
class _Cursor:
    prefix: bytes
    at: bytes
    last: tuple[int, ...] = ()
    rows: Rows = field(default_factory=dict)

    def take(self, varbind: ber.VarBind, budget: RowBudget) -> bool:
        """Keep one varbind of the answer; False when the column ends here (past its
        subtree, an exception, an OID not after the last, or the budget spent)."""
        oid = varbind.oid
        if len(oid) <= len(self.prefix) or not oid.startswith(self.prefix):
            return False
        if varbind.tag in ber.EXCEPTIONS:
            return False
        index = ber.oid_suffix(oid, self.prefix)
        if index <= self.last:  # a looping agent
            return False
        if not budget.take(1):
            budget.cut += 1
            return False
        self.rows[index] = varbind
        self.last, self.at = index, oid
        return True


async def walk_bounded(
    transport: SnmpTransport, columns: Sequence[str], budget: RowBudget, max_repetitions: int = 25
) -> list[Rows]:
    """{row index: varbind} of each column, in the order given, up to the budget's rows."""
    cursors = [_Cursor(ber.encode_oid(c), ber.encode_oid(c)) for c in columns]
    active = list(cursors)
    while active:
        if budget.left <= 0:
            budget.cut += len(active)
            break
        repetitions = max(1, min(max_repetitions, -(-budget.left // len(active))))
        varbinds = await transport.bulk([c.at for c in active], repetitions)
        if not varbinds:
            raise SnmpError(f"empty GETBULK answer walking {', '.join(columns)}")
        ended, progressed = [], False
        for position, cursor in enumerate(active):
            # the answer repeats the columns in the order asked (fewer than asked: the
            # columns left without one are asked again from where they are)
            for varbind in varbinds[position :: len(active)]:
                if not cursor.take(varbind, budget):
                    ended.append(cursor)
                    break
                progressed = True
        if not progressed and not ended:
            raise SnmpError(f"GETBULK answers make no progress walking {', '.join(columns)}")
        active = [c for c in active if c not in ended]
    return [c.rows for c in cursors]


async def walk_column(
    transport: SnmpTransport, column: str, budget: RowBudget, max_repetitions: int = 25
) -> Rows:
    (rows,) = await walk_bounded(transport, [column], budget, max_repetitions)
    return rows
