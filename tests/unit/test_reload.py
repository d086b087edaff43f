"""What a reload counts as changed: devices by id, and every device when the credentials or
a collector's section (intervals, retries) changed."""

from __future__ import annotations

from pathlib import Path

from gateway.config import EdumonConfig, load_config
from gateway.plugins import PLUGINS
from gateway.reload import device_changes

SECRETS = {"C": "community"}


def config_of(tmp_path: Path, switches: str, snmp: str = "{interval_s: 60}") -> EdumonConfig:
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"service: {{state_dir: {tmp_path}}}\nsnmp: {snmp}\n"
        "credentials: {snmp: {v2: {version: 2c, community_env: C}}}\n"
        f"sites:\n  - id: s\n    name: S\n    devices: [{switches}]\n"
    )
    return load_config(path, PLUGINS, SECRETS)


def switch(name: str, port: int = 161) -> str:
    return (
        f"{{kind: switch, id: {name}, role: access, address: 127.0.0.1, port: {port}, "
        "credentials: v2}"
    )


def test_added_removed_and_changed_devices(tmp_path: Path) -> None:
    old = config_of(tmp_path, f"{switch('a')}, {switch('b')}, {switch('c')}")
    new = config_of(tmp_path, f"{switch('b', 1161)}, {switch('c')}, {switch('d')}")
    changes = device_changes(old, new)
    assert changes == (["d"], ["a"], ["b"])
    assert changes.describe() == "added d; removed a; changed b"
    assert device_changes(new, new).describe() == "no device changed"


def test_a_collector_section_changes_every_device(tmp_path: Path) -> None:
    old = config_of(tmp_path, f"{switch('a')}, {switch('b')}")
    new = config_of(tmp_path, f"{switch('a')}, {switch('b')}", snmp="{interval_s: 30}")
    assert device_changes(old, new) == ([], [], ["a", "b"])
