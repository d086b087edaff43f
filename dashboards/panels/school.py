"""School detail, templated by site (and optionally switch and port): switches, port status,
uplinks, per-port errors, traps, optics, gateway probes over IPv4/IPv6, APs, classrooms."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import timeseries as timeseries_panel
from grafana_foundation_sdk.models import dashboard as model

from dashboards.common import (
    LINES,
    NOW,
    PROBE_EVERY,
    SCHOOL,
    SENSOR_EVERY,
    SNMP_EVERY,
    WIFI,
    Column,
    InfluxQL,
    link,
    new_dashboard,
    rule_steps,
    table,
    tag_variable,
    timeseries,
    up_down,
)
from dashboards.limits import Limits

UID = SCHOOL
ERRORS = ("in_errors", "out_errors", "in_discards", "out_discards")
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


def by_regex(
    pattern: str, *properties: tuple[str, object]
) -> tuple[model.MatcherConfig, list[model.DynamicConfigValue]]:
    matcher = model.MatcherConfig(id_val="byRegexp", options=pattern)
    return matcher, [model.DynamicConfigValue(id_val=key, value=value) for key, value in properties]


# outbound drawn below the axis, inbound above
MIRRORED_OUT = by_regex(" out$", ("custom.transform", "negative-Y"))
# the module's own alarm thresholds (optics fields `*_alarm`), dashed red lines
ALARM_LINES = by_regex(
    "alarm$",
    ("custom.lineStyle", {"fill": "dash", "dash": [10, 10]}),
    ("color", {"mode": "fixed", "fixedColor": "red"}),
    ("custom.lineWidth", 1),
)
OPTICS_FIELDS = ("rx_dbm", "tx_dbm")
ALARMS = ("low_alarm", "high_alarm")


def optics_query() -> InfluxQL:
    selected = (
        ", ".join(f'mean("{field}") AS "{field[:2]}"' for field in OPTICS_FIELDS)
        + ", "
        + ", ".join(
            f'mean("{field}_{alarm}") AS "{field[:2]}_{alarm}"'
            for field in OPTICS_FIELDS
            for alarm in ALARMS
        )
    )
    return InfluxQL(
        f"""SELECT {selected} FROM "optics" WHERE {PORTS} AND $timeFilter {PER_PORT}""",
        alias="$tag_device $tag_ifname $col",
    )


def dashboard(limits: Limits) -> dash.Dashboard:
    saturated = limits.uplink_saturated
    co2 = limits.co2_high
    util_steps = rule_steps(saturated)
    co2_steps = rule_steps(co2)
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
        .with_row(dash.Row("Switches and ports"))
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
                description="The school's switches by their last poll (last 15 min): answering "
                "SNMP (up/down), time since their last restart, CPU (%), temperature and how "
                "long the poll took (ms). Worry about down, an uptime of minutes (it "
                "rebooted), CPU above 80 % or a poll near the SNMP timeout.",
                columns=[
                    up_down("up"),
                    Column("uptime_s", unit="dtdurations"),
                    Column("cpu_pct", unit="percent"),
                    Column("temp_c", unit="celsius"),
                    Column("poll_ms", unit="ms"),
                ],
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
                description="Each port's last state: operational and administrative status, "
                "speed and error and discard rates (packets/s). Worry about a port that is "
                "administratively up but operationally down, or errors above 1/s "
                "(InterfaceErrors).",
                columns=[
                    up_down("oper_up"),
                    up_down("admin_up"),
                    Column("speed_mbps", unit="Mbits"),
                    *(Column(name, unit="pps") for name in ERRORS),
                ],
                links=[PORT_LINK],
                span=24,
                height=8,
            )
        )
        .with_row(dash.Row("Uplinks"))
        .with_panel(
            timeseries(
                "Uplink traffic in/out",
                InfluxQL(
                    f"""SELECT mean("in_bps") AS "in", mean("out_bps") AS "out" FROM "interface"
                    WHERE {PORTS} AND "role" = 'uplink' AND $timeFilter {PER_PORT}""",
                    alias="$tag_device $tag_ifname $col",
                ),
                description="Uplink traffic in bits/s: inbound above the axis, outbound "
                "mirrored below it. Compare with the port's speed; the utilisation panel says "
                "when it is too much.",
                unit="bps",
                interval=SNMP_EVERY,
            ).with_override(*MIRRORED_OUT)
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
                description="Uplink utilisation of the port's speed (%), inbound above the "
                "axis, outbound below. UplinkSaturated fires above "
                f"{saturated.fire:g} % for 5 minutes (dashed red) and clears under "
                f"{saturated.clear:g} % (dashed orange).",
                unit="percent",
                interval=SNMP_EVERY,
            )
            .min(-100)
            .max(100)
            .thresholds(util_steps)
            .thresholds_style(LINES)
            .with_override(*MIRRORED_OUT)
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
                description="Errors and discards per port (packets/s). Any sustained value "
                "above 1/s is a fault (InterfaceErrors): a bad cable, optic or duplex mismatch.",
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
                description="The last 100 SNMP traps from the school's switches in the range "
                "(linkDown, linkUp, coldStart...). Worry about repeated linkDown/linkUp on one "
                "port (a flapping link) or a coldStart (a reboot).",
                links=[SWITCH_LINK],
            )
        )
        .with_panel(
            timeseries(
                "Optics receive and transmit power",
                optics_query(),
                description="Optical receive and transmit power per port (dBm), with the "
                "module's own low and high alarm thresholds as it reports them (dashed red). "
                "Worry when a power line nears its alarm line: a dirty connector, a bent "
                "fibre or an ageing laser.",
                unit="dBm",
                interval=SNMP_EVERY,
            ).with_override(*ALARM_LINES)
        )
        .with_row(dash.Row("Gateway probes, Wi-Fi and classrooms"))
        .with_panel(
            probe_series(
                "Gateway round trip (IPv4 and IPv6)",
                "rtt_ms",
                "ms",
                "Round trip to the school's gateways per probe method and address family "
                "(ms). Worry about a jump from its usual level or one family far slower.",
            )
        )
        .with_panel(
            probe_series(
                "Gateway probe loss (IPv4 and IPv6)",
                "loss_pct",
                "percent",
                "Share of probe packets unanswered (%). Anything above 1 % is loss the "
                "school's users notice; 100 % is a gateway or family unreachable.",
            )
        )
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
                description="The school's access points per band by their last report: "
                "clients, channel busy share and retries (%). The Classroom Wi-Fi dashboard "
                "colours them by the healthy Wi-Fi limits.",
                columns=[
                    Column("channel_util_pct", unit="percent"),
                    Column("retry_pct", unit="percent"),
                ],
            )
        )
        .with_panel(
            classroom_series(
                "Classroom CO2",
                "co2_ppm",
                "ppm",
                f"CO2 per classroom (ppm). ClassroomCO2High fires above {co2.fire:g} ppm for "
                f"10 minutes (dashed red) and clears under {co2.clear:g} ppm (dashed orange): "
                "the room needs airing.",
            )
            .thresholds(co2_steps)
            .thresholds_style(LINES)
        )
        .with_panel(
            classroom_series(
                "Classroom temperature",
                "temp_c",
                "celsius",
                "Temperature per classroom (°C). Worry outside about 18-26 °C in class hours.",
            )
        )
    )


def probe_series(title: str, field: str, unit: str, description: str) -> timeseries_panel.Panel:
    return timeseries(
        title,
        InfluxQL(
            f"""SELECT mean("{field}") FROM "probe" WHERE {SITE} AND $timeFilter
            GROUP BY time($__interval), "target", "method", "family" fill(none)""",
            alias="$tag_target $tag_method $tag_family",
        ),
        description=description,
        unit=unit,
        interval=PROBE_EVERY,
    )


def classroom_series(title: str, field: str, unit: str, description: str) -> timeseries_panel.Panel:
    return timeseries(
        title,
        InfluxQL(
            f"""SELECT mean("{field}") FROM "environment" WHERE {SITE} AND $timeFilter
            GROUP BY time($__interval), "room" fill(none)""",
            alias="room $tag_room",
        ),
        description=description,
        unit=unit,
        interval=SENSOR_EVERY,
    )
