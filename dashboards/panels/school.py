"""School detail, templated by site: switches, uplinks, errors, optics, APs, classrooms."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from dashboards.common import InfluxQL, new_dashboard, table, tag_variable, timeseries

UID = "edumon-school"
SITE = "\"site\" = '$site'"
PORTS = f'{SITE} AND "device" =~ /^$device$/ AND "ifname" =~ /^$ifname$/'


def dashboard() -> dash.Dashboard:
    return (
        new_dashboard(UID, "edumon / School detail")
        .with_variable(tag_variable("site", "School", "device"))
        .with_variable(tag_variable("device", "Switch", "interface", where=SITE, include_all=True))
        .with_variable(
            tag_variable(
                "ifname",
                "Interface",
                "interface",
                where=f'{SITE} AND "device" =~ /^$device$/',
                include_all=True,
            )
        )
        .with_panel(
            table(
                "Switches",
                InfluxQL(
                    f"""SELECT last("up") AS "up", last("uptime_s") AS "uptime_s",
                      last("cpu_pct") AS "cpu_pct", last("temp_c") AS "temp_c",
                      last("poll_ms") AS "poll_ms"
                    FROM "device" WHERE {SITE} AND $timeFilter GROUP BY "device" """,
                    table=True,
                ),
                span=24,
                height=6,
            )
        )
        .with_panel(
            timeseries(
                "Uplink traffic in/out",
                InfluxQL(
                    f"""SELECT mean("in_bps") AS "in", mean("out_bps") AS "out" FROM "interface"
                    WHERE {PORTS} AND "role" = 'uplink' AND $timeFilter
                    GROUP BY time($__interval), "device", "ifname" fill(null)""",
                    alias="$tag_device $tag_ifname $col",
                ),
                unit="bps",
            )
        )
        .with_panel(
            timeseries(
                "Uplink utilisation",
                InfluxQL(
                    f"""SELECT mean("in_util_pct") AS "in", mean("out_util_pct") AS "out"
                    FROM "interface" WHERE {PORTS} AND "role" = 'uplink' AND $timeFilter
                    GROUP BY time($__interval), "device", "ifname" fill(null)""",
                    alias="$tag_device $tag_ifname $col",
                ),
                unit="percent",
            )
        )
        .with_panel(
            timeseries(
                "Interface errors and discards per second",
                InfluxQL(
                    f"""SELECT sum("in_errors") AS "in_errors", sum("out_errors") AS "out_errors",
                      sum("in_discards") AS "in_discards", sum("out_discards") AS "out_discards"
                    FROM (SELECT mean("in_errors") AS "in_errors",
                        mean("out_errors") AS "out_errors", mean("in_discards") AS "in_discards",
                        mean("out_discards") AS "out_discards"
                      FROM "interface" WHERE {PORTS} AND $timeFilter
                      GROUP BY time($__interval), "device", "ifname")
                    WHERE $timeFilter GROUP BY time($__interval), "device" fill(null)""",
                    alias="$tag_device $col",
                ),
                unit="pps",
            )
        )
        .with_panel(
            timeseries(
                "Optics receive and transmit power",
                InfluxQL(
                    f"""SELECT mean("rx_dbm") AS "rx", mean("tx_dbm") AS "tx" FROM "optics"
                    WHERE {PORTS} AND $timeFilter
                    GROUP BY time($__interval), "device", "ifname" fill(null)""",
                    alias="$tag_device $tag_ifname $col",
                ),
                unit="dBm",
            )
        )
        .with_panel(
            table(
                "Access points",
                InfluxQL(
                    f"""SELECT last("clients") AS "clients",
                      last("channel_util_pct") AS "channel_util_pct",
                      last("retry_pct") AS "retry_pct"
                    FROM "wifi_ap" WHERE {SITE} AND "band" != 'all' AND $timeFilter
                    GROUP BY "ap", "room", "band" """,
                    table=True,
                ),
            )
        )
        .with_panel(
            timeseries(
                "Classroom CO2",
                InfluxQL(
                    f"""SELECT mean("co2_ppm") FROM "environment" WHERE {SITE} AND $timeFilter
                    GROUP BY time($__interval), "room" fill(none)""",
                    alias="room $tag_room",
                ),
                unit="ppm",
            )
        )
        .with_panel(
            timeseries(
                "Classroom temperature",
                InfluxQL(
                    f"""SELECT mean("temp_c") FROM "environment" WHERE {SITE} AND $timeFilter
                    GROUP BY time($__interval), "room" fill(none)""",
                    alias="room $tag_room",
                ),
                unit="celsius",
            )
        )
    )
