"""Classroom Wi-Fi: clients per school, channel utilisation, retries, noisy rooms."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from dashboards.common import (
    GOOD_LOW,
    MQTT_EVERY,
    NEUTRAL,
    NOW,
    SCHOOL,
    WIFI,
    InfluxQL,
    link,
    new_dashboard,
    stat,
    table,
    tag_variable,
    timeseries,
)

UID = WIFI
# radios only: the status topic writes band=all with just `up`
RADIOS = '"site" =~ /^$site$/ AND "band" != \'all\''


def dashboard() -> dash.Dashboard:
    return (
        new_dashboard(
            UID,
            "edumon / Classroom Wi-Fi",
            links=[link("School detail", SCHOOL, site="$site")],
        )
        .with_variable(tag_variable("site", "School", "wifi_ap", include_all=True))
        .with_panel(
            stat(
                "Clients connected now",
                InfluxQL(
                    f"""SELECT sum("clients") FROM (SELECT last("clients") AS "clients"
                    FROM "wifi_ap" WHERE {RADIOS} AND {NOW}
                    GROUP BY "ap", "band")"""
                ),
                steps=NEUTRAL,
                span=8,
            )
        )
        .with_panel(
            stat(
                "Mean channel utilisation",
                InfluxQL(
                    f"""SELECT mean("channel_util_pct") FROM "wifi_ap"
                    WHERE {RADIOS} AND $timeFilter"""
                ),
                unit="percent",
                steps=GOOD_LOW,
                span=8,
            )
        )
        .with_panel(
            stat(
                "Mean retries",
                InfluxQL(
                    f"""SELECT mean("retry_pct") FROM "wifi_ap" WHERE {RADIOS} AND $timeFilter"""
                ),
                unit="percent",
                steps=GOOD_LOW,
                span=8,
            )
        )
        .with_panel(
            timeseries(
                "Clients per school",
                InfluxQL(
                    f"""SELECT sum("clients") FROM (SELECT last("clients") AS "clients"
                      FROM "wifi_ap" WHERE {RADIOS} AND $timeFilter
                      GROUP BY time($__interval), "site", "ap", "band")
                    WHERE $timeFilter GROUP BY time($__interval), "site" fill(none)""",
                    alias="$tag_site",
                ),
                unit="none",
                interval=MQTT_EVERY,
            )
        )
        .with_panel(
            timeseries(
                "Channel utilisation per school and band",
                InfluxQL(
                    f"""SELECT mean("channel_util_pct") FROM "wifi_ap"
                    WHERE {RADIOS} AND $timeFilter
                    GROUP BY time($__interval), "site", "band" fill(none)""",
                    alias="$tag_site $tag_band",
                ),
                unit="percent",
                interval=MQTT_EVERY,
            ).min(0)
        )
        .with_panel(
            timeseries(
                "Retries per school",
                InfluxQL(
                    f"""SELECT mean("retry_pct") FROM "wifi_ap" WHERE {RADIOS} AND $timeFilter
                    GROUP BY time($__interval), "site" fill(none)""",
                    alias="$tag_site",
                ),
                unit="percent",
                interval=MQTT_EVERY,
            ).min(0)
        )
        .with_panel(
            table(
                "Noisiest rooms (mean noise floor)",
                InfluxQL(
                    f"""SELECT top("noise_dbm", 10) AS "noise_dbm", "site", "room", "ap"
                    FROM (SELECT mean("noise_dbm") AS "noise_dbm" FROM "wifi_ap"
                      WHERE {RADIOS} AND $timeFilter GROUP BY "site", "room", "ap")""",
                    table=True,
                ),
                links=[link("School detail", SCHOOL, site="${__data.fields.site}")],
            )
        )
    )
