"""`edumon dashboards build`: every dashboard as JSON, Grafana's provisioning files for the
data source and the dashboards, and the sites gazetteer for the city map.

The output directory (default `dashboards/grafana`, committed) is what docker-compose.yml
mounts into Grafana:

    json/<uid>.json                      the dashboards
    import/<uid>.json                    the same for import into another Grafana (__inputs)
    provisioning/datasources/edumon.yaml InfluxDB, InfluxQL mode, read-only login from the env
    provisioning/dashboards/edumon.yaml  a file provider for json/ into the folder "edumon"
    gazetteer/edumon-sites.json          site id -> lat/lon, served as public/gazetteer/...
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards import FOLDER
from dashboards.common import (
    DATASOURCE_INPUT,
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    DATASOURCE_VARIABLE,
    SCHEMA_VERSION,
)
from dashboards.gazetteer import GAZETTEER_FILE, load_sites, site_gazetteer
from dashboards.limits import Limits, load_limits
from dashboards.panels import city, kpi, network, school, science, service, wifi

DASHBOARDS: tuple[Callable[[Limits], dash.Dashboard], ...] = (
    city.dashboard,
    school.dashboard,
    wifi.dashboard,
    science.dashboard,
    kpi.dashboard,
    service.dashboard,
    network.dashboard,
)
GRAFANA_DASHBOARDS_DIR = "/var/lib/grafana/dashboards/edumon"

# Grafana expands ${VAR} in provisioning files from its own environment (docker-compose.yml)
DATASOURCE_PROVISIONING: dict[str, Any] = {
    "apiVersion": 1,
    "datasources": [
        {
            "name": "InfluxDB (edumon)",
            "uid": DATASOURCE_UID,
            "type": DATASOURCE_TYPE,
            "access": "proxy",
            "url": "${INFLUXDB_URL}",
            "isDefault": True,
            "editable": False,
            # a read-only InfluxDB 2.x v1 authorization (see the DBRP init script)
            "user": "${INFLUXDB_GRAFANA_USER}",
            "jsonData": {
                "version": "InfluxQL",
                "dbName": "${INFLUXDB_DATABASE}",
                "httpMode": "POST",
                "timeInterval": "10s",  # edumon's finest regular interval
            },
            "secureJsonData": {"password": "${INFLUXDB_GRAFANA_PASSWORD}"},
        }
    ],
}
DASHBOARD_PROVISIONING: dict[str, Any] = {
    "apiVersion": 1,
    "providers": [
        {
            "name": "edumon",
            "folder": FOLDER,
            "folderUid": FOLDER,
            "type": "file",
            "disableDeletion": True,
            "allowUiUpdates": False,
            "updateIntervalSeconds": 60,
            "options": {"path": GRAFANA_DASHBOARDS_DIR},
        }
    ],
}


# what an import into another Grafana asks for (import/<uid>.json): the InfluxDB data source
# to use, which the dashboard's `datasource` variable then starts from
IMPORT_INPUTS = [
    {
        "name": DATASOURCE_INPUT,
        "label": "InfluxDB",
        "description": "The InfluxDB (InfluxQL) data source edumon writes to",
        "type": "datasource",
        "pluginId": DATASOURCE_TYPE,
        "pluginName": "InfluxDB",
    }
]


def dashboard_models(limits: Limits | None = None) -> list[dict[str, Any]]:
    """Every dashboard as the JSON model Grafana stores (plain dicts), panels numbered,
    coloured by `limits` (the default rules and reports settings unless given)."""
    limits = limits or load_limits()
    models = []
    for make in DASHBOARDS:
        model: dict[str, Any] = json.loads(json.dumps(make(limits).build(), cls=JSONEncoder))
        for number, panel in enumerate(model["panels"], start=1):
            panel["id"] = number
        model["schemaVersion"] = SCHEMA_VERSION
        models.append(model)
    return models


def for_import(model: dict[str, Any]) -> dict[str, Any]:
    """The dashboard as Grafana's "export for sharing externally" writes it: `__inputs` name
    the data source, the `datasource` variable starts from the one the importer picks."""
    shared = copy.deepcopy(model)
    for variable in shared["templating"]["list"]:
        if variable["name"] == DATASOURCE_VARIABLE:
            chosen = f"${{{DATASOURCE_INPUT}}}"
            variable["current"] = {"selected": True, "text": chosen, "value": chosen}
    return {"__inputs": IMPORT_INPUTS, **shared}


def build(out: Path, config_path: Path) -> list[Path]:
    """Write everything below `out`, coloured by the limits of the config at `config_path`;
    returns the files written."""
    models = dashboard_models(load_limits(config_path))
    files: dict[Path, str] = {}
    for model in models:
        files[Path("json") / f"{model['uid']}.json"] = _json(model)
        files[Path("import") / f"{model['uid']}.json"] = _json(for_import(model))
    files[Path("provisioning/datasources/edumon.yaml")] = _yaml(DATASOURCE_PROVISIONING)
    files[Path("provisioning/dashboards/edumon.yaml")] = _yaml(DASHBOARD_PROVISIONING)
    files[Path("gazetteer") / GAZETTEER_FILE] = _json(site_gazetteer(load_sites(config_path)))
    for relative, text in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return [out / relative for relative in files]


def _json(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _yaml(value: object) -> str:
    header = "# generated by `edumon dashboards build`; edit dashboards/*.py instead\n"
    return header + yaml.safe_dump(value, sort_keys=False, allow_unicode=True)
