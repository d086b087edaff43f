"""Classroom Wi-Fi: clients per school, channel utilisation, retries, noisy rooms."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from dashboards.common import (
    LINES,
    MQTT_EVERY,
    NEUTRAL,
    NOW,
    SCHOOL,
    WIFI,
    Column,
    InfluxQL,
    link,
    new_dashboard,
    stat,
    table,
    tag_variable,
    thresholds,
    timeseries,
)
from dashboards.limits import Limits

UID = WIFI
# radios only: the status topic writes band=all with just `up`
RADIOS = '"site" =~ /^$site$/ AND "band" != \'all\''


def dashboard(limits: Limits) -> dash.Dashboard:
    healthy = limits.healthy_wifi
    busy = limits.channel_busy.fire
    # orange past the healthy Wi-Fi limit (reports.healthy_wifi), red where the rule fires
    channel_steps = thresholds(
        (None, "green"), (healthy.max_channel_util_pct, "orange"), (busy, "red")
    )
    retry_steps = thresholds((None, "green"), (healthy.max_retry_pct, "orange"))
    return (
        new_dashboard(
            UID,
            "edumon / Classroom Wi-Fi",
            links=[link("School detail", SCHOOL, site="$site")],
        )
        .with_variable(tag_variable("site", "School", "wifi_ap", include_all=True))
        .with_row(dash.Row("Now and over the range"))
        .with_panel(
            stat(
                "Clients connected now",
                InfluxQL(
                    f"""SELECT sum("clients") FROM (SELECT last("clients") AS "clients"
                    FROM "wifi_ap" WHERE {RADIOS} AND {NOW}
                    GROUP BY "ap", "band")"""
                ),
                description="Wi-Fi clients associated to the selected schools' access points, "
                "by their last report (both bands). A count, neither good nor bad: compare "
                "with a normal school day; a sudden drop to 0 means APs or their controller "
                "stopped reporting.",
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
                description="Share of airtime the radios found the channel busy, mean over "
                f"the range (%). Orange above the healthy Wi-Fi limit "
                f"({healthy.max_channel_util_pct:g} %, reports.healthy_wifi), red from "
                f"{busy:g} %, where ChannelUtilisationHigh fires.",
                unit="percent",
                steps=channel_steps,
                span=8,
            )
        )
        .with_panel(
            stat(
                "Mean retries",
                InfluxQL(
                    f"""SELECT mean("retry_pct") FROM "wifi_ap" WHERE {RADIOS} AND $timeFilter"""
                ),
                description="Share of frames sent again, mean over the range (%). Orange above "
                f"the healthy Wi-Fi limit ({healthy.max_retry_pct:g} %, reports.healthy_wifi): "
                "interference, weak signal or an overloaded room.",
                unit="percent",
                steps=retry_steps,
                span=8,
            )
        )
        .with_row(dash.Row("Per school"))
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
                description="Wi-Fi clients per school over time, summed over its access points "
                "and bands. Worry about a school falling to 0 in class hours.",
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
                description="Channel busy share per school and band (%). Above "
                f"{healthy.max_channel_util_pct:g} % the room is not healthy Wi-Fi; "
                f"ChannelUtilisationHigh fires from {busy:g} %.",
                unit="percent",
                interval=MQTT_EVERY,
            )
            .min(0)
            .thresholds(channel_steps)
            .thresholds_style(LINES)
        )
        .with_panel(
            timeseries(
                "Retries per school",
                InfluxQL(
                    f"""SELECT mean("retry_pct") FROM "wifi_ap" WHERE {RADIOS} AND $timeFilter
                    GROUP BY time($__interval), "site" fill(none)""",
                    alias="$tag_site",
                ),
                description="Retried frames per school (%). Above "
                f"{healthy.max_retry_pct:g} % (reports.healthy_wifi) its classrooms do not "
                "count as healthy Wi-Fi.",
                unit="percent",
                interval=MQTT_EVERY,
            )
            .min(0)
            .thresholds(retry_steps)
            .thresholds_style(LINES)
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
                description="The ten rooms with the highest mean noise floor (dBm) over the "
                f"range. Above {healthy.max_noise_dbm:g} dBm (reports.healthy_wifi) a room's "
                "Wi-Fi does not count as healthy: look for interference.",
                columns=[Column("noise_dbm", unit="dBm")],
                links=[link("School detail", SCHOOL, site="${__data.fields.site}")],
            )
        )
    )
