"""The limits the dashboards colour by, read at build time from where they are defined: the
alert rules (the config's `alerts.rules_file`, else the default rules) and the config's
`reports.healthy_wifi`. Nothing here is typed a second time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateway.alerts.rules import DEFAULT_RULES
from gateway.reports.config import HealthyWifi


@dataclass(frozen=True)
class RuleLimit:
    """A threshold rule's firing value and the value under which it clears."""

    fire: float
    clear: float


@dataclass(frozen=True)
class Limits:
    healthy_wifi: HealthyWifi
    uplink_saturated: RuleLimit  # UplinkSaturated (in or out utilisation, %)
    channel_busy: RuleLimit  # ChannelUtilisationHigh (%)
    co2_high: RuleLimit  # ClassroomCO2High (ppm)
    poe_budget_high: RuleLimit  # PoeBudgetHigh (% of a switch's PoE budget)


def load_limits(config_path: Path | None = None) -> Limits:
    config: dict[str, Any] = {}
    if config_path is not None:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    rules_file = DEFAULT_RULES
    configured = (config.get("alerts") or {}).get("rules_file")
    if configured and config_path is not None:
        rules_file = config_path.parent / configured
    rules = {
        rule["name"]: rule
        for rule in yaml.safe_load(rules_file.read_text(encoding="utf-8"))["rules"]
    }
    wifi = HealthyWifi.model_validate((config.get("reports") or {}).get("healthy_wifi") or {})
    return Limits(
        healthy_wifi=wifi,
        uplink_saturated=_threshold(rules, "UplinkSaturated"),
        channel_busy=_threshold(rules, "ChannelUtilisationHigh"),
        co2_high=_threshold(rules, "ClassroomCO2High"),
        poe_budget_high=_threshold(rules, "PoeBudgetHigh"),
    )


def _threshold(rules: dict[str, dict[str, Any]], name: str) -> RuleLimit:
    threshold = rules[name]["threshold"]
    return RuleLimit(
        fire=float(threshold["value"]), clear=float(threshold.get("clear", threshold["value"]))
    )
