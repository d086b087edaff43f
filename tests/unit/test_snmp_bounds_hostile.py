"""Bounds on what an SNMP sender controls: the USM key cache takes only keys of messages that
authenticated, engine ids past RFC 3411's 32 octets are malformed, the trap queue drops its
oldest batch when full, and engine clocks survive a restart so a replay stays refused."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from collectors.snmp import ber, trap_engines
from collectors.snmp.interfaces import CounterState
from collectors.snmp.trap_queue import TrapQueue
from collectors.snmp.trap_time import NotInTimeWindow, TrapTimeliness
from collectors.snmp.traps import TrapReceiver
from collectors.snmp.usm import LOCALIZED_KEYS, KeyCache, UsmUser
from collectors.snmp.v3 import V3Message, decode_v3, encode_v3, flags_for
from gateway.sample import Sample

USER = UsmUser(b"traps", "sha256", b"test-only-trap-auth", "aes", b"test-only-trap-priv")
TRAP_OID = ber.encode_oid("1.3.6.1.6.3.1.1.4.1.0")
VARBINDS = [
    ber.VarBind(ber.encode_oid("1.3.6.1.2.1.1.3.0"), ber.TIMETICKS, ber.encode_unsigned(5)),
    ber.VarBind(TRAP_OID, ber.OBJECT_ID, ber.encode_oid("1.3.6.1.6.3.1.1.5.3")),
]


def trap(engine_id: bytes, user: UsmUser = USER, engine_time: int = 100, msg_id: int = 1) -> bytes:
    message = V3Message(
        msg_id, flags_for(user), engine_id, 1, engine_time, user.name, ber.TRAP_V2, msg_id,
        varbinds=VARBINDS, context_engine_id=engine_id,
    )  # fmt: skip
    return encode_v3(message, user)


def test_a_message_that_fails_authentication_caches_no_key() -> None:
    forger = UsmUser(b"traps", "sha256", b"not-the-key", "aes", b"not-the-priv-key")
    forged = [trap(os.urandom(32), forger) for _ in range(200)]
    genuine = trap(b"\x80\x00\x1f\x88\x80" + os.urandom(8))
    LOCALIZED_KEYS.clear()
    for datagram in forged:
        with pytest.raises(ValueError, match="authentication failed"):
            decode_v3(datagram, {USER.name: USER}.get)
    assert len(LOCALIZED_KEYS) == 0
    decode_v3(genuine, {USER.name: USER}.get)
    assert len(LOCALIZED_KEYS) == 2  # the genuine engine's authentication and privacy keys


def test_an_engine_id_longer_than_32_octets_is_malformed() -> None:
    receiver = TrapReceiver("127.0.0.1", 0, set(), {}, users=[USER])
    samples, _ = receiver.handle(trap(os.urandom(33)), "192.0.2.1")
    assert samples == [] and receiver.stats.rejected == {"malformed": 1}
    samples, _ = receiver.handle(trap(os.urandom(32)), "192.0.2.1")
    assert samples and receiver.stats.accepted == 1


def test_the_key_cache_forgets_the_least_recently_used() -> None:
    cache = KeyCache(2)
    cache.put("a", b"1")
    cache.put("b", b"2")
    assert cache.get("a") == b"1"
    cache.put("c", b"3")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"1", None, b"3")
    assert len(cache) == 2 and cache.evicted == 1


async def test_the_trap_queue_drops_its_oldest_batch_when_full() -> None:
    queue = TrapQueue(max_batches=3)
    assert queue.problem() is None
    batches = [[Sample("snmp_trap", {"n": str(n)}, {"v": n}, n)] for n in range(5)]
    for batch in batches:
        queue.put(batch)
    assert len(queue) == 3 and queue.dropped == 2
    assert [await queue.get() for _ in range(3)] == batches[2:]
    assert queue.problem() == "2 traps dropped: the pipeline did not keep up"
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put(batches[0])
    assert await waiting == batches[0]


def test_engine_clocks_survive_a_restart_and_a_replay_stays_refused(tmp_path: Path) -> None:
    now = [1000.0]
    engine, path = b"\x80\x00\x1f\x88\x80switch", tmp_path / "snmp" / "trap_engines.json"
    before = TrapTimeliness(clock=lambda: now[0])
    before.check(engine, 3, 50_000, 1)
    before.check(engine, 3, 50_002, 2)
    trap_engines.save(before, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    after = TrapTimeliness(clock=lambda: now[0] + 5)  # restarted: a new monotonic clock
    assert trap_engines.load(after, path) == 1
    for engine_time, msg_id in ((50_002, 2), (50_000, 1)):
        with pytest.raises(NotInTimeWindow) as replayed:
            after.check(engine, 3, engine_time, msg_id)
        assert replayed.value.reason == "replayed"
    after.check(engine, 3, 50_004, 3)  # the switch's next trap is taken
    after.check(engine, 4, 10, 4)  # and so is one after its reboot


def test_an_unreadable_engines_file_is_a_fresh_start(tmp_path: Path) -> None:
    path = tmp_path / "trap_engines.json"
    path.write_text("{not json")
    assert trap_engines.load(TrapTimeliness(), path) == 0


def test_counter_state_forgets_rows_the_device_no_longer_lists() -> None:
    state = CounterState()
    for poll in range(100):  # a device renumbering its ifIndexes at every poll
        index = 1000 + poll
        state.values[index], state.last_change[index], state.oper[index] = {"in": 1}, 0, True
        state.keep_only({index})
    assert list(state.values) == list(state.last_change) == list(state.oper) == [1099]
