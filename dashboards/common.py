"""What every edumon dashboard shares: the InfluxDB data source, the InfluxQL query type,
template variables and panel defaults.

Dashboards are built with grafana-foundation-sdk. It has no InfluxQL query type
(grafana/grafana-foundation-sdk#447), so `InfluxQL` below is the SDK's documented way out: a
custom `Dataquery` variant with its own builder (as in the SDK's `custom-query` example).
Every query is raw InfluxQL that uses `$timeFilter`, `$__interval` and the dashboard's
variables; tests/integration/test_dashboard_queries.py runs each one against real InfluxDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import stat as stat_panel
from grafana_foundation_sdk.builders import table as table_panel
from grafana_foundation_sdk.builders import timeseries as timeseries_panel
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as model

DATASOURCE_UID = "edumon-influxdb"
DATASOURCE_TYPE = "influxdb"
DATASOURCE = model.DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)

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


def new_dashboard(uid: str, title: str, *, time_from: str = "now-6h") -> dash.Dashboard:
    return (
        dash.Dashboard(title)
        .uid(uid)
        .tags(["edumon"])
        .refresh("1m")
        .time(time_from, "now")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
    )


def thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    """Absolute thresholds: (None, base colour), then (from value, colour) ..."""
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


# higher is better (availability, health) / lower is better (utilisation, errors)
GOOD_HIGH = thresholds((None, "red"), (95, "orange"), (99, "green"))
GOOD_LOW = thresholds((None, "green"), (70, "orange"), (90, "red"))

UP_DOWN: list[model.ValueMapping] = [
    model.ValueMap(
        options={
            "true": model.ValueMappingResult(text="up", color="green"),
            "false": model.ValueMappingResult(text="down", color="red"),
        }
    )
]


def timeseries(
    title: str, *queries: InfluxQL, unit: str, span: int = 12, height: int = 8
) -> timeseries_panel.Panel:
    panel = timeseries_panel.Panel().title(title).datasource(DATASOURCE).unit(unit)
    return panel.targets(list(queries)).span(span).height(height)


def stat(
    title: str,
    query: InfluxQL,
    *,
    unit: str = "none",
    steps: dash.ThresholdsConfig = GOOD_HIGH,
    span: int = 6,
    height: int = 4,
) -> stat_panel.Panel:
    panel = stat_panel.Panel().title(title).datasource(DATASOURCE).unit(unit)
    return panel.thresholds(steps).with_target(query).span(span).height(height)


def table(title: str, query: InfluxQL, *, span: int = 12, height: int = 8) -> table_panel.Panel:
    panel = table_panel.Panel().title(title).datasource(DATASOURCE)
    return panel.with_target(query).span(span).height(height)
