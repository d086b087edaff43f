"""City network overview: a map of the schools coloured by health, availability, the busiest
uplinks and the alerts firing now.

The map needs no coordinates in InfluxDB: `edumon dashboards build` writes a gazetteer of the
inventory's sites (`dashboards.gazetteer`) and the markers layer looks the `site` tag up in it.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import geomap
from grafana_foundation_sdk.builders import stat as stat_panel
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import geomap as geomap_models
from grafana_foundation_sdk.models.dashboard import DynamicConfigValue

from dashboards.common import (
    CITY,
    CURRENT,
    DATASOURCE,
    GOOD_HIGH,
    KPI,
    NETWORK,
    NEUTRAL,
    NOW,
    PROBE_EVERY,
    SCHOOL,
    SCIENCE,
    SERVICE,
    WIFI,
    ZERO_GOOD,
    Column,
    InfluxQL,
    busiest_first,
    link,
    new_dashboard,
    rule_steps,
    stat,
    table,
    thresholds,
    timeseries,
    two_states,
)
from dashboards.gazetteer import GAZETTEER_URL_PATH
from dashboards.limits import Limits

UID = CITY
NOT_WATCHDOG = "\"alertname\" != 'Watchdog'"  # fires always by design: a dead man's switch
LAST_UP = f'SELECT last("up") AS "up" FROM "device" WHERE {NOW} GROUP BY "device"'

# health: the share of probe packets the school's gateways answered in the last 15 minutes
SITE_HEALTH = """SELECT 100 - mean("loss_pct") AS "health_pct" FROM "probe"
    WHERE time > now() - 15m GROUP BY "site" """

PEAK = "peak_util_pct"  # the larger of an uplink's two directions
FIRING = two_states(("firing", "red"), ("resolved", "green"))
SITE_LINK = link("School detail", SCHOOL, site="${__data.fields.site}")
DEVICE_LINK = link(
    "Switch and port", SCHOOL, site="${__data.fields.site}", device="${__data.fields.device}"
)


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
        .data_links([SITE_LINK])
        .description(
            "Each school at its inventory location, coloured by the share of gateway probe "
            "packets answered in the last 15 minutes (%): green from 99 %, orange from 95 %, "
            "red below. A red school is losing packets to or from the city network; click it "
            "for its detail."
        )
        .span(12)
        .height(14)
    )


def dashboard(limits: Limits) -> dash.Dashboard:
    saturated = limits.uplink_saturated
    steps = rule_steps(saturated)
    return (
        new_dashboard(
            UID,
            "edumon / City network overview",
            links=[
                link("School detail", SCHOOL),
                link("Science centre", SCIENCE),
                link("Classroom Wi-Fi", WIFI),
                link("KPI and SLA", KPI),
                link("Service health", SERVICE),
                link("Network map and PoE", NETWORK),
            ],
        )
        .with_row(dash.Row("Now"))
        .with_panel(school_map())
        .with_panel(
            table(
                "Alerts firing now",
                InfluxQL(
                    f"""SELECT "firing", "value", "alertname", "severity", "team", "site", "device"
                    FROM (SELECT last("firing") AS "firing", last("value") AS "value"
                      FROM "alert" WHERE {CURRENT}
                      GROUP BY "alertname", "severity", "team", "site", "device")
                    WHERE "firing" = true AND {NOT_WATCHDOG}""",
                    table=True,
                ),
                description="Every alert firing now (edumon's `alert` points, the last state "
                "of each), but the Watchdog that always fires. Severity page needs someone now; "
                "warning within the day; info is for the record.",
                columns=[Column("firing", mappings=FIRING)],
                links=[DEVICE_LINK],
                height=14,
            )
        )
        .with_panel(
            stat(
                "Switches answering SNMP",
                InfluxQL(
                    f"""SELECT count("up") AS "answering" FROM ({LAST_UP})
                    WHERE "up" = true""",
                    alias="answering",
                ),
                InfluxQL(f'SELECT count("up") AS "polled" FROM ({LAST_UP})', ref_id="B"),
                description="Switches whose last SNMP poll (last 15 min) was answered, beside "
                "all switches polled. The two should be equal; the difference is in the next "
                "panel.",
                steps=NEUTRAL,
                span=8,
            )
        )
        .with_panel(
            stat(
                "Switches not answering",
                InfluxQL(f"""SELECT count("up") FROM ({LAST_UP}) WHERE "up" = false"""),
                description="Switches whose last SNMP poll went unanswered. Red from 1: a "
                "switch down or unreachable (CoreSwitchUnreachable or SwitchUnreachable "
                "fires).",
                steps=ZERO_GOOD,
                no_value="0",
                span=4,
            )
        )
        .with_panel(
            stat(
                "Uplinks down now",
                InfluxQL(
                    f"""SELECT count("oper_up") FROM (SELECT last("oper_up") AS "oper_up"
                      FROM "interface" WHERE "role" = 'uplink' AND {NOW}
                      GROUP BY "site", "device", "ifname")
                    WHERE "oper_up" = false"""
                ),
                description="Uplink ports whose last poll found them operationally down. Red "
                "from 1: a school is cut off or runs on its backup path (UplinkDown).",
                steps=ZERO_GOOD,
                no_value="0",
                span=4,
            )
        )
        .with_panel(firing_by_severity())
        .with_row(dash.Row("Trends"))
        .with_panel(
            timeseries(
                "Availability per school (probe answers)",
                InfluxQL(
                    """SELECT 100 - mean("loss_pct") FROM "probe" WHERE $timeFilter
                    GROUP BY time($__interval), "site" fill(none)""",
                    alias="$tag_site",
                ),
                description="Share of gateway probe packets answered per school (%). Worry "
                "below 99 %; a line at 0 is a school off the network.",
                unit="percent",
                interval=PROBE_EVERY,
            )
            .min(0)
            .max(100)
        )
        .with_panel(
            table(
                "Top 10 uplinks by utilisation",
                InfluxQL(
                    """SELECT mean("in_util_pct") AS "in_util_pct",
                      mean("out_util_pct") AS "out_util_pct"
                    FROM "interface" WHERE "role" = 'uplink' AND $timeFilter
                    GROUP BY "site", "device", "ifname" """,
                    table=True,
                ),
                description="The ten uplinks busiest over the range, ranked by the larger of "
                "their mean inbound and outbound utilisation (%). UplinkSaturated fires above "
                f"{saturated.fire:g} % for 5 minutes and clears under {saturated.clear:g} %: "
                "orange and red here.",
                columns=[
                    Column(name, unit="percent", steps=steps)
                    for name in ("in_util_pct", "out_util_pct", PEAK)
                ],
                links=[DEVICE_LINK],
            ).transformations(busiest_first(PEAK, 10))
        )
    )


def firing_by_severity() -> stat_panel.Panel:
    """Pages red and warnings orange from one alert on; none firing is green."""
    panel = stat(
        "Firing alerts by severity",
        InfluxQL(
            f"""SELECT count("firing") FROM (SELECT last("firing") AS "firing"
            FROM "alert" WHERE {CURRENT}
            GROUP BY "alertname", "severity", "site", "device")
            WHERE "firing" = true AND {NOT_WATCHDOG} GROUP BY "severity" """,
            alias="$tag_severity",
        ),
        description="Alerts firing now per severity (but the Watchdog). A page is red from "
        "1 (someone must act now); warnings orange.",
        steps=thresholds((None, "green"), (1, "orange")),
        no_value="0",
        span=8,
    )
    page = DynamicConfigValue(id_val="thresholds", value=ZERO_GOOD.build())
    return panel.override_by_name("page", [page])
