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
from dashboards.limits import Limits

UID = KPI
# a share of classrooms or schools is good from well below the 95 % of an availability
SHARE = thresholds((None, "red"), (50, "orange"), (80, "green"))
CITY_KPIS = (
    (
        "uplink_availability_pct",
        "Uplink availability (city)",
        GOOD_HIGH,
        "Share of the month the schools' uplinks were up, city-wide (%). Worry below 99 %.",
    ),
    (
        "schools_on_10g_pct",
        "Schools on 10G uplinks",
        SHARE,
        "Share of schools whose uplink runs at 10 Gbit/s or more (%): the upgrade plan's "
        "progress. Below 50 % red.",
    ),
    (
        "healthy_wifi_classrooms_pct",
        "Classrooms with healthy Wi-Fi",
        SHARE,
        "Share of classrooms whose Wi-Fi stayed within the healthy limits "
        "(reports.healthy_wifi) (%). Below 80 % orange, 50 % red.",
    ),
    (
        "ipv6_reachability_pct",
        "IPv6 reachability",
        GOOD_HIGH,
        "Share of IPv6 probes answered over the month (%). Worry below 99 %.",
    ),
)


def dashboard(limits: Limits) -> dash.Dashboard:
    board = new_dashboard(UID, "edumon / KPI and SLA", time_from="now-400d").with_variable(
        tag_variable("period", "Period", "kpi").sort(VariableSort.ALPHABETICAL_DESC)
    )
    board = board.with_row(dash.Row("The city this month"))
    for kpi, title, steps, description in CITY_KPIS:
        board = board.with_panel(
            stat(
                title,
                InfluxQL(
                    f"""SELECT last("value") FROM "kpi" WHERE "kpi" = '{kpi}'
                    AND "site" = 'city' AND "period" = '$period' AND $timeFilter"""
                ),
                description=description,
                unit="percent",
                steps=steps,
            )
        )
    return (
        board.with_row(dash.Row("Per school and month by month"))
        .with_panel(
            bargauge.Panel()
            .title("Uplink availability per school (scale from 90 %)")
            .description(
                "Each school's uplink availability in the period (%), on a scale from 90 % so "
                "that 99.5 % and 100 % differ. Green from 99 %, orange from 95 %."
            )
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
                description="Every KPI of the period per school (and the city), as the KPI "
                "report computed them; percentages unless the KPI's name says otherwise.",
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
                description="The city's KPIs month by month (%): look for a downward trend.",
                unit="percent",
                interval="1d",
                span=24,
            )
        )
    )
