"""Dead-letter files are bounded on disk and survive a full disk without raising."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import pytest

from gateway.deadletter import RAW_LIMIT, DeadLetterFile


def test_a_record_keeps_64_kib_of_the_raw_input_and_its_size(tmp_path: Path) -> None:
    letters = DeadLetterFile(tmp_path / "d.jsonl")
    letters.add(source="mqtt", reason="invalid JSON: x", raw=b"\xff" + b"a" * 5_000_000)
    letters.add(source="mqtt", reason="invalid JSON: y", raw="small")
    big, small = letters.read()
    assert big["raw_size"] == 5_000_001 and big["truncated"] is True
    assert big["raw"].startswith("\\xffaaa") and len(big["raw"]) == RAW_LIMIT + 3
    assert small == {**small, "raw": "small", "raw_size": 5} and "truncated" not in small
    assert (tmp_path / "d.jsonl").stat().st_size < 2 * RAW_LIMIT


def test_files_rotate_at_the_cap_and_the_oldest_go(tmp_path: Path) -> None:
    letters = DeadLetterFile(tmp_path / "d.jsonl", max_bytes=200_000, keep=2)
    for n in range(100):
        letters.add(source="mqtt", reason=f"bad: {n}", raw=b"x" * 20_000)
    files = letters.files()
    assert [f.name for f in files] == ["d.jsonl.2", "d.jsonl.1", "d.jsonl"]
    assert all(f.stat().st_size <= 200_000 for f in files)
    kept = [int(r["reason"].split(": ")[1]) for r in letters.read()]
    assert kept == list(range(100 - len(kept), 100))  # the newest, in order
    assert letters.count == 100


def test_a_full_disk_is_counted_logged_once_a_minute_and_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    now = [0.0]
    letters = DeadLetterFile(tmp_path / "d.jsonl", clock=lambda: now[0])

    def full(_line: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(letters, "_append", full)
    with caplog.at_level(logging.ERROR):
        for second in range(150):
            now[0] = float(second)
            letters.add(source="mqtt", reason="bad: x", raw=b"x")
    assert letters.lost == 150 and letters.count == 0
    assert letters.error is not None and "No space left" in letters.error
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 3  # 0, 60, 120 s
    monkeypatch.undo()
    letters.add(source="mqtt", reason="bad: y", raw=b"y")
    assert letters.error is None and letters.count == 1
