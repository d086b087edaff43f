"""KPI/SLA: the monthly figures the KPI reporter writes as the `kpi` measurement
(tags kpi, site — a site id or `city` —, period; field value; time = the period's start)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models.dashboard import VariableSort

from dashboards.common import (
    DATASOURCE,
    GOOD_HIGH,
    KPI,
    InfluxQL,
    new_dashboard,
    stat,
    table,
    tag_variable,
    thresholds,
    timeseries,
)

UID = KPI
# a share of classrooms or schools is good from well below the 95 % of an availability
SHARE = thresholds((None, "red"), (50, "orange"), (80, "green"))
CITY_KPIS = (
    ("uplink_availability_pct", "Uplink availability (city)", GOOD_HIGH),
    ("schools_on_10g_pct", "Schools on 10G uplinks", SHARE),
    ("healthy_wifi_classrooms_pct", "Classrooms with healthy Wi-Fi", SHARE),
    ("ipv6_reachability_pct", "IPv6 reachability", GOOD_HIGH),
)


def dashboard() -> dash.Dashboard:
    board = new_dashboard(UID, "edumon / KPI and SLA", time_from="now-400d").with_variable(
        tag_variable("period", "Period", "kpi").sort(VariableSort.ALPHABETICAL_DESC)
    )
    for kpi, title, steps in CITY_KPIS:
        board = board.with_panel(
            stat(
                title,
                InfluxQL(
                    f"""SELECT last("value") FROM "kpi" WHERE "kpi" = '{kpi}'
                    AND "site" = 'city' AND "period" = '$period' AND $timeFilter"""
                ),
                unit="percent",
                steps=steps,
            )
        )
    return (
        board.with_panel(
            bargauge.Panel()
            .title("Uplink availability per school (scale from 90 %)")
            .datasource(DATASOURCE)
            .with_target(
                InfluxQL(
                    """SELECT last("value") FROM "kpi" WHERE "kpi" = 'uplink_availability_pct'
                    AND "site" != 'city' AND "period" = '$period' AND $timeFilter
                    GROUP BY "site" """,
                    alias="$tag_site",
                )
            )
            .unit("percent")
            .min(90)
            .max(100)
            .thresholds(GOOD_HIGH)
            .span(12)
            .height(12)
        )
        .with_panel(
            table(
                "Every KPI per school",
                InfluxQL(
                    """SELECT last("value") AS "value" FROM "kpi"
                    WHERE "period" = '$period' AND $timeFilter GROUP BY "kpi", "site" """,
                    table=True,
                ),
                height=12,
            )
        )
        .with_panel(
            timeseries(
                "City KPIs month by month",
                InfluxQL(
                    # one point per period already: no time grouping
                    """SELECT "value" FROM "kpi" WHERE "site" = 'city' AND $timeFilter
                    GROUP BY "kpi" """,
                    alias="$tag_kpi",
                ),
                unit="percent",
                interval="1d",
                span=24,
            )
        )
    )
