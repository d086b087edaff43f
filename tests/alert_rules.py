"""The default alert rule pack with some rules' settings changed, for tests that cannot wait
minutes for a `for` or a `keep_firing_for`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gateway.alerts.rules import DEFAULT_RULES


def rules_with(path: Path, changes: dict[str, dict[str, Any]]) -> Path:
    """Write the default pack, each rule named in `changes` updated by it, to `path`."""
    pack = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    for rule in pack["rules"]:
        rule.update(changes.get(rule["name"], {}))
    path.write_text(yaml.safe_dump(pack), encoding="utf-8")
    return path
