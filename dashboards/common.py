"""What every edumon dashboard shares: the InfluxDB data source, the InfluxQL query type,
template variables and panel defaults.

Dashboards are built with grafana-foundation-sdk. It has no InfluxQL query type
(grafana/grafana-foundation-sdk#447), so `InfluxQL` below is the SDK's documented way out: a
custom `Dataquery` variant with its own builder (as in the SDK's `custom-query` example).
Every query is raw InfluxQL that uses `$timeFilter`, `$__interval` and the dashboard's
variables; tests/integration/test_dashboard_queries.py runs each one against real InfluxDB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import stat as stat_panel
from grafana_foundation_sdk.builders import table as table_panel
from grafana_foundation_sdk.builders import timeseries as timeseries_panel
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as model

from dashboards.limits import RuleLimit

DATASOURCE_UID = "edumon-influxdb"  # the provisioned data source (dashboards.build)
DATASOURCE_TYPE = "influxdb"
# Every panel and variable names the data source through the dashboard's `datasource`
# variable, so that the JSON imports into another Grafana: the import asks for DS_INFLUXDB
# (the `__inputs` the build adds) and the variable lists that Grafana's InfluxDB sources.
DATASOURCE_VARIABLE = "datasource"
DATASOURCE_INPUT = "DS_INFLUXDB"
DATASOURCE = model.DataSourceRef(type_val=DATASOURCE_TYPE, uid=f"${{{DATASOURCE_VARIABLE}}}")
SCHEMA_VERSION = 40  # what Grafana 11.3 (docker-compose.yml) writes; the SDK's default is 36

# every dashboard's uid: links between them name these
CITY, SCHOOL, WIFI, SCIENCE, KPI, SERVICE, NETWORK = (
    f"edumon-{name}" for name in ("city", "school", "wifi", "science", "kpi", "service", "network")
)

# Current state (firing alerts, ports and exhibits down) is each series' latest point within
# this range, whatever the time picker shows: an alert that began last week is still firing.
CURRENT = "time > now() - 30d"
NOW = "time > now() - 15m"  # what the last polls said (every minute at most), whatever the range

# A panel's minimum interval per source, so that every bucket holds a sample and lines do not
# break (examples/city.yaml: snmp.interval_s, probes.interval_s, the MQTT devices'
# 10 s, reports.sensor_interval_s, the service's self-metrics).
SNMP_EVERY, PROBE_EVERY, MQTT_EVERY, SENSOR_EVERY, SELF_EVERY = "1m", "10s", "10s", "10m", "10s"

ResultFormat = Literal["time_series", "table"]


@dataclass
class InfluxQLQuery(cogvariants.Dataquery):
    """A raw InfluxQL target of Grafana's InfluxDB data source (InfluxQL mode)."""

    query: str
    ref_id: str = "A"
    result_format: ResultFormat = "time_series"
    alias: str | None = None

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "datasource": DATASOURCE.to_json(),
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias is not None:
            payload["alias"] = self.alias
        return payload


class InfluxQL(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(
        self,
        query: str,
        *,
        ref_id: str = "A",
        table: bool = False,
        alias: str | None = None,
    ) -> None:
        self._query = InfluxQLQuery(
            " ".join(query.split()), ref_id, "table" if table else "time_series", alias
        )

    def build(self) -> cogvariants.Dataquery:
        return self._query


def tag_variable(
    name: str,
    label: str,
    measurement: str,
    *,
    where: str = "",
    include_all: bool = False,
) -> dash.QueryVariable:
    """A variable listing a tag's values; with `include_all`, multi-select with an All option
    (queries then match it with `=~ /^$name$/`)."""
    condition = f" WHERE {where}" if where else ""
    variable = (
        dash.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "{name}"{condition}')
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )
    if include_all:
        variable = variable.multi(True).include_all(True)
    return variable


def datasource_variable() -> dash.DatasourceVariable:
    """The `datasource` variable: any InfluxDB data source, the provisioned one by default."""
    provisioned = model.VariableOption(text="InfluxDB (edumon)", value=DATASOURCE_UID)
    return (
        dash.DatasourceVariable(DATASOURCE_VARIABLE)
        .label("InfluxDB")
        .type(DATASOURCE_TYPE)
        .current(provisioned)
    )


def new_dashboard(
    uid: str,
    title: str,
    *,
    time_from: str = "now-6h",
    links: Sequence[dash.DashboardLink] = (),
) -> dash.Dashboard:
    """A dashboard with `links` and one back to the city overview (which links to every other)."""
    back = [] if uid == CITY else [link("City overview", CITY)]
    return (
        dash.Dashboard(title)
        .links([*back, *links])
        .uid(uid)
        .tags(["edumon"])
        .refresh("1m")
        .time(time_from, "now")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .with_variable(datasource_variable())
    )


def thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    """Absolute thresholds: (None, base colour), then (from value, colour) ..."""
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


def rule_steps(limit: RuleLimit) -> dash.ThresholdsConfig:
    """Green below the alert rule's clear value, orange up to its firing value, red from it."""
    return thresholds((None, "green"), (limit.clear, "orange"), (limit.fire, "red"))


# higher is better (availability, health)
GOOD_HIGH = thresholds((None, "red"), (95, "orange"), (99, "green"))
NEUTRAL = thresholds((None, "blue"))  # a count that is neither good nor bad
ZERO_GOOD = thresholds((None, "green"), (1, "red"))  # anything counted is a fault


def two_states(true: tuple[str, str], false: tuple[str, str]) -> list[model.ValueMapping]:
    """A boolean shown as a coloured word: (text, colour) for true and for false."""
    return [
        model.ValueMap(
            options={
                "true": model.ValueMappingResult(text=true[0], color=true[1]),
                "false": model.ValueMappingResult(text=false[0], color=false[1]),
            }
        )
    ]


UP_DOWN = two_states(("up", "green"), ("down", "red"))
# a graph's thresholds drawn as dashed lines
LINES = common_builders.GraphThresholdsStyleConfig().mode(
    common_models.GraphTresholdsStyleMode.DASHED
)
# mean, max and last of every series, in a table under a graph
LEGEND_TABLE = (
    common_builders.VizLegendOptions()
    .display_mode(common_models.LegendDisplayMode.TABLE)
    .placement(common_models.LegendPlacement.BOTTOM)
    .show_legend(True)
    .calcs(["mean", "max", "lastNotNull"])
)


@dataclass(frozen=True)
class Column:
    """A table column's unit, or its value mappings shown as coloured text."""

    name: str
    unit: str | None = None
    mappings: Sequence[model.ValueMapping] = ()
    steps: dash.ThresholdsConfig | None = None  # the cell coloured by these

    def properties(self) -> list[model.DynamicConfigValue]:
        properties = []
        if self.unit is not None:
            properties.append(model.DynamicConfigValue(id_val="unit", value=self.unit))
        if self.steps is not None:
            steps = self.steps.build()
            cell = {"type": "color-text"}
            properties.append(model.DynamicConfigValue(id_val="thresholds", value=steps))
            properties.append(model.DynamicConfigValue(id_val="custom.cellOptions", value=cell))
        if self.mappings:
            mappings = [mapping.to_json() for mapping in self.mappings]
            properties.append(model.DynamicConfigValue(id_val="mappings", value=mappings))
            cell = {"type": "color-text"}
            properties.append(model.DynamicConfigValue(id_val="custom.cellOptions", value=cell))
        return properties


def up_down(name: str) -> Column:
    return Column(name, mappings=UP_DOWN)


def busiest_first(alias: str, count: int) -> list[model.DataTransformerConfig]:
    """Grafana-side: a column `alias` with the larger of each row's `in_*`/`out_*` values,
    rows sorted by it, the first `count` kept (InfluxQL has no row-wise maximum)."""
    larger = {
        "mode": "reduceRow",
        "reduce": {"reducer": "max"},
        "alias": alias,
    }
    return [
        model.DataTransformerConfig(id_val="calculateField", options=larger),
        model.DataTransformerConfig(
            id_val="sortBy", options={"sort": [{"field": alias, "desc": True}]}
        ),
        model.DataTransformerConfig(id_val="limit", options={"limitField": count}),
    ]


def link(title: str, uid: str, **variables: str) -> dash.DashboardLink:
    """A link to dashboard `uid` with its variables set (values may name a clicked row's
    fields, `${__data.fields.site}`), keeping the time range."""
    query = "".join(f"&var-{name}={value}" for name, value in variables.items())
    url = f"/d/{uid}?${{__url_time_range}}{query}"
    return dash.DashboardLink(title).type(model.DashboardLinkType.LINK).url(url).keep_time(True)


def timeseries(
    title: str,
    *queries: InfluxQL,
    description: str,
    unit: str,
    interval: str,
    span: int = 12,
    height: int = 8,
) -> timeseries_panel.Panel:
    panel = timeseries_panel.Panel().title(title).description(description)
    panel = panel.datasource(DATASOURCE).unit(unit).legend(LEGEND_TABLE)
    return panel.targets(list(queries)).interval(interval).span(span).height(height)


def stat(
    title: str,
    *queries: InfluxQL,
    description: str,
    unit: str = "none",
    steps: dash.ThresholdsConfig = GOOD_HIGH,
    no_value: str | None = None,
    span: int = 6,
    height: int = 4,
) -> stat_panel.Panel:
    """A big number coloured by `steps`; `no_value` is shown when the query finds no row
    (a count of faults that are not there is 0, not "No data")."""
    panel = stat_panel.Panel().title(title).description(description)
    panel = panel.datasource(DATASOURCE).unit(unit)
    if no_value is not None:
        panel = panel.no_value(no_value)
    return panel.thresholds(steps).targets(list(queries)).span(span).height(height)


def table(
    title: str,
    query: InfluxQL,
    *,
    description: str,
    columns: Sequence[Column] = (),
    links: list[dash.DashboardLink] | None = None,
    span: int = 12,
    height: int = 8,
) -> table_panel.Panel:
    """A table; `columns` give some columns a unit or value mappings; `links` are data links
    on every cell (a row's fields name the target)."""
    panel = table_panel.Panel().title(title).description(description).datasource(DATASOURCE)
    for column in columns:
        panel = panel.override_by_name(column.name, column.properties())
    if links:
        panel = panel.data_links(list(links))
    return panel.with_target(query).span(span).height(height)
