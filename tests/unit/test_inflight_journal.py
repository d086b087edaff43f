"""A message whose handling kills edumon (kill -9 of a real child process here) is recognised
when it comes back, and dead-lettered as `poison` after the second unfinished attempt; the
other messages are handled, and a suspect that is handled to the end is forgiven."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

from gateway.deadletter import DeadLetterFile
from gateway.inflight_journal import InflightJournal
from gateway.sample import Sample

POISON = ("application/a/device/d/event/up", b'{"data": "kills the decoder"}')
GOOD = ("application/a/device/d/event/up", b'{"data": "fine"}')
REPO = Path(__file__).resolve().parents[2]

# a process that handles POISON and is killed by it (as a hanging decoder is, by systemd or
# an operator), between journaling the message and the handler's return
KILLED_WHILE_HANDLING = """
import os, signal, sys
from pathlib import Path
from gateway.deadletter import DeadLetterFile
from gateway.inflight_journal import InflightJournal

state = Path(sys.argv[1])
journal = InflightJournal.in_state_dir(state, "lorawan")
handle = journal.guard(lambda *_: os.kill(os.getpid(), signal.SIGKILL), DeadLetterFile(state / "d"))
handle(sys.argv[2], sys.argv[3].encode(), False)
"""


def die_handling(state: Path, topic: str, payload: bytes) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-c", KILLED_WHILE_HANDLING, str(state), topic, payload.decode()]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr


def handled(topic: str, payload: bytes, retained: bool) -> list[Sample]:
    return [Sample("lorawan", {"device": "d"}, {"f_cnt": len(payload)}, 1)]


def test_a_message_that_killed_edumon_twice_is_dead_lettered_as_poison(tmp_path: Path) -> None:
    die_handling(tmp_path, *POISON)
    assert list(InflightJournal.in_state_dir(tmp_path, "lorawan").suspects.values()) == [1]
    die_handling(tmp_path, *POISON)  # the broker delivered it again after the restart
    journal = InflightJournal.in_state_dir(tmp_path, "lorawan")
    dead = DeadLetterFile(tmp_path / "deadletter" / "lorawan.jsonl")
    handle = journal.guard(handled, dead)
    assert len(handle(*GOOD, False)) == 1
    assert handle(*POISON, False) == []  # the third delivery: not handled
    assert len(handle(*GOOD, False)) == 1
    [letter] = dead.read()
    assert letter["reason"].startswith("poison: edumon stopped 2 times while handling")
    assert letter["raw"] == f"{POISON[0]}\n{POISON[1].decode()}" and letter["source"] == "lorawan"
    assert journal.poisoned == 1 and journal.suspects == {}
    assert len(handle(*POISON, False)) == 1  # published again later: a new message, handled
    modes = {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "inflight").iterdir()}
    assert modes == {0o600}


def test_a_suspect_handled_to_the_end_is_forgiven(tmp_path: Path) -> None:
    die_handling(tmp_path, *POISON)
    journal = InflightJournal.in_state_dir(tmp_path, "lorawan")
    handle = journal.guard(handled, DeadLetterFile(tmp_path / "d.jsonl"))
    assert len(handle(*POISON, False)) == 1  # the second attempt finished
    assert journal.suspects == {}
    assert InflightJournal.in_state_dir(tmp_path, "lorawan").suspects == {}


def test_a_handler_that_raises_finished_its_message(tmp_path: Path) -> None:
    journal = InflightJournal.in_state_dir(tmp_path, "mqtt")

    def broken(topic: str, payload: bytes, retained: bool) -> list[Sample]:
        raise ValueError("a bug, dead-lettered by the consumer")

    handle = journal.guard(broken, DeadLetterFile(tmp_path / "d.jsonl"))
    for _ in range(3):
        with contextlib.suppress(ValueError):
            handle(*GOOD, False)
    journal.close()
    assert InflightJournal.in_state_dir(tmp_path, "mqtt").suspects == {}


async def test_an_awaited_handler_is_in_flight_until_it_is_done(tmp_path: Path) -> None:
    journal = InflightJournal.in_state_dir(tmp_path, "lorawan")
    current = tmp_path / "inflight" / "lorawan.current"
    decoded = asyncio.Event()

    async def decode_elsewhere() -> list[Sample]:
        await decoded.wait()
        return handled(*GOOD, False)

    pending = journal.guard(lambda *_: decode_elsewhere(), DeadLetterFile(tmp_path / "d.jsonl"))
    result = pending(*GOOD, False)
    assert not isinstance(result, list)
    task = asyncio.ensure_future(result)
    await asyncio.sleep(0.01)
    assert current.read_text().strip()  # a kill now finds it unfinished
    decoded.set()
    assert len(await task) == 1
    assert not current.read_text().strip()
