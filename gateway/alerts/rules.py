"""Alert rules as code: the YAML schema, validated like the config (file:line: field: message).

A rule selects one measurement, the field(s) it watches, tag values it applies to and, with
`where`, values other fields of the same sample must have (`where: {admin_up: true}`: a port
shut down on purpose never pages, and shutting one down clears its alert), and one
condition kind:

- `threshold: {op, value, clear}`: active while `field op value`; with `clear`, once active it
  stays active until the value is back beyond `clear` (hysteresis, so a value dithering around
  the threshold does not flap);
- `equals: <value>`: active while the field equals it (`equals: false` for `up`);
- `rate: {op, value, over}`: active while the field's change per second over `over` compares
  so (counters such as `errors`; a negative change, i.e. a counter reset, is never active);
- `absent: <duration>`: active when a series that was seen has sent nothing for that long;
  evaluated on a timer, not on samples.

`threshold` and `rate` may be combined (both must hold). `event: true` marks a field that
reports a happening, not a state (`rebooted: true` from a trap): it is cleared at once, so
`keep_firing_for` decides how long the alert stays. `by` lists the tags that identify one
alert instance (default: all the sample's tags). Durations are `30s`, `5m`, `2h` or seconds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BeforeValidator, Field, ValidationError, model_validator

from gateway.inventory import Section
from gateway.yaml_lines import YamlProblem, dotted_path, line_of, load_with_lines

DEFAULT_RULES = Path(__file__).resolve().parent / "default_rules.yaml"
# edumon's own runbook pages at its default address (gateway/http_pages.py); the service
# passes `alerts.runbook_base_url`, or its own address (a rules file's own key overrides both)
DEFAULT_RUNBOOK_BASE_URL = "http://127.0.0.1:9108/runbooks"
BaseUrl = Annotated[str, Field(pattern=r"^https?://\S+$")]

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def _seconds(value: Any) -> Any:
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if not match:
            raise ValueError("a duration such as 30s, 5m, 2h or a number of seconds")
        return float(match.group(1)) * _UNIT_S[match.group(2)]
    return value


Duration = Annotated[float, BeforeValidator(_seconds), Field(ge=0, le=30 * 86400)]
# Alertmanager refuses a whole POST over one label name outside this: check it here, at load
LabelName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Op = Literal[">", ">=", "<", "<="]
Scalar = float | int | bool | str


class Selector(Section):
    measurement: str = Field(min_length=1)
    field: str | list[str] = Field(min_length=1)
    tags: dict[str, str | list[str]] = Field(default_factory=dict)
    # other fields of the same sample that must have these values (`admin_up: true`: a port
    # shut down on purpose never pages); a sample without such a field is not excluded
    where: dict[str, bool | int | float | str] = Field(default_factory=dict)

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.field,) if isinstance(self.field, str) else tuple(self.field)


class Threshold(Section):
    op: Op
    value: float
    clear: float | None = None

    @model_validator(mode="after")
    def _clear_on_the_quiet_side(self) -> Threshold:
        if self.clear is None:
            return self
        above = self.op in (">", ">=")
        if (above and self.clear > self.value) or (not above and self.clear < self.value):
            raise ValueError("clear must be on the non-alerting side of value (hysteresis)")
        return self


class Rate(Section):
    op: Op
    value: float
    over: Duration = Field(gt=0)


_CONDITIONS = ("threshold", "equals", "rate", "absent")


class Rule(Section):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    # the alert's name when two rules raise one alert with different severities (default: name)
    alertname: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    select: Selector
    threshold: Threshold | None = None
    equals: Scalar | None = None
    rate: Rate | None = None
    absent: Duration | None = None
    event: bool = False
    by: list[LabelName] | None = None
    for_: Duration = Field(default=0.0, alias="for")
    keep_firing_for: Duration = 0.0
    severity: Literal["page", "warning", "info"]
    team: Literal["network", "science"]
    tier: Literal["core", "edge"] = "edge"
    labels: dict[LabelName, str] = Field(default_factory=dict)
    summary: str = Field(min_length=1)
    description: str = ""
    # a URL, or a page name below the runbook base URL (docs/runbooks/<name>.md)
    runbook: str | None = Field(default=None, pattern=r"^(https?://\S+|[a-z0-9][a-z0-9-]*)$")

    @property
    def alert(self) -> str:
        return self.alertname or self.name

    @model_validator(mode="after")
    def _one_condition(self) -> Rule:
        kinds = [k for k in _CONDITIONS if getattr(self, k) is not None]
        if not kinds:
            raise ValueError("needs a condition: threshold, equals, rate or absent")
        if len(kinds) > 1 and set(kinds) != {"threshold", "rate"}:
            raise ValueError(f"{' and '.join(kinds)} cannot be combined (only threshold + rate)")
        if self.event and self.absent is not None:
            raise ValueError("an absence is not an event")
        reserved = {"alertname", "severity", "team", "tier"} & set(self.labels)
        if reserved:
            raise ValueError(f"labels may not set {', '.join(sorted(reserved))}")
        return self


class RuleFile(Section):
    # where this pack's runbooks are, if not with edumon's (`alerts.runbook_base_url`)
    runbook_base_url: BaseUrl | None = None
    rules: list[Rule] = Field(default_factory=list)

    def resolved_rules(self, base_url: str = DEFAULT_RUNBOOK_BASE_URL) -> list[Rule]:
        """The rules with every runbook name turned into its page below the file's
        runbook_base_url, else `base_url`: <base>/<name>."""
        base = (self.runbook_base_url or base_url).rstrip("/")
        return [
            rule.model_copy(update={"runbook": f"{base}/{rule.runbook}"})
            if rule.runbook and not rule.runbook.startswith(("http://", "https://"))
            else rule
            for rule in self.rules
        ]

    @model_validator(mode="after")
    def _unique_names(self) -> RuleFile:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"rule name {rule.name!r} is used twice")
            seen.add(rule.name)
        return self


class RuleProblem(NamedTuple):
    file: str
    line: int | None
    field: str
    message: str


class RulesError(Exception):
    def __init__(self, problems: list[RuleProblem]) -> None:
        lines = (f"{p.file}:{p.line or 1}: {p.field}: {p.message}" for p in problems)
        super().__init__("\n".join(lines))
        self.problems = problems


def rule_problems(path: Path) -> list[RuleProblem]:
    """Every problem of a rules file (file, line, field, message); [] when it loads."""
    return _parse(path)[1]


def load_rules(
    path: Path = DEFAULT_RULES, runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL
) -> list[Rule]:
    rules, problems = _parse(path, runbook_base_url)
    if problems:
        raise RulesError(problems)
    return rules


def _parse(
    path: Path, runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL
) -> tuple[list[Rule], list[RuleProblem]]:
    where = str(path)
    try:
        data, lines = load_with_lines(path.read_text(encoding="utf-8"))
    except OSError as error:
        return [], [RuleProblem(where, None, "", f"cannot read: {error.strerror or error}")]
    except UnicodeDecodeError:
        return [], [RuleProblem(where, None, "", "not UTF-8 text")]
    except YamlProblem as error:
        return [], [RuleProblem(where, error.line, "", error.message)]
    try:
        return RuleFile.model_validate(data or {}).resolved_rules(runbook_base_url), []
    except ValidationError as error:
        problems = []
        for e in error.errors():
            loc = tuple(e["loc"])
            message = e["msg"].removeprefix("Value error, ")
            if e["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(RuleProblem(where, line_of(lines, loc), dotted_path(loc), message))
        return [], problems
