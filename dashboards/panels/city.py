"""City network overview: a map of the schools coloured by health, availability, the busiest
uplinks and the alerts firing now.

The map needs no coordinates in InfluxDB: `edumon dashboards build` writes a gazetteer of the
inventory's sites (`dashboards.gazetteer`) and the markers layer looks the `site` tag up in it.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import geomap
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import geomap as geomap_models

from dashboards.common import (
    DATASOURCE,
    GOOD_HIGH,
    InfluxQL,
    new_dashboard,
    stat,
    table,
    timeseries,
)
from dashboards.gazetteer import GAZETTEER_URL_PATH

UID = "edumon-city"

# health: the share of probe packets the school's gateways answered in the last 15 minutes
SITE_HEALTH = """SELECT 100 - mean("loss_pct") AS "health_pct" FROM "probe"
    WHERE time > now() - 15m GROUP BY "site" """


def school_map() -> geomap.Panel:
    schools = (
        common_builders.MapLayerOptions()
        .type("markers")
        .name("Schools")
        .location(
            common_builders.FrameGeometrySource()
            .mode(common_models.FrameGeometrySourceMode.LOOKUP)
            .lookup("site")
            .gazetteer(GAZETTEER_URL_PATH)
        )
        .config(
            {
                "showLegend": True,
                "style": {
                    "color": {"field": "health_pct", "fixed": "green"},
                    "size": {"fixed": 10},
                    "text": {"field": "site", "mode": "field"},
                },
            }
        )
        .tooltip(True)
    )
    return (
        geomap.Panel()
        .title("Schools by health (probe answers, last 15 min)")
        .datasource(DATASOURCE)
        .with_target(InfluxQL(SITE_HEALTH, table=True))
        .view(geomap.MapViewConfig().id(geomap_models.MapCenterID.FIT.value).zoom(12))
        .basemap(common_builders.MapLayerOptions().type("default").name("Basemap"))
        .layers([schools])
        .unit("percent")
        .min(0)
        .max(100)
        .thresholds(GOOD_HIGH)
        .span(12)
        .height(14)
    )


def dashboard() -> dash.Dashboard:
    return (
        new_dashboard(UID, "edumon / City network overview")
        .with_panel(school_map())
        .with_panel(
            table(
                "Alerts firing now",
                InfluxQL(
                    """SELECT "firing", "value", "alertname", "severity", "team", "site", "device"
                    FROM (SELECT last("firing") AS "firing", last("value") AS "value"
                      FROM "alert" WHERE $timeFilter
                      GROUP BY "alertname", "severity", "team", "site", "device")
                    WHERE "firing" = true""",
                    table=True,
                ),
                height=14,
            )
        )
        .with_panel(
            stat(
                "Switches answering SNMP",
                InfluxQL(
                    """SELECT count("up") AS "up" FROM (SELECT last("up") AS "up" FROM "device"
                    WHERE time > now() - 15m GROUP BY "device") WHERE "up" = true"""
                ),
                span=12,
            )
        )
        .with_panel(
            stat(
                "Firing alerts by severity",
                InfluxQL(
                    """SELECT count("firing") FROM (SELECT last("firing") AS "firing"
                    FROM "alert" WHERE $timeFilter
                    GROUP BY "alertname", "severity", "site", "device")
                    WHERE "firing" = true GROUP BY "severity" """,
                    alias="$tag_severity",
                ),
                span=12,
            )
        )
        .with_panel(
            timeseries(
                "Availability per school (probe answers)",
                InfluxQL(
                    """SELECT 100 - mean("loss_pct") FROM "probe" WHERE $timeFilter
                    GROUP BY time($__interval), "site" fill(none)""",
                    alias="$tag_site",
                ),
                unit="percent",
            )
        )
        .with_panel(
            table(
                "Top 10 uplinks by utilisation",
                InfluxQL(
                    """SELECT top("in_util_pct", 10) AS "in_util_pct", "out_util_pct", "site",
                      "device", "ifname"
                    FROM (SELECT mean("in_util_pct") AS "in_util_pct",
                        mean("out_util_pct") AS "out_util_pct"
                      FROM "interface" WHERE "role" = 'uplink' AND $timeFilter
                      GROUP BY "site", "device", "ifname")""",
                    table=True,
                ),
            )
        )
    )
