"""The city as one network: a map of the switches and the links between them (the topology's
`link` measurement, switch-to-switch links being those with both ends' ports), PoE per switch
(the `poe` measurement's budget points) and, per school, which port each inventory device is
on (`port_feed`) and what each PoE port delivers."""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, nodegraph
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as model

from dashboards.common import (
    CURRENT,
    DATASOURCE,
    NETWORK,
    NOW,
    SCHOOL,
    SNMP_EVERY,
    UP_DOWN,
    Column,
    InfluxQL,
    link,
    new_dashboard,
    rule_steps,
    table,
    tag_variable,
    timeseries,
    two_states,
)
from dashboards.limits import Limits

UID = NETWORK
SITE = "\"site\" = '$site'"
# a link between two switches names both ends' ports; one to an AP or exhibit (learnt from
# a forwarding table) has no port on the far end
BETWEEN_SWITCHES = "\"peer_ifname\" != ''"
SWITCHES = f"""SELECT "up" AS "color", "device"::tag AS "id", "site"::tag AS "subtitle"
    FROM (SELECT last("up") AS "up" FROM "device" WHERE {NOW} GROUP BY "site", "device")"""
LINKS = f"""SELECT "in_util_pct" AS "mainstat", "out_util_pct" AS "secondarystat",
    "device"::tag AS "source", "peer"::tag AS "target", "ifname"::tag AS "detail__port",
    "peer_ifname"::tag AS "detail__peer_port"
    FROM (SELECT last("in_util_pct") AS "in_util_pct", last("out_util_pct") AS "out_util_pct"
      FROM "link" WHERE {BETWEEN_SWITCHES} AND {NOW}
      GROUP BY "device", "ifname", "peer", "peer_ifname")"""
# the node graph needs an id per edge: the row's index in the links' frame
EDGE_IDS = model.DataTransformerConfig(
    id_val="calculateField",
    filter_val=model.MatcherConfig(id_val="byRefId", options="B"),
    options={"mode": "index", "alias": "id", "replaceFields": False},
)


def city_map() -> nodegraph.Panel:
    state = [
        model.DynamicConfigValue(id_val="mappings", value=[m.to_json() for m in UP_DOWN]),
        model.DynamicConfigValue(id_val="color", value={"mode": "thresholds"}),
    ]
    utilisation = [model.DynamicConfigValue(id_val="unit", value="percent")]
    return (
        nodegraph.Panel()
        .title("City network map")
        .description(
            "Every switch as a node, green while its last SNMP poll (15 min) was answered, red "
            "when not; every link between two switches that discovery learnt (LLDP/CDP) as an "
            "edge, with its inbound utilisation (%) and outbound below. Worry about a red node "
            "(the schools behind it are cut off unless they have a second path) and an edge "
            "near the UplinkSaturated limit."
        )
        .datasource(DATASOURCE)
        .targets([InfluxQL(SWITCHES, table=True), InfluxQL(LINKS, ref_id="B", table=True)])
        .transformations([EDGE_IDS])
        .override_by_name("color", state)
        .override_by_name("mainstat", utilisation)
        .override_by_name("secondarystat", utilisation)
        .span(24)
        .height(16)
    )


def dashboard(limits: Limits) -> dash.Dashboard:
    budget = limits.poe_budget_high
    budget_steps = rule_steps(budget)
    return (
        new_dashboard(
            UID, "edumon / Network map and PoE", links=[link("School detail", SCHOOL, site="$site")]
        )
        .with_variable(tag_variable("site", "School", "poe"))
        .with_row(dash.Row("The city's network"))
        .with_panel(city_map())
        .with_row(dash.Row("PoE per switch"))
        .with_panel(
            bargauge.Panel()
            .title("PoE budget used per switch")
            .description(
                "Each switch's PoE consumption as a share of its power supply's budget (%), by "
                f"its last discovery round. PoeBudgetHigh fires above {budget.fire:g} % for 10 "
                f"minutes (red; clears under {budget.clear:g} %): the switch may soon deny "
                "power to access points and exhibits."
            )
            .datasource(DATASOURCE)
            .with_target(
                InfluxQL(
                    f"""SELECT last("used_pct") FROM "poe" WHERE "ifname" = '' AND {CURRENT}
                    GROUP BY "device" """,
                    alias="$tag_device",
                )
            )
            .unit("percent")
            .min(0)
            .max(100)
            .thresholds(budget_steps)
            .span(12)
            .height(10)
        )
        .with_panel(
            timeseries(
                "PoE power and budget per switch",
                InfluxQL(
                    """SELECT mean("power_w") AS "power", mean("budget_w") AS "budget"
                    FROM "poe" WHERE "ifname" = '' AND $timeFilter
                    GROUP BY time($__interval), "device" fill(none)""",
                    alias="$tag_device $col",
                ),
                description="PoE power drawn by each switch's ports and its supply's budget "
                "(W). Worry when the power line climbs towards the budget line.",
                unit="watt",
                interval=SNMP_EVERY,
            )
        )
        .with_row(dash.Row("Ports of the school"))
        .with_panel(
            table(
                "Port to device",
                InfluxQL(
                    f"""SELECT last("poe_status") AS "poe_status", last("power_w") AS "power_w",
                      last("poe_fault") AS "poe_fault"
                    FROM "port_feed" WHERE {SITE} AND {CURRENT}
                    GROUP BY "device", "ifname", "feeds", "feeds_kind" """,
                    table=True,
                ),
                description="Which switch port each of the school's access points, exhibits "
                "and other inventory devices is plugged into (found by its MAC in the "
                "switches' forwarding tables), with the PoE state and power (W) of that port. "
                "Worry about a PoE fault (red): the device behind it loses power and "
                "PoePortFault fires.",
                columns=[
                    Column("poe_status", mappings=POE_STATUS),
                    Column("power_w", unit="watt"),
                    Column("poe_fault", mappings=FAULT),
                ],
                span=12,
                height=10,
            )
        )
        .with_panel(
            table(
                "PoE per port",
                InfluxQL(
                    f"""SELECT last("status") AS "status", last("power_w") AS "power_w",
                      last("class") AS "class"
                    FROM "poe" WHERE {SITE} AND "ifname" != '' AND {CURRENT}
                    GROUP BY "device", "ifname" """,
                    table=True,
                ),
                description="Each PoE port's detection status (deliveringPower is normal; "
                "fault or otherFault raises PoePortFault for the device it feeds), the power it "
                "delivers (W) and the device's PoE class.",
                columns=[
                    Column("status", mappings=POE_STATUS),
                    Column("power_w", unit="watt"),
                ],
                span=12,
                height=10,
            )
        )
    )


FAULT = two_states(("fault", "red"), ("ok", "green"))
POE_STATUS: list[model.ValueMapping] = [
    model.ValueMap(
        options={
            status: model.ValueMappingResult(text=status, color=colour)
            for status, colour in (
                ("deliveringPower", "green"),
                ("searching", "blue"),
                ("disabled", "text"),
                ("fault", "red"),
                ("otherFault", "red"),
            )
        }
    )
]
