"""School detail, templated by site (and optionally switch and port): switches, port status,
uplinks, per-port errors, traps, optics, gateway probes over IPv4/IPv6, APs, classrooms."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import timeseries as timeseries_panel

from dashboards.common import (
    NOW,
    PROBE_EVERY,
    SCHOOL,
    SENSOR_EVERY,
    SNMP_EVERY,
    WIFI,
    InfluxQL,
    link,
    new_dashboard,
    table,
    tag_variable,
    timeseries,
)

UID = SCHOOL
SITE = "\"site\" = '$site'"
PORTS = f'{SITE} AND "device" =~ /^$device$/ AND "ifname" =~ /^$ifname$/'
SWITCH_LINK = link("This switch", UID, site="$site", device="${__data.fields.device}")
PORT_LINK = link(
    "This port",
    UID,
    site="$site",
    device="${__data.fields.device}",
    ifname="${__data.fields.ifname}",
)
PER_PORT = 'GROUP BY time($__interval), "device", "ifname" fill(none)'


def dashboard() -> dash.Dashboard:
    return (
        new_dashboard(
            UID,
            "edumon / School detail",
            links=[link("Classroom Wi-Fi of this school", WIFI, site="$site")],
        )
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
                    FROM "device" WHERE {SITE} AND {NOW} GROUP BY "device" """,
                    table=True,
                ),
                links=[SWITCH_LINK],
                span=24,
                height=6,
            )
        )
        .with_panel(
            table(
                "Port status and errors now",
                InfluxQL(
                    f"""SELECT last("oper_up") AS "oper_up", last("admin_up") AS "admin_up",
                      last("speed_mbps") AS "speed_mbps", last("in_errors") AS "in_errors",
                      last("out_errors") AS "out_errors", last("in_discards") AS "in_discards",
                      last("out_discards") AS "out_discards"
                    FROM "interface" WHERE {PORTS} AND {NOW} GROUP BY "device", "ifname" """,
                    table=True,
                ),
                links=[PORT_LINK],
                span=24,
                height=8,
            )
        )
        .with_panel(
            timeseries(
                "Uplink traffic in/out",
                InfluxQL(
                    f"""SELECT mean("in_bps") AS "in", mean("out_bps") AS "out" FROM "interface"
                    WHERE {PORTS} AND "role" = 'uplink' AND $timeFilter {PER_PORT}""",
                    alias="$tag_device $tag_ifname $col",
                ),
                unit="bps",
                interval=SNMP_EVERY,
            )
        )
        .with_panel(
            timeseries(
                "Uplink utilisation",
                InfluxQL(
                    f"""SELECT mean("in_util_pct") AS "in", mean("out_util_pct") AS "out"
                    FROM "interface" WHERE {PORTS} AND "role" = 'uplink' AND $timeFilter
                    {PER_PORT}""",
                    alias="$tag_device $tag_ifname $col",
                ),
                unit="percent",
                interval=SNMP_EVERY,
            )
            .min(0)
            .max(100)
        )
        .with_panel(
            timeseries(
                "Errors and discards per port",
                InfluxQL(
                    f"""SELECT mean("in_errors") AS "in_errors", mean("out_errors") AS "out_errors",
                      mean("in_discards") AS "in_discards", mean("out_discards") AS "out_discards"
                    FROM "interface" WHERE {PORTS} AND $timeFilter {PER_PORT}""",
                    alias="$tag_device $tag_ifname $col",
                ),
                unit="pps",
                interval=SNMP_EVERY,
            )
        )
        .with_panel(
            table(
                "SNMP traps",
                InfluxQL(
                    f"""SELECT "trap_oid", "if_index", "device", "trap" FROM "snmp_trap"
                    WHERE {SITE} AND $timeFilter ORDER BY time DESC LIMIT 100""",
                    table=True,
                ),
                links=[SWITCH_LINK],
            )
        )
        .with_panel(
            timeseries(
                "Optics receive and transmit power",
                InfluxQL(
                    f"""SELECT mean("rx_dbm") AS "rx", mean("tx_dbm") AS "tx" FROM "optics"
                    WHERE {PORTS} AND $timeFilter {PER_PORT}""",
                    alias="$tag_device $tag_ifname $col",
                ),
                unit="dBm",
                interval=SNMP_EVERY,
            )
        )
        .with_panel(probe_series("Gateway round trip (IPv4 and IPv6)", "rtt_ms", "ms"))
        .with_panel(probe_series("Gateway probe loss (IPv4 and IPv6)", "loss_pct", "percent"))
        .with_panel(
            table(
                "Access points",
                InfluxQL(
                    f"""SELECT last("clients") AS "clients",
                      last("channel_util_pct") AS "channel_util_pct",
                      last("retry_pct") AS "retry_pct"
                    FROM "wifi_ap" WHERE {SITE} AND "band" != 'all' AND {NOW}
                    GROUP BY "ap", "room", "band" """,
                    table=True,
                ),
            )
        )
        .with_panel(classroom_series("Classroom CO2", "co2_ppm", "ppm"))
        .with_panel(classroom_series("Classroom temperature", "temp_c", "celsius"))
    )


def probe_series(title: str, field: str, unit: str) -> timeseries_panel.Panel:
    return timeseries(
        title,
        InfluxQL(
            f"""SELECT mean("{field}") FROM "probe" WHERE {SITE} AND $timeFilter
            GROUP BY time($__interval), "target", "method", "family" fill(none)""",
            alias="$tag_target $tag_method $tag_family",
        ),
        unit=unit,
        interval=PROBE_EVERY,
    )


def classroom_series(title: str, field: str, unit: str) -> timeseries_panel.Panel:
    return timeseries(
        title,
        InfluxQL(
            f"""SELECT mean("{field}") FROM "environment" WHERE {SITE} AND $timeFilter
            GROUP BY time($__interval), "room" fill(none)""",
            alias="room $tag_room",
        ),
        unit=unit,
        interval=SENSOR_EVERY,
    )
