"""Every rule of the default pack links a runbook that exists in docs/runbooks/, below the
rules file's configurable base URL."""

from __future__ import annotations

from pathlib import Path

from gateway.alerts.rules import DEFAULT_RULES, RuleFile, load_rules
from gateway.yaml_lines import load_with_lines

RUNBOOKS = Path(__file__).resolve().parents[2] / "docs" / "runbooks"


def test_every_default_rule_links_an_existing_runbook() -> None:
    base = RuleFile().runbook_base_url
    for rule in load_rules():
        assert rule.runbook is not None, rule.name
        assert rule.runbook.startswith(f"{base}/") and rule.runbook.endswith(".md"), rule.runbook
        assert (RUNBOOKS / rule.runbook.removeprefix(f"{base}/")).is_file(), rule.name


def test_the_base_url_is_a_setting_of_the_rules_file() -> None:
    data, _ = load_with_lines(DEFAULT_RULES.read_text(encoding="utf-8"))
    pack = RuleFile.model_validate({**data, "runbook_base_url": "https://wiki.city.lv/edumon/"})
    assert {rule.runbook for rule in pack.resolved_rules()} >= {
        "https://wiki.city.lv/edumon/uplink-down.md"
    }
