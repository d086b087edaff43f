"""What `edumon check-config` warns about without refusing the config.

Two SNMP devices on one address and port are one agent polled twice under two names, and
their traps cannot be told apart by address: each is named at its line with the other.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from gateway.yaml_lines import YamlProblem, line_of, load_with_lines

SNMP_KINDS = {"switch": 161}  # kind -> its default port


def _normal(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.strip("[]")))
    except ValueError:
        return address.lower()


def config_warnings(path: Path) -> list[str]:
    """`file:line: warning: ...` lines, in file order; none for a file that cannot be read
    (check-config reports that as a problem)."""
    try:
        data, lines = load_with_lines(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YamlProblem):
        return []
    first: dict[tuple[str, int], str] = {}
    warnings = []
    for loc, device in _devices(data):
        default_port = SNMP_KINDS.get(str(device.get("kind")))
        address, port = device.get("address"), device.get("port", default_port)
        if default_port is None or not isinstance(address, str) or not isinstance(port, int):
            continue
        key = (_normal(address), port)
        ident = str(device.get("id", "?"))
        if key in first:
            line = line_of(lines, loc)
            where = f"{path}:{line}" if line else str(path)
            warnings.append(
                f"{where}: warning: {ident} and {first[key]} share {address} port {port}: "
                "one agent polled under two names, and their traps cannot be told apart "
                "by address (give each device its own address or port)"
            )
        else:
            first[key] = ident
    return warnings


def _devices(data: Any) -> list[tuple[tuple[str | int, ...], dict[str, Any]]]:
    sites = data.get("sites") if isinstance(data, dict) else None
    found: list[tuple[tuple[str | int, ...], dict[str, Any]]] = []
    for i, site in enumerate(sites if isinstance(sites, list) else []):
        devices = site.get("devices") if isinstance(site, dict) else None
        for j, device in enumerate(devices if isinstance(devices, list) else []):
            if isinstance(device, dict):
                found.append((("sites", i, "devices", j), device))
    return found
