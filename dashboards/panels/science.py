"""Science centre: is every exhibit working right now, how much is it used, what fails, and
the exhibit devices' and halls' environment."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import stat as stat_panel
from grafana_foundation_sdk.builders import statushistory
from grafana_foundation_sdk.builders import timeseries as timeseries_panel
from grafana_foundation_sdk.models import common as common_models

from dashboards.common import (
    CURRENT,
    DATASOURCE,
    LINES,
    MQTT_EVERY,
    SCHOOL,
    SCIENCE,
    SENSOR_EVERY,
    UP_DOWN,
    InfluxQL,
    link,
    new_dashboard,
    rule_steps,
    stat,
    tag_variable,
    timeseries,
)
from dashboards.limits import Limits

UID = SCIENCE
SITE = "\"site\" = '$site'"


def exhibit_grid() -> stat_panel.Panel:
    return (
        stat(
            "Exhibit status",
            InfluxQL(
                f"""SELECT last("up") FROM "exhibit" WHERE {SITE} AND {CURRENT}
                GROUP BY "exhibit" """,
                alias="$tag_exhibit",
            ),
            description="Each exhibit by its last report: up (green) or down (red). A red "
            "exhibit in opening hours pages the science centre's staff (ExhibitOffline).",
            span=24,
            height=6,
        )
        .mappings(UP_DOWN)
        .color_mode(common_models.BigValueColorMode.BACKGROUND)
        .text_mode(common_models.BigValueTextMode.VALUE_AND_NAME)
    )


def dashboard(limits: Limits) -> dash.Dashboard:
    co2 = limits.co2_high
    return (
        new_dashboard(
            UID,
            "edumon / Science centre",
            time_from="now-12h",
            links=[link("Network of the science centre", SCHOOL, site="$site")],
        )
        .with_variable(tag_variable("site", "Science centre", "exhibit"))
        .with_row(dash.Row("Exhibits"))
        .with_panel(exhibit_grid())
        .with_panel(
            statushistory.Panel()
            .title("Exhibit status history")
            .description(
                "Each exhibit's up/down state over the range. Worry about an exhibit that "
                "drops out again and again: a crashing application or a flaky network port."
            )
            .datasource(DATASOURCE)
            .with_target(
                InfluxQL(
                    f"""SELECT last("up") FROM "exhibit" WHERE {SITE} AND $timeFilter
                    GROUP BY time($__interval), "exhibit" fill(none)""",
                    alias="$tag_exhibit",
                )
            )
            .mappings(UP_DOWN)
            .interval(MQTT_EVERY)
            .span(24)
            .height(8)
        )
        .with_panel(
            timeseries(
                "Interactions per hour",
                InfluxQL(
                    f"""SELECT non_negative_derivative(max("interactions"), 1h) FROM "exhibit"
                    WHERE {SITE} AND $timeFilter
                    GROUP BY time($__interval), "exhibit" fill(none)""",
                    alias="$tag_exhibit",
                ),
                description="Visitor interactions per hour per exhibit. Worry about an "
                "exhibit at 0 while the others are used: it may be broken without saying so.",
                unit="none",
                interval=MQTT_EVERY,
            )
        )
        .with_panel(
            timeseries(
                "Faults (new errors reported)",
                InfluxQL(
                    f"""SELECT non_negative_difference(max("errors")) FROM "exhibit"
                    WHERE {SITE} AND $timeFilter
                    GROUP BY time($__interval), "exhibit" fill(none)""",
                    alias="$tag_exhibit",
                ),
                description="New errors the exhibits reported per interval. Anything above "
                "0 is a fault the exhibit logged; a steady stream needs its maintainer.",
                unit="none",
                interval=MQTT_EVERY,
            )
        )
        .with_row(dash.Row("Devices and halls"))
        .with_panel(
            mean_per(
                "Exhibit device temperature",
                "exhibit",
                "temp_c",
                "celsius",
                "The exhibit computers' temperature (°C). Worry above about 70 °C: a blocked "
                "fan or vent.",
            )
        )
        .with_panel(
            mean_per(
                "Exhibit device CPU",
                "exhibit",
                "cpu_pct",
                "percent",
                "The exhibit computers' CPU load (%). Worry about a load stuck near 100 %: a "
                "hung application.",
            )
        )
        .with_panel(
            mean_per(
                "Halls: CO2",
                "environment",
                "co2_ppm",
                "ppm",
                f"CO2 per hall (ppm); above {co2.fire:g} ppm (ClassroomCO2High's limit, "
                "dashed red) the hall needs airing.",
                by="room",
            )
            .thresholds(rule_steps(co2))
            .thresholds_style(LINES)
        )
    )


def mean_per(
    title: str, measurement: str, field: str, unit: str, description: str, *, by: str = "exhibit"
) -> timeseries_panel.Panel:
    """A third-width graph of a field's mean over time, one line per exhibit (or room)."""
    return timeseries(
        title,
        InfluxQL(
            f"""SELECT mean("{field}") FROM "{measurement}" WHERE {SITE} AND $timeFilter
            GROUP BY time($__interval), "{by}" fill(none)""",
            alias=f"$tag_{by}",
        ),
        description=description,
        unit=unit,
        interval=SENSOR_EVERY if measurement == "environment" else MQTT_EVERY,
        span=8,
    )
