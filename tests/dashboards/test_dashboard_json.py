"""Structure of every dashboard's JSON as `edumon dashboards build` writes it: unique panel ids, a grid inside 24 columns without
overlaps, every data source reference provisioned, every variable used defined (and defined
before a variable that uses it); the committed build is what the code builds."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards import BUILD_DIR
from dashboards.build import dashboard_models
from dashboards.gazetteer import GAZETTEER_URL_PATH
from gateway.cli import main
from tests.dashboards.simulated_city import EXAMPLE_CITY

# variables Grafana defines itself for InfluxQL; alias patterns ($tag_x, $col) name result parts
BUILT_IN = {
    "timeFilter",
    "__interval",
    "__interval_ms",
    "__range",
    "__dashboard",
    "__url_time_range",
}
# a data link's `${__data.fields.x}` names a field of the clicked row
DATA_FIELD = re.compile(r"\$\{__data\.fields\.(\w+)\}")
ALIAS_PATTERN = re.compile(r"^\$(tag_\w+|col|m|measurement)$")
VARIABLE_USE = re.compile(r"\$\{(\w+)[^}]*\}|\[\[(\w+)\]\]|\$(\w+)")
MODELS = dashboard_models()


def strings(node: object, key: str = "") -> Iterator[tuple[str, str]]:
    """(key, string) for every string value in a JSON tree."""
    if isinstance(node, str):
        yield key, node
    elif isinstance(node, dict):
        for child_key, child in node.items():
            yield from strings(child, child_key)
    elif isinstance(node, list):
        for child in node:
            yield from strings(child, key)


def used_variables(node: object) -> set[str]:
    used = set()
    for key, text in strings(node):
        text = DATA_FIELD.sub("", text)
        for match in VARIABLE_USE.finditer(text):
            if key == "alias" and ALIAS_PATTERN.match(match.group(0)):
                continue
            used.add(next(group for group in match.groups() if group))
    return used - BUILT_IN


def overlaps(a: dict[str, int], b: dict[str, int]) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("grafana")
    assert main(["dashboards", "build", "--out", str(out), "-c", str(EXAMPLE_CITY)]) == 0
    return out


def test_dashboards_have_unique_uids_and_titles() -> None:
    assert len({m["uid"] for m in MODELS}) == len({m["title"] for m in MODELS}) == len(MODELS) == 7


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m["uid"])
def test_panel_ids_are_unique(model: dict[str, Any]) -> None:
    ids = [panel["id"] for panel in model["panels"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m["uid"])
def test_grid_is_inside_24_columns_without_overlap(model: dict[str, Any]) -> None:
    grids = [panel["gridPos"] for panel in model["panels"]]
    for grid in grids:
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] >= 0 and grid["y"] >= 0
        assert grid["x"] + grid["w"] <= 24, grid
    for n, a in enumerate(grids):
        for b in grids[n + 1 :]:
            assert not overlaps(a, b), (a, b)


def panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    """A dashboard's panels but its rows."""
    return [panel for panel in model["panels"] if panel["type"] != "row"]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m["uid"])
def test_every_datasource_reference_is_the_variable_on_the_provisioned_one(
    model: dict[str, Any], built: Path
) -> None:
    """Panels and variables name the `datasource` variable (any InfluxDB, so the JSON
    imports elsewhere); in the provisioned JSON it starts on the provisioned data source."""
    provisioned = yaml.safe_load((built / "provisioning/datasources/edumon.yaml").read_text())
    known = {(ds["uid"], ds["type"]) for ds in provisioned["datasources"]}
    variables = model["templating"]["list"]
    (source,) = [v for v in variables if v["type"] == "datasource"]
    assert source["name"] == "datasource" and source["query"] == "influxdb"
    assert {(source["current"]["value"], source["query"])} <= known
    references = [panel.get("datasource") for panel in panels(model)]
    references += [t.get("datasource") for p in panels(model) for t in p.get("targets", [])]
    references += [v.get("datasource") for v in variables if v["type"] == "query"]
    assert references and all(ref is not None for ref in references)
    assert {(ref["uid"], ref["type"]) for ref in references} == {("${datasource}", "influxdb")}
    assert all(panel.get("targets") for panel in panels(model))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m["uid"])
def test_the_import_edition_asks_for_the_data_source(model: dict[str, Any], built: Path) -> None:
    shared = json.loads((built / "import" / f"{model['uid']}.json").read_text())
    (needed,) = shared["__inputs"]
    assert needed["type"] == "datasource" and needed["pluginId"] == "influxdb"
    (source,) = [v for v in shared["templating"]["list"] if v["type"] == "datasource"]
    assert source["current"]["value"] == "${" + needed["name"] + "}" == "${DS_INFLUXDB}"
    assert shared["panels"] == model["panels"]


def test_the_schema_version_is_grafana_11_3s() -> None:
    """Grafana 11.3 (docker-compose.yml) migrates dashboards to schemaVersion 40."""
    compose = yaml.safe_load((BUILD_DIR.parents[1] / "docker-compose.yml").read_text())
    assert compose["services"]["grafana"]["image"].endswith(":11.3.0")
    assert {model["schemaVersion"] for model in MODELS} == {40}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m["uid"])
def test_every_variable_used_is_defined_before_use(model: dict[str, Any]) -> None:
    variables = model.get("templating", {}).get("list", [])
    defined = [variable["name"] for variable in variables]
    assert used_variables(model["panels"]) <= set(defined)
    for n, variable in enumerate(variables):
        assert used_variables(variable["query"] or "") <= set(defined[:n]), variable["name"]


def test_variable_check_sees_an_undefined_variable() -> None:
    panel = {"targets": [{"query": "SELECT x FROM y WHERE a = '$room' AND $timeFilter"}]}
    assert used_variables(panel) == {"room"}
    assert used_variables({"alias": "$tag_site $col"}) == set()


def links(model: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, url) of every dashboard link, panel link and data link of a dashboard."""
    for link in model.get("links", []):
        yield "dashboard", link["url"]
    for panel in panels(model):
        for link in panel.get("links", []) + panel["fieldConfig"]["defaults"].get("links", []):
            yield panel["title"], link["url"]


def test_every_link_resolves_to_a_dashboard_and_its_variables() -> None:
    """City -> school -> switch/port (and the science centre, Wi-Fi, KPI, service): every
    link names an existing uid, and only variables that dashboard defines."""
    variables = {m["uid"]: {v["name"] for v in m["templating"].get("list", [])} for m in MODELS}
    found = set()
    for model in MODELS:
        for where, url in links(model):
            match = re.fullmatch(r"/d/([\w-]+)\?\$\{__url_time_range\}((?:&var-\w+=[^&]+)*)", url)
            assert match, f"{model['uid']} / {where}: {url}"
            uid, query = match.groups()
            assert uid in variables, f"{model['uid']} / {where}: no dashboard {uid}"
            assert set(re.findall(r"var-(\w+)=", query)) <= variables[uid], url
            found.add((model["uid"], uid))
    city = next(m["uid"] for m in MODELS if m["uid"] == "edumon-city")
    assert {(city, m["uid"]) for m in MODELS if m["uid"] != city} <= found
    assert {(m["uid"], city) for m in MODELS if m["uid"] != city} <= found
    assert ("edumon-school", "edumon-school") in found  # a switch's and a port's view


def test_the_map_uses_the_built_gazetteer(built: Path) -> None:
    city = next(m for m in MODELS if m["uid"] == "edumon-city")
    (geomap,) = [panel for panel in city["panels"] if panel["type"] == "geomap"]
    (layer,) = geomap["options"]["layers"]
    assert layer["location"] == {
        "mode": "lookup",
        "lookup": "site",
        "gazetteer": GAZETTEER_URL_PATH,
    }
    entries = json.loads((built / "gazetteer" / Path(GAZETTEER_URL_PATH).name).read_text())
    # the 20 schools, VIZIUM and the city network
    assert len(entries) == 22 and {"key", "name", "latitude", "longitude"} == set(entries[0])


def test_committed_build_is_up_to_date(built: Path) -> None:
    """docker-compose.yml mounts dashboards/grafana: it must be what the code builds."""
    fresh = {p.relative_to(built): p.read_text() for p in built.rglob("*") if p.is_file()}
    committed = {
        p.relative_to(BUILD_DIR): p.read_text() for p in BUILD_DIR.rglob("*") if p.is_file()
    }
    assert committed == fresh, "run `edumon dashboards build` and commit dashboards/grafana"


def test_build_names_a_bad_inventory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "city.yaml"
    config.write_text("sites:\n  - id: vsk-1\n    location: {lat: 95, lon: 21}\n")
    assert main(["dashboards", "build", "--out", str(tmp_path / "out"), "-c", str(config)]) == 2
    error = capsys.readouterr().err
    assert str(config) in error and "lat" in error and not (tmp_path / "out").exists()
