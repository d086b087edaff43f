"""Alert rules files are validated like the config: every problem as file:line: field: message,
reported by `check-config` together with the config's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.alerts.rules import Rule, rule_problems
from gateway.config import check_config
from gateway.plugins import PLUGINS

RULE = """rules:
  - name: UplinkDown
    select: {measurement: interface, field: oper_up, tags: {role: uplink}}
    equals: false
    for: 30s
    severity: page
    team: network
    summary: "{ifname} is down"
"""


@pytest.mark.parametrize(
    ("change", "line", "field", "message"),
    [
        (("for: 30s", "for: soon"), 5, "rules[0].for", "a duration such as 30s"),
        (("severity: page", "severity: urgent"), 6, "rules[0].severity", "Input should be"),
        (("    equals: false\n", ""), 2, "rules[0]", "needs a condition"),
        (
            ("    equals: false\n", "    equals: false\n    absent: 5m\n"),
            2,
            "rules[0]",
            "equals and absent cannot be combined",
        ),
        (("team: network", "team: network\n    colour: red"), 8, "rules[0].colour", "unknown key"),
        (
            ("team: network", "team: network\n    by: [site, ap-name]"),
            8,
            "rules[0].by[1]",
            "should match pattern",
        ),
        (
            ("equals: false", "threshold: {op: '>', value: 90, clear: 95}"),
            4,
            "rules[0].threshold",
            "clear must be on the non-alerting side",
        ),
    ],
)
def test_problems_name_line_and_field(
    tmp_path: Path, change: tuple[str, str], line: int, field: str, message: str
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULE.replace(*change))
    (problem,) = rule_problems(path)
    assert (problem.file, problem.line, problem.field) == (str(path), line, field)
    assert message in problem.message


def test_a_valid_rule_loads_with_durations_in_seconds(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULE)
    assert rule_problems(path) == []
    rule = Rule.model_validate(
        {**_minimal(), "absent": "1h", "keep_firing_for": "90"}  # seconds without a unit
    )
    assert (rule.absent, rule.keep_firing_for) == (3600.0, 90.0)


def test_names_must_be_unique(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULE + RULE.removeprefix("rules:\n"))
    (problem,) = rule_problems(path)
    assert "used twice" in problem.message


def test_check_config_reports_the_rules_file_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "alerting").mkdir()
    rules = tmp_path / "alerting" / "rules.yaml"
    rules.write_text(RULE.replace("for: 30s", "for: soon"))
    config = tmp_path / "edumon.yaml"
    config.write_text("alerts:\n  rules_file: alerting/rules.yaml\n")
    problems = check_config(config, PLUGINS, {})
    assert [str(p) for p in problems] == [
        f"{rules}:5: rules[0].for: a duration such as 30s, 5m, 2h or a number of seconds"
    ]
    rules.write_text(RULE)
    assert check_config(config, PLUGINS, {}) == []
    config.write_text("alerts:\n  rules_file: missing.yaml\n")
    (problem,) = check_config(config, PLUGINS, {})
    assert str(problem).startswith(f"{tmp_path / 'missing.yaml'}: cannot read")


def _minimal() -> dict[str, object]:
    return {
        "name": "Silent",
        "select": {"measurement": "environment", "field": "co2_ppm"},
        "severity": "info",
        "team": "network",
        "summary": "silent",
    }
