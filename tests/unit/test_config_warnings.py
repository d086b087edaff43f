"""`edumon check-config` warns about two SNMP devices on one address and port, at the line of
the second, and the example city has none."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main

CITY = Path(__file__).resolve().parents[2] / "examples" / "city.yaml"
SECRETS = {"EDUMON_SNMP_COMMUNITY": "c", "EDUMON_SNMP_AUTH": "a" * 12, "EDUMON_SNMP_PRIV": "p" * 12}


def test_two_devices_on_one_address_and_port_are_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    text = CITY.read_text(encoding="utf-8").replace(
        "codec_dir: codecs", f"codec_dir: {CITY.parent / 'codecs'}"
    )
    shared = text.replace(
        "id: vsk-1-access-1, role: access, address: 127.0.0.102, port: 16102",
        "id: vsk-1-access-1, role: access, address: 127.0.0.101, port: 16101",
    )
    assert shared != text
    config = tmp_path / "city.yaml"
    config.write_text(shared, encoding="utf-8")
    line = 1 + shared[: shared.index("id: vsk-1-access-1")].count("\n")
    assert main(["check-config", str(config)]) == 0  # a warning, not a refusal
    out = capsys.readouterr().out
    assert (
        f"{config}:{line}: warning: vsk-1-access-1 and vsk-1-core share 127.0.0.101 port 16101"
        in out
    )
    assert main(["check-config", str(CITY)]) == 0
    assert "warning" not in capsys.readouterr().out
