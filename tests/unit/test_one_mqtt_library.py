"""One MQTT library in the project: paho-mqtt, through gateway/mqtt_client.py."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "collectors", "simulators", "tests", "bench", "firmware")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_uses_another_mqtt_client() -> None:
    sources = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    offenders = {
        str(p.relative_to(ROOT)): others
        for p in sources
        if "node_modules" not in p.parts
        and (others := imported_modules(p) & {"aiomqtt", "gmqtt", "asyncio_mqtt", "hbmqtt"})
    }
    assert offenders == {}
    paho_users = {
        str(p.relative_to(ROOT))
        for p in sources
        if "paho" in imported_modules(p) and p.parts[len(ROOT.parts)] != "tests"
    }
    assert paho_users <= {f"gateway/mqtt_{m}.py" for m in ("client", "options", "subscriptions")}
