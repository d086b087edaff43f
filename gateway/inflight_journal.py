"""Poison messages: a message whose handling kills edumon is dead-lettered, not handled forever.

A message is acknowledged only after it is handled and persisted, so one whose handling never
finishes (a decoder that crashes or hangs the process until it is killed) comes back from the
broker after every restart and takes edumon down again. Before a message is handled, its
digest (BLAKE2b of topic and payload: MQTT packet ids change between sessions) is written in
place into `<state_dir>/inflight/<name>.current`, and blanked once the handler (or the awaitable
it returned) finished, also by raising: that is a handled failure, dead-lettered by the
consumer. A digest still there when
edumon starts is a message whose handling did not finish; it is counted in
`<name>.suspects`. When a suspect arrives again after POISON_AFTER unfinished attempts, it is
dead-lettered with reason `poison` instead of handled; a suspect handled to the end is
forgiven. The journal is written, not fsynced: it survives the process being killed (the page
cache is the kernel's), not a power cut. At most MAX_SUSPECTS digests are kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import overload

from gateway.deadletter import DeadLetterFile
from gateway.sample import Sample

log = logging.getLogger(__name__)

# (topic, payload, retained) -> samples, or an awaitable of them (as the MQTT consumer takes it)
Handler = Callable[[str, bytes, bool], list[Sample] | Awaitable[list[Sample]]]
SyncHandler = Callable[[str, bytes, bool], list[Sample]]
POISON_AFTER = 2  # unfinished attempts before a message is dead-lettered as poison
MAX_SUSPECTS = 1000
_DIGEST_BYTES = 16
_IDLE = b" " * (2 * _DIGEST_BYTES) + b"\n"


class InflightJournal:
    """The digest of the message being handled, and the messages that were being handled when
    edumon died, with how often."""

    def __init__(self, directory: Path, name: str, *, poison_after: int = POISON_AFTER) -> None:
        self.name = name
        self.poison_after = poison_after
        self.poisoned = 0  # messages dead-lettered as poison since start
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._current = directory / f"{name}.current"
        self._suspects_path = directory / f"{name}.suspects"
        self.suspects: dict[str, int] = self._load_suspects()
        unfinished = self._read_current()
        self._fd = os.open(self._current, os.O_WRONLY | os.O_CREAT, 0o600)
        os.pwrite(self._fd, _IDLE, 0)
        if unfinished:
            self.suspects[unfinished] = self.suspects.get(unfinished, 0) + 1
            log.warning(
                "%s: edumon stopped while handling message %s (unfinished attempt %d); it is "
                "dead-lettered as poison when it arrives after %d",
                name,
                unfinished,
                self.suspects[unfinished],
                poison_after,
            )
            self._save_suspects()

    @classmethod
    def in_state_dir(cls, state_dir: Path, name: str) -> InflightJournal:
        return cls(Path(state_dir) / "inflight", name)

    @overload
    def guard(self, handler: SyncHandler, dead_letters: DeadLetterFile) -> SyncHandler: ...

    @overload
    def guard(self, handler: Handler, dead_letters: DeadLetterFile) -> Handler: ...

    def guard(self, handler: Handler, dead_letters: DeadLetterFile) -> Handler:
        """`handler` with each message journaled around it; a poison message is dead-lettered
        in `dead_letters` (under this journal's name) and gives no samples."""

        def guarded(
            topic: str, payload: bytes, retained: bool
        ) -> list[Sample] | Awaitable[list[Sample]]:
            digest = _digest(topic, payload)
            if self.suspects and self._is_poison(digest):
                raw = topic.encode("utf-8", "backslashreplace") + b"\n" + payload
                reason = (
                    f"poison: edumon stopped {self.poison_after} times while handling this "
                    f"message (digest {digest}); not handled again"
                )
                dead_letters.add(source=self.name, reason=reason, raw=raw)
                return []
            os.pwrite(self._fd, digest.encode() + b"\n", 0)
            try:
                samples = handler(topic, payload, retained)
            except BaseException:
                self._finished(digest)
                raise
            if isinstance(samples, list):
                self._finished(digest)
                return samples
            return self._finished_after(digest, samples)

        return guarded

    async def _finished_after(self, digest: str, pending: Awaitable[list[Sample]]) -> list[Sample]:
        try:
            return await pending
        finally:
            self._finished(digest)

    def _finished(self, digest: str) -> None:
        os.pwrite(self._fd, _IDLE, 0)
        if digest in self.suspects:  # handled to the end after all
            del self.suspects[digest]
            self._save_suspects()

    def _is_poison(self, digest: str) -> bool:
        if self.suspects.get(digest, 0) < self.poison_after:
            return False
        del self.suspects[digest]
        self._save_suspects()
        self.poisoned += 1
        log.error("%s: message %s dead-lettered as poison", self.name, digest)
        return True

    def _read_current(self) -> str:
        try:
            return self._current.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return ""

    def _load_suspects(self) -> dict[str, int]:
        try:
            loaded = json.loads(self._suspects_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(loaded, dict):
            return {}
        return {k: v for k, v in loaded.items() if isinstance(k, str) and isinstance(v, int)}

    def _save_suspects(self) -> None:
        while len(self.suspects) > MAX_SUSPECTS:  # the oldest suspicion goes first
            del self.suspects[next(iter(self.suspects))]
        temp = self._suspects_path.with_suffix(".tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(self.suspects, file)
                file.flush()
                os.fsync(file.fileno())
            temp.replace(self._suspects_path)
        except OSError as error:  # a full disk: the suspicion lives in memory until restart
            log.error("%s: cannot save %s: %s", self.name, self._suspects_path, error)
            with contextlib.suppress(OSError):
                temp.unlink()

    def close(self) -> None:
        os.close(self._fd)


def _digest(topic: str, payload: bytes) -> str:
    hasher = hashlib.blake2b(topic.encode("utf-8", "surrogateescape"), digest_size=_DIGEST_BYTES)
    hasher.update(b"\0")
    hasher.update(payload)
    return hasher.hexdigest()
