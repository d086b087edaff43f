"""A test whose binary or privilege is missing skips here and fails under CI; no test skips
any other way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.unavailable import unavailable

TESTS = Path(__file__).resolve().parents[1]


def test_a_missing_requirement_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no snmpd"):
        unavailable("no snmpd")


def test_a_missing_requirement_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no snmpd; CI must provide it"):
        unavailable("no snmpd")


def test_no_test_skips_but_through_unavailable() -> None:
    skipping = re.compile(r"pytest\.skip\(|pytest\.mark\.skip|importorskip")
    offenders = [
        f"{path.relative_to(TESTS)}:{number}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name not in ("unavailable.py", Path(__file__).name)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if skipping.search(line)
    ]
    assert offenders == []
