"""Every panel query and every variable query of every dashboard, run through InfluxQL
`/query` against a real InfluxDB filled by the real service from the simulators.

Variables are substituted the way Grafana does for the InfluxDB data source: `$timeFilter`
for the evaluated range, `$__interval` for that range (here the data source's 10 s minimum,
as Grafana picks for a live 15-minute view), single values as they are and multi-value "All"
selections as an escaped regex alternation. Each dashboard is evaluated for the last 15
minutes, the KPI dashboard over its default 400 days (KPI points are stamped at the period's
start). A query that errors or returns no row with a value fails; so does a panel whose
result lacks its expected columns and group tags.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dashboards.build import DATASOURCE_PROVISIONING, build, dashboard_models
from dashboards.gazetteer import GAZETTEER_FILE
from gateway.config import EdumonConfig
from gateway.devstack.servers import InfluxDB1, Mosquitto, ServerError
from tests.dashboards.simulated_city import CRASHED, EXAMPLE_CITY, SITES, fill_from_simulators

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DB = "dashboards"
LIVE_RANGE = "15m"
OWN_RANGE = {"edumon-kpi"}  # KPI points are stamped at their period's start
PREFERRED = {"site": "vsk-1"}  # the school detail shows a school, not the science centre

# (dashboard uid, panel title) -> (columns, group-by tags) each query must return
EXPECTED: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("edumon-city", "Schools by health (probe answers, last 15 min)"): (
        ("time", "health_pct"),
        ("site",),
    ),
    ("edumon-city", "Alerts firing now"): (
        ("time", "firing", "value", "alertname", "severity", "team", "site", "device"),
        (),
    ),
    ("edumon-city", "Switches answering SNMP"): (("time", "up"), ()),
    ("edumon-city", "Firing alerts by severity"): (("time", "count"), ("severity",)),
    ("edumon-city", "Availability per school (probe answers)"): (("time", "mean"), ("site",)),
    ("edumon-city", "Top 10 uplinks by utilisation"): (
        ("time", "in_util_pct", "out_util_pct", "site", "device", "ifname"),
        (),
    ),
    ("edumon-school", "Switches"): (
        ("time", "up", "uptime_s", "cpu_pct", "temp_c", "poll_ms"),
        ("device",),
    ),
    ("edumon-school", "Uplink traffic in/out"): (("time", "in", "out"), ("device", "ifname")),
    ("edumon-school", "Uplink utilisation"): (("time", "in", "out"), ("device", "ifname")),
    ("edumon-school", "Interface errors and discards per second"): (
        ("time", "in_errors", "out_errors", "in_discards", "out_discards"),
        ("device",),
    ),
    ("edumon-school", "Optics receive and transmit power"): (
        ("time", "rx", "tx"),
        ("device", "ifname"),
    ),
    ("edumon-school", "Access points"): (
        ("time", "clients", "channel_util_pct", "retry_pct"),
        ("ap", "room", "band"),
    ),
    ("edumon-school", "Classroom CO2"): (("time", "mean"), ("room",)),
    ("edumon-school", "Classroom temperature"): (("time", "mean"), ("room",)),
    ("edumon-wifi", "Clients connected now"): (("time", "sum"), ()),
    ("edumon-wifi", "Mean channel utilisation"): (("time", "mean"), ()),
    ("edumon-wifi", "Mean retries"): (("time", "mean"), ()),
    ("edumon-wifi", "Clients per school"): (("time", "sum"), ("site",)),
    ("edumon-wifi", "Channel utilisation per school and band"): (
        ("time", "mean"),
        ("site", "band"),
    ),
    ("edumon-wifi", "Retries per school"): (("time", "mean"), ("site",)),
    ("edumon-wifi", "Noisiest rooms (mean noise floor)"): (
        ("time", "noise_dbm", "site", "room", "ap"),
        (),
    ),
    ("edumon-science", "Exhibit status"): (("time", "last"), ("exhibit",)),
    ("edumon-science", "Exhibit status history"): (("time", "last"), ("exhibit",)),
    ("edumon-science", "Interactions per hour"): (
        ("time", "non_negative_derivative"),
        ("exhibit",),
    ),
    ("edumon-science", "Faults (new errors reported)"): (
        ("time", "non_negative_difference"),
        ("exhibit",),
    ),
    ("edumon-science", "Exhibit device temperature"): (("time", "mean"), ("exhibit",)),
    ("edumon-science", "Exhibit device CPU"): (("time", "mean"), ("exhibit",)),
    ("edumon-science", "Halls: CO2"): (("time", "mean"), ("room",)),
    ("edumon-kpi", "Uplink availability (city)"): (("time", "last"), ()),
    ("edumon-kpi", "Schools on 10G uplinks"): (("time", "last"), ()),
    ("edumon-kpi", "Classrooms with healthy Wi-Fi"): (("time", "last"), ()),
    ("edumon-kpi", "IPv6 reachability"): (("time", "last"), ()),
    ("edumon-kpi", "Uplink availability per school"): (("time", "last"), ("site",)),
    ("edumon-kpi", "Every KPI per school"): (("time", "value"), ("kpi", "site")),
    ("edumon-kpi", "City KPIs month by month"): (("time", "value"), ("kpi",)),
    ("edumon-service", "Samples written per second"): (("time", "samples_per_s"), ()),
    ("edumon-service", "Write latency (mean per report)"): (("time", "mean"), ()),
    ("edumon-service", "Spool size"): (("time", "spool_bytes"), ()),
    ("edumon-service", "Points waiting (spool, pipeline queue)"): (
        ("time", "spool", "queue"),
        (),
    ),
    ("edumon-service", "Dead letters"): (("time", "last"), ()),
    ("edumon-service", "Collector errors per interval"): (("time", "sum"), ("collector",)),
    ("edumon-service", "Poll duration"): (("time", "mean", "max"), ("collector",)),
    ("edumon-service", "Samples per interval by collector (polled collectors)"): (
        ("time", "sum"),
        ("collector",),
    ),
}


@dataclass(frozen=True)
class City:
    db: InfluxDB1
    config: EdumonConfig
    variables: dict[str, dict[str, str]]  # dashboard uid -> variable -> substituted value

    def series(self, uid: str, title: str) -> list[dict[str, Any]]:
        """The first query of a panel, as Grafana would run it."""
        model, _, target = next(
            (m, p, t) for m, p, t in panel_targets() if (m["uid"], p["title"]) == (uid, title)
        )
        return series_of(
            self.db, substitute(target["query"], self.variables[uid], time_range(model))
        )


@pytest.fixture(scope="module")
def city(
    influxdb: InfluxDB1, mosquitto: Mosquitto, tmp_path_factory: pytest.TempPathFactory
) -> City:
    config = fill_from_simulators(
        tmp_path_factory.mktemp("city"), influxdb, mosquitto, DB, seconds=30
    )
    variables = {
        model["uid"]: resolve_variables(influxdb, model, time_range(model))
        for model in dashboard_models()
    }
    return City(influxdb, config, variables)


def time_range(model: dict[str, Any]) -> str:
    """Live 15 minutes; the KPI dashboard over its own default range."""
    if model["uid"] in OWN_RANGE:
        return str(model["time"]["from"]).removeprefix("now-")
    return LIVE_RANGE


def substitute(query: str, variables: dict[str, str], range_: str) -> str:
    interval = DATASOURCE_PROVISIONING["datasources"][0]["jsonData"]["timeInterval"]
    query = query.replace("$timeFilter", f"time >= now() - {range_}")
    query = query.replace("$__interval", interval)
    for name in sorted(variables, key=len, reverse=True):
        query = query.replace(f"${name}", variables[name])
    assert not re.search(r"\$\{?[A-Za-z_]", query), f"unsubstituted variable in {query}"
    return query


def series_of(influxdb: InfluxDB1, query: str) -> list[dict[str, Any]]:
    result = influxdb.query(query, db=DB)["results"][0]
    series: list[dict[str, Any]] = result.get("series", [])
    return series


def resolve_variables(influxdb: InfluxDB1, model: dict[str, Any], range_: str) -> dict[str, str]:
    """Each variable's query, in order (later ones use earlier values), as Grafana loads them."""
    values: dict[str, str] = {}
    for variable in model.get("templating", {}).get("list", []):
        series = series_of(influxdb, substitute(variable["query"], values, range_))
        options = sorted(row[1] for s in series for row in s["values"])
        assert options, f"{model['uid']}: variable ${variable['name']} has no values"
        if variable.get("includeAll"):
            # Grafana escapes regex characters and the slash that ends an InfluxQL regex
            escaped = (re.escape(option).replace("/", r"\/") for option in options)
            values[variable["name"]] = "(" + "|".join(escaped) + ")"
        else:
            preferred = PREFERRED.get(variable["name"])
            values[variable["name"]] = preferred if preferred in options else options[0]
    return values


def panel_targets() -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    for model in dashboard_models():
        for panel in model["panels"]:
            for target in panel.get("targets", []):
                yield model, panel, target


def test_every_panel_has_expectations() -> None:
    panels = {(model["uid"], panel["title"]) for model, panel, _ in panel_targets()}
    assert panels == set(EXPECTED)


def test_every_query_returns_rows_with_the_expected_columns(city: City) -> None:
    failures = []
    for model, panel, target in panel_targets():
        name = f"{model['uid']} / {panel['title']} / {target['refId']}"
        query = substitute(target["query"], city.variables[model["uid"]], time_range(model))
        columns, tags = EXPECTED[(model["uid"], panel["title"])]
        try:
            series = series_of(city.db, query)
        except ServerError as error:
            failures.append(f"{name}: {error}")
            continue
        has_values = any(
            value is not None for s in series for row in s["values"] for value in row[1:]
        )
        if not has_values:
            failures.append(f"{name}: no rows with a value for {query}")
        for s in series:
            if tuple(s["columns"]) != columns or sorted(s.get("tags", {})) != sorted(tags):
                failures.append(f"{name}: got {s['columns']} by {s.get('tags')} for {query}")
                break
    assert not failures, "\n".join(failures)


def test_the_map_finds_every_site_with_data_in_the_gazetteer(city: City, tmp_path: Path) -> None:
    build(tmp_path, EXAMPLE_CITY)
    entries = json.loads((tmp_path / "gazetteer" / GAZETTEER_FILE).read_text(encoding="utf-8"))
    health = city.series("edumon-city", "Schools by health (probe answers, last 15 min)")
    assert {s["tags"]["site"] for s in health} == set(SITES)
    assert set(SITES) <= {entry["key"] for entry in entries}


def test_panels_show_what_the_city_wrote(city: City) -> None:
    (alerts,) = city.series("edumon-city", "Alerts firing now")
    firing = {(row[3], row[6]) for row in alerts["values"]}  # alertname, site
    # vsk-1's core switch came back: its alert resolved and is not listed
    assert firing == {("SwitchUnreachable", "vsk-5"), ("ExhibitOffline", "vizium")}
    (switches,) = city.series("edumon-city", "Switches answering SNMP")
    assert switches["values"][0][1] == len(list(city.config.devices("switch"))) - 1
    exhibits = city.series("edumon-science", "Exhibit status")
    assert {s["tags"]["exhibit"]: s["values"][0][1] for s in exhibits} == {
        device.id: device.id != CRASHED for _, device in city.config.devices("exhibit")
    }
    (uplinks,) = city.series("edumon-city", "Top 10 uplinks by utilisation")
    assert 0 < len(uplinks["values"]) <= 10
    per_school = city.series("edumon-kpi", "Uplink availability per school")
    # every site with an uplink, the science centre's too, as the KPI reporter computed them
    assert {s["tags"]["site"] for s in per_school} == {
        site.id for site, _ in city.config.devices("switch")
    }
    clients = city.series("edumon-wifi", "Clients per school")
    assert {s["tags"]["site"] for s in clients} == set(SITES)
