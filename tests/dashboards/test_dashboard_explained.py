"""Dashboards that explain themselves, checked on the JSON `edumon dashboards build` writes:
every panel described, grouped in rows, every value with a unit, states as coloured words,
traffic mirrored with mean/max/last legends, the optics modules' own alarm lines, and every
threshold taken from the alert rules and the config's healthy Wi-Fi, not typed again."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.build import dashboard_models
from dashboards.limits import load_limits
from gateway.alerts.rules import DEFAULT_RULES
from tests.dashboards.simulated_city import EXAMPLE_CITY

MODELS = dashboard_models(load_limits(EXAMPLE_CITY))
BOOLEAN_COLUMNS = {"up", "oper_up", "admin_up", "firing"}
# a column named so carries a quantity, which needs a unit
QUANTITY = re.compile(r"_(pct|ms|s|c|dbm|mbps|ppm|bps|errors|discards)$")


def panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in model["panels"] if panel["type"] != "row"]


def panel(title: str, models: list[dict[str, Any]] = MODELS) -> dict[str, Any]:
    (found,) = [p for m in models for p in panels(m) if p["title"] == title]
    return found


def overrides(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A panel's overrides: matcher options -> property id -> value."""
    return {
        o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
        for o in found["fieldConfig"].get("overrides", [])
    }


def steps(thresholds: dict[str, Any]) -> list[tuple[float | None, str]]:
    return [(step.get("value"), step["color"]) for step in thresholds["steps"]]


def all_panels() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{m['uid']} / {p['title']}", p) for m in MODELS for p in panels(m)]


def test_every_panel_is_described() -> None:
    """What it shows, in which unit, and when to worry: at least a couple of sentences."""
    described = {name: p.get("description", "") for name, p in all_panels()}
    assert len(described) >= 52
    short = {name: text for name, text in described.items() if len(text) < 60}
    assert not short, short


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m["uid"])
def test_every_dashboard_is_in_rows(model: dict[str, Any]) -> None:
    rows = [p for p in model["panels"] if p["type"] == "row"]
    assert model["panels"][0]["type"] == "row" and rows
    assert all(row["title"] and row["gridPos"]["w"] == 24 for row in rows)


def test_every_value_has_a_unit_and_every_state_is_a_coloured_word() -> None:
    missing = []
    for name, found in all_panels():
        if found["type"] in ("table", "nodeGraph"):  # units per column (a node's fields)
            columns = overrides(found)
            for column, properties in columns.items():
                if column in BOOLEAN_COLUMNS:
                    (mapping,) = properties["mappings"]
                    assert {k: v["color"] for k, v in mapping["options"].items()} == {
                        "true": mapping["options"]["true"]["color"],
                        "false": mapping["options"]["false"]["color"],
                    }
                    assert properties["custom.cellOptions"] == {"type": "color-text"}, name
            queries = " ".join(target["query"] for target in found["targets"])
            # a subquery's column the outer query renames is shown by its new name
            renamed = set(re.findall(r'"(\w+)" AS "\w+"', queries))
            for column in set(re.findall(r'AS "(\w+)"', queries)) - renamed:
                if QUANTITY.search(column) and "unit" not in columns.get(column, {}):
                    missing.append(f"{name}: {column}")
                if column in BOOLEAN_COLUMNS and "mappings" not in columns.get(column, {}):
                    missing.append(f"{name}: {column} shown as true/false")
        elif found["type"] != "status-history" and not found["fieldConfig"]["defaults"].get("unit"):
            missing.append(name)
    assert not missing, missing
    switches = overrides(panel("Switches"))
    assert switches["uptime_s"]["unit"] == "dtdurations"  # "3 days, 4 hours", not seconds
    assert switches["up"]["mappings"][0]["options"]["false"] == {"text": "down", "color": "red"}


def test_graphs_have_mean_max_last_legends_and_traffic_is_mirrored() -> None:
    for name, found in all_panels():
        if found["type"] == "timeseries":
            legend = found["options"]["legend"]
            assert legend["displayMode"] == "table", name
            assert legend["calcs"] == ["mean", "max", "lastNotNull"], name
    for title in ("Uplink traffic in/out", "Uplink utilisation"):
        mirrored = overrides(panel(title))[" out$"]
        assert mirrored == {"custom.transform": "negative-Y"}
        # the series names the override matches: "<device> <ifname> out"
        assert panel(title)["targets"][0]["alias"].endswith("$col")
        assert 'AS "out"' in panel(title)["targets"][0]["query"]


def test_optics_draw_the_modules_own_alarm_thresholds() -> None:
    optics = panel("Optics receive and transmit power")
    query = optics["targets"][0]["query"]
    for field in ("rx_dbm", "tx_dbm"):
        for alarm in ("low_alarm", "high_alarm"):
            assert f'mean("{field}_{alarm}")' in query  # what the profiles store
    lines = overrides(optics)["alarm$"]
    assert lines["custom.lineStyle"]["fill"] == "dash"


def test_top_uplinks_rank_by_the_larger_direction() -> None:
    top = panel("Top 10 uplinks by utilisation")
    assert "top(" not in top["targets"][0]["query"]
    larger, order, limit = top["transformations"]
    assert larger["id"] == "calculateField" and larger["options"]["mode"] == "reduceRow"
    assert larger["options"]["reduce"]["reducer"] == "max"
    peak = larger["options"]["alias"]
    assert order["options"]["sort"] == [{"field": peak, "desc": True}]
    assert limit["options"]["limitField"] == 10


def city_config(tmp_path: Path, retry: float, saturated: tuple[int, int], co2: int) -> Path:
    """The example city with other healthy Wi-Fi and a rules file with other limits."""
    data = yaml.safe_load(EXAMPLE_CITY.read_text(encoding="utf-8"))
    data["reports"]["healthy_wifi"]["max_retry_pct"] = retry
    rules = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    for rule in rules["rules"]:
        if rule["name"] == "UplinkSaturated":
            rule["threshold"] |= {"value": saturated[0], "clear": saturated[1]}
        if rule["name"] == "ClassroomCO2High":
            rule["threshold"] |= {"value": co2, "clear": co2 - 300}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    data["alerts"] = {"rules_file": "rules.yaml"}
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("retry", "saturated", "co2"), [(15, (90, 80), 1500), (12, (75, 60), 2000)]
)
def test_thresholds_come_from_the_rules_and_the_config(
    tmp_path: Path, retry: float, saturated: tuple[int, int], co2: int
) -> None:
    """The first case is the shipped limits (healthy Wi-Fi at most 15 % retries, not the
    70/90 % the retries panel once had); the second moves every one of them."""
    models = dashboard_models(load_limits(city_config(tmp_path, retry, saturated, co2)))
    retries = panel("Mean retries", models)["fieldConfig"]["defaults"]["thresholds"]
    assert steps(retries) == [(None, "green"), (retry, "orange")]
    assert steps(panel("Retries per school", models)["fieldConfig"]["defaults"]["thresholds"]) == [
        (None, "green"),
        (retry, "orange"),
    ]
    fire, clear = saturated
    uplink = [(None, "green"), (clear, "orange"), (fire, "red")]
    util = panel("Uplink utilisation", models)["fieldConfig"]["defaults"]
    assert steps(util["thresholds"]) == uplink and util["custom"]["thresholdsStyle"] == {
        "mode": "dashed"
    }
    top = overrides(panel("Top 10 uplinks by utilisation", models))
    assert {steps(column["thresholds"])[-1] for column in top.values()} == {(fire, "red")}
    co2_steps = panel("Classroom CO2", models)["fieldConfig"]["defaults"]["thresholds"]
    assert steps(co2_steps) == [(None, "green"), (co2 - 300, "orange"), (co2, "red")]
    for title in ("Uplink utilisation", "Classroom CO2", "Mean retries"):
        assert (
            str(fire if "Uplink" in title else co2 if "CO2" in title else retry)
            in panel(title, models)["description"]
        )


def test_the_network_map_is_a_node_graph_of_switches_and_their_links() -> None:
    """Nodes (id, state as colour) from the switches' last poll, edges (source, target,
    utilisation) from the topology's links between switches, an id per edge added in Grafana."""
    found = panel("City network map")
    assert found["type"] == "nodeGraph"
    nodes, edges = (target["query"] for target in found["targets"])
    assert '"device"::tag AS "id"' in nodes and 'AS "color"' in nodes
    assert '"device"::tag AS "source"' in edges and '"peer"::tag AS "target"' in edges
    assert 'FROM "link"' in edges and 'AS "mainstat"' in edges
    (edge_ids,) = found["transformations"]
    assert edge_ids["filter"] == {"id": "byRefId", "options": "B"}
    assert edge_ids["options"]["mode"] == "index" and edge_ids["options"]["alias"] == "id"
    fields = overrides(found)
    assert fields["color"]["mappings"][0]["options"]["false"]["color"] == "red"
    assert fields["mainstat"]["unit"] == fields["secondarystat"]["unit"] == "percent"
    budget = panel("PoE budget used per switch")["fieldConfig"]["defaults"]["thresholds"]
    rules = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))["rules"]
    (high,) = [rule["threshold"] for rule in rules if rule["name"] == "PoeBudgetHigh"]
    assert steps(budget)[1:] == [(high["clear"], "orange"), (high["value"], "red")]
