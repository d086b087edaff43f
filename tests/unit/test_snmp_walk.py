"""walk_columns against scripted GETBULK answers: what each column keeps, and when it ends."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from collectors.snmp import ber
from collectors.snmp.client import RequestStats, SnmpError, walk_columns

TABLE = "1.3.6.1.2.1.2.2.1."
NAME, TYPE = ber.encode_oid(TABLE + "2"), ber.encode_oid(TABLE + "3")


def cell(column: str, index: int, value: int = 0) -> ber.VarBind:
    return ber.VarBind(ber.encode_oid(f"{TABLE}{column}.{index}"), ber.INTEGER, bytes((value,)))


END = ber.VarBind(ber.encode_oid("1.3.6.1.2.1.2.2.2"), ber.END_OF_MIB_VIEW, b"")


class Scripted:
    """Answers each GETBULK with the next scripted varbind list; records what was asked."""

    def __init__(self, *answers: list[ber.VarBind]) -> None:
        self.answers = list(answers)
        self.asked: list[list[bytes]] = []
        self.stats = RequestStats()

    async def get(self, oids: Sequence[bytes]) -> list[ber.VarBind]:
        raise AssertionError("walks use GETBULK")

    async def bulk(self, oids: Sequence[bytes], max_repetitions: int) -> list[ber.VarBind]:
        self.asked.append(list(oids))
        return self.answers.pop(0)


async def test_columns_interleaved_and_ending_at_different_rows() -> None:
    agent = Scripted(
        [cell("2", 1), cell("3", 1), cell("2", 2), cell("3", 2), cell("2", 3), cell("4", 1)],
        [cell("2", 4), END],
    )
    rows = await walk_columns(agent, [NAME, TYPE], 3)
    assert sorted(rows[NAME]) == [(1,), (2,), (3,), (4,)]
    assert sorted(rows[TYPE]) == [(1,), (2,)]  # its third varbind left the column
    assert agent.asked == [[NAME, TYPE], [cell("2", 3).oid]]


async def test_an_agent_that_steps_back_ends_the_column_there_and_is_counted() -> None:
    """A varbind that goes back (here to the OID asked) ends the column: the rows before it
    are kept, no further request is made for it, and the walk is counted as not increasing."""
    agent = Scripted(
        [cell("2", 1), cell("2", 2)],
        [cell("2", 3), cell("2", 2)],  # back to the OID this request was asked from
        [cell("2", 3), END],
    )
    rows = await walk_columns(agent, [NAME], 2)
    assert sorted(rows[NAME]) == [(1,), (2,), (3,)]
    assert agent.asked[1:] == [[cell("2", 2).oid]]
    assert agent.stats.not_increasing == 1


async def test_indexes_compare_as_numbers_not_as_ber_bytes() -> None:
    """Row 256 is encoded 0x82 0x00 and row 16384 0x81 0x80 0x00: bytes would sort them the
    wrong way round and end a correct walk."""
    agent = Scripted([cell("2", 256), cell("2", 16384)], [END])
    rows = await walk_columns(agent, [NAME], 2)
    assert sorted(rows[NAME]) == [(256,), (16384,)]
    assert agent.stats.not_increasing == 0


async def test_an_answer_that_repeats_the_asked_oid_ends_the_column() -> None:
    agent = Scripted([cell("2", 1)], [cell("2", 1, value=9)])
    rows = await walk_columns(agent, [NAME], 5)
    assert rows[NAME] == {(1,): cell("2", 1)}
    assert agent.stats.not_increasing == 1


async def test_an_answer_without_varbinds_makes_no_progress() -> None:
    with pytest.raises(SnmpError, match="no progress"):
        await walk_columns(Scripted([]), [NAME], 5)
