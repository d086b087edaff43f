"""Every panel query and every variable query of every dashboard, run through InfluxQL
`/query` against a real InfluxDB filled by the real service from the simulators.

Variables are substituted the way Grafana does for the InfluxDB data source: `$timeFilter`
for the evaluated range, `$__interval` for that range (here the data source's 10 s minimum,
as Grafana picks for a live 15-minute view), single values as they are and multi-value "All"
selections as an escaped regex alternation. Each dashboard is evaluated for the last 15
minutes, the KPI dashboard over its default 400 days (KPI points are stamped at the period's
start). A query that errors or returns no row with a value fails; so does a panel whose
result lacks its expected columns and group tags.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from collectors.lorawan.config import LorawanSensor, LorawanSettings
from collectors.snmp.config import Switch
from dashboards.build import DATASOURCE_PROVISIONING, build, dashboard_models
from dashboards.gazetteer import GAZETTEER_FILE
from gateway.config import EdumonConfig
from gateway.devstack.servers import InfluxDB1, Mosquitto, ServerError
from tests.dashboards.simulated_city import (
    CRASHED,
    EXAMPLE_CITY,
    FLAPPED,
    SITES,
    fill_from_simulators,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DB = "dashboards"
LIVE_RANGE = "15m"
DEFAULT_INTERVAL = DATASOURCE_PROVISIONING["datasources"][0]["jsonData"]["timeInterval"]
OWN_RANGE = {"edumon-kpi"}  # KPI points are stamped at their period's start
# the school detail shows the school whose port flapped; the network dashboard the one whose
# APs and exhibits are on PoE ports
PREFERRED = {"site": "vsk-5", "edumon-network/site": "vizium"}
ERRORS = ("in_errors", "out_errors", "in_discards", "out_discards")
PROBE_TAGS = ("target", "method", "family")
OPTICS_ALARMS = ("low_alarm", "high_alarm")

# "uid / panel title[ / refId B...]" -> (columns, group-by tags) each query must return
EXPECTED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "edumon-city / Schools by health (probe answers, last 15 min)": (
        ("time", "health_pct"),
        ("site",),
    ),
    "edumon-city / Alerts firing now": (
        ("time", "firing", "value", "alertname", "severity", "team", "site", "device"),
        (),
    ),
    "edumon-city / Switches answering SNMP": (("time", "answering"), ()),
    "edumon-city / Switches answering SNMP / B": (("time", "polled"), ()),
    "edumon-city / Switches not answering": (("time", "count"), ()),
    "edumon-city / Uplinks down now": (("time", "count"), ()),
    "edumon-city / Firing alerts by severity": (("time", "count"), ("severity",)),
    "edumon-city / Availability per school (probe answers)": (("time", "mean"), ("site",)),
    "edumon-city / Top 10 uplinks by utilisation": (
        ("time", "in_util_pct", "out_util_pct"),
        ("site", "device", "ifname"),
    ),
    "edumon-school / Switches": (
        ("time", "up", "uptime_s", "cpu_pct", "temp_c", "poll_ms"),
        ("device",),
    ),
    "edumon-school / Port status and errors now": (
        ("time", "oper_up", "admin_up", "speed_mbps", *ERRORS),
        ("device", "ifname"),
    ),
    "edumon-school / Uplink traffic in/out": (("time", "in", "out"), ("device", "ifname")),
    "edumon-school / Uplink utilisation": (("time", "in", "out"), ("device", "ifname")),
    "edumon-school / Errors and discards per port": (("time", *ERRORS), ("device", "ifname")),
    "edumon-school / SNMP traps": (("time", "trap_oid", "if_index", "device", "trap"), ()),
    "edumon-school / Optics receive and transmit power": (
        ("time", "rx", "tx", *(f"{d}_{a}" for d in ("rx", "tx") for a in OPTICS_ALARMS)),
        ("device", "ifname"),
    ),
    "edumon-school / Gateway round trip (IPv4 and IPv6)": (("time", "mean"), PROBE_TAGS),
    "edumon-school / Gateway probe loss (IPv4 and IPv6)": (("time", "mean"), PROBE_TAGS),
    "edumon-school / Access points": (
        ("time", "clients", "channel_util_pct", "retry_pct"),
        ("ap", "room", "band"),
    ),
    "edumon-school / Classroom CO2": (("time", "mean"), ("room",)),
    "edumon-school / Classroom temperature": (("time", "mean"), ("room",)),
    "edumon-wifi / Clients connected now": (("time", "sum"), ()),
    "edumon-wifi / Mean channel utilisation": (("time", "mean"), ()),
    "edumon-wifi / Mean retries": (("time", "mean"), ()),
    "edumon-wifi / Clients per school": (("time", "sum"), ("site",)),
    "edumon-wifi / Channel utilisation per school and band": (("time", "mean"), ("site", "band")),
    "edumon-wifi / Retries per school": (("time", "mean"), ("site",)),
    "edumon-wifi / Noisiest rooms (mean noise floor)": (
        ("time", "noise_dbm", "site", "room", "ap"),
        (),
    ),
    "edumon-science / Exhibit status": (("time", "last"), ("exhibit",)),
    "edumon-science / Exhibit status history": (("time", "last"), ("exhibit",)),
    "edumon-science / Interactions per hour": (("time", "non_negative_derivative"), ("exhibit",)),
    "edumon-science / Faults (new errors reported)": (
        ("time", "non_negative_difference"),
        ("exhibit",),
    ),
    "edumon-science / Exhibit device temperature": (("time", "mean"), ("exhibit",)),
    "edumon-science / Exhibit device CPU": (("time", "mean"), ("exhibit",)),
    "edumon-science / Halls: CO2": (("time", "mean"), ("room",)),
    "edumon-kpi / Uplink availability (city)": (("time", "last"), ()),
    "edumon-kpi / Schools on 10G uplinks": (("time", "last"), ()),
    "edumon-kpi / Classrooms with healthy Wi-Fi": (("time", "last"), ()),
    "edumon-kpi / IPv6 reachability": (("time", "last"), ()),
    "edumon-kpi / Uplink availability per school (scale from 90 %)": (("time", "last"), ("site",)),
    "edumon-kpi / Every KPI per school": (("time", "value"), ("kpi", "site")),
    "edumon-kpi / City KPIs month by month": (("time", "value"), ("kpi",)),
    "edumon-service / Samples written per second": (("time", "samples_per_s"), ()),
    "edumon-service / Write latency (mean per report)": (("time", "mean"), ()),
    "edumon-service / Spool size": (("time", "spool_bytes"), ()),
    "edumon-service / Points waiting (spool, pipeline queue)": (("time", "spool", "queue"), ()),
    "edumon-service / New dead letters in the range": (("time", "spread"), ()),
    "edumon-service / Collector errors per interval": (("time", "sum"), ("collector",)),
    "edumon-service / Poll duration": (("time", "mean", "max"), ("collector",)),
    "edumon-service / Samples per interval by collector (polled collectors)": (
        ("time", "sum"),
        ("collector",),
    ),
    "edumon-service / LoRaWAN sensors: RSSI": (("time", "mean"), ("device",)),
    "edumon-service / LoRaWAN sensors: SNR": (("time", "mean"), ("device",)),
    "edumon-service / LoRaWAN sensors: frames lost": (
        ("time", "frames_lost", "f_cnt", "sf"),
        ("device", "gateway"),
    ),
    "edumon-network / City network map": (("time", "color", "id", "subtitle"), ()),
    "edumon-network / City network map / B": (
        (
            "time",
            "mainstat",
            "secondarystat",
            "source",
            "target",
            "detail__port",
            "detail__peer_port",
        ),
        (),
    ),
    "edumon-network / PoE budget used per switch": (("time", "last"), ("device",)),
    "edumon-network / PoE power and budget per switch": (
        ("time", "power", "budget"),
        ("device",),
    ),
    "edumon-network / Port to device": (
        ("time", "poe_status", "power_w", "poe_fault"),
        ("device", "ifname", "feeds", "feeds_kind"),
    ),
    "edumon-network / PoE per port": (
        ("time", "status", "power_w", "class"),
        ("device", "ifname"),
    ),
}


# panels whose value is a plain count, coloured neither good nor bad
NEUTRAL = {"edumon-city / Switches answering SNMP", "edumon-wifi / Clients connected now"}


def neutral(panel_key: str) -> bool:
    return any(panel_key.startswith(title) for title in NEUTRAL)


LONG_STANDING = ("LongStanding", "vsk-4")  # an alert that began 7 h ago, before the 6 h range


# (panel, shown value's name) -> its colour, where the city's faults make it not green
FAULTS = {
    ("edumon-city / Switches not answering", "count"): "red",  # vsk-5's access switch
    ("edumon-city / Firing alerts by severity", "page"): "red",
    ("edumon-city / Firing alerts by severity", "warning"): "orange",  # LONG_STANDING
    ("edumon-science / Exhibit status", CRASHED): "red",
}


@dataclass(frozen=True)
class City:
    db: InfluxDB1
    config: EdumonConfig
    variables: dict[str, dict[str, str]]  # dashboard uid -> variable -> substituted value

    def query(self, model: dict[str, Any], panel: dict[str, Any], target: dict[str, Any]) -> str:
        """A panel's query as Grafana would send it."""
        interval = max((panel.get("interval") or DEFAULT_INTERVAL, DEFAULT_INTERVAL), key=seconds)
        variables = self.variables[model["uid"]] | {"__interval": interval}
        return substitute(target["query"], variables, time_range(model))

    def series(self, uid: str, title: str) -> list[dict[str, Any]]:
        """The first query of a panel, as Grafana would run it."""
        model, panel, target = next(
            (m, p, t) for m, p, t in panel_targets() if (m["uid"], p["title"]) == (uid, title)
        )
        return series_of(self.db, self.query(model, panel, target))


@pytest.fixture(scope="module")
def city(
    influxdb: InfluxDB1, mosquitto: Mosquitto, tmp_path_factory: pytest.TempPathFactory
) -> City:
    config = fill_from_simulators(
        tmp_path_factory.mktemp("city"), influxdb, mosquitto, DB, seconds=24
    )
    name, site = LONG_STANDING
    began_ns = time.time_ns() - 7 * 3600 * 10**9
    influxdb.write(
        f"alert,alertname={name},severity=warning,team=network,tier=core,site={site},"
        f"device={site}-core firing=true,value=1 {began_ns}",
        db=DB,
    )
    variables = {
        model["uid"]: resolve_variables(influxdb, model, time_range(model))
        for model in dashboard_models()
    }
    return City(influxdb, config, variables)


def seconds(duration: str) -> float:
    number, unit = re.fullmatch(r"(\d+)([smhd])", duration).groups()  # type: ignore[union-attr]
    return int(number) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def time_range(model: dict[str, Any]) -> str:
    """Live 15 minutes; the KPI dashboard over its own default range."""
    if model["uid"] in OWN_RANGE:
        return str(model["time"]["from"]).removeprefix("now-")
    return LIVE_RANGE


def substitute(query: str, variables: dict[str, str], range_: str) -> str:
    query = query.replace("$timeFilter", f"time >= now() - {range_}")
    query = query.replace("$__interval", variables.get("__interval", DEFAULT_INTERVAL))
    for name in sorted(variables, key=len, reverse=True):
        query = query.replace(f"${name}", variables[name])
    assert not re.search(r"\$\{?[A-Za-z_]", query), f"unsubstituted variable in {query}"
    return query


def series_of(influxdb: InfluxDB1, query: str) -> list[dict[str, Any]]:
    result = influxdb.query(query, db=DB)["results"][0]
    series: list[dict[str, Any]] = result.get("series", [])
    return series


def resolve_variables(influxdb: InfluxDB1, model: dict[str, Any], range_: str) -> dict[str, str]:
    """Each variable's query, in order (later ones use earlier values), as Grafana loads them."""
    values: dict[str, str] = {}
    for variable in model.get("templating", {}).get("list", []):
        if variable["type"] == "datasource":
            continue  # the data source itself: the test's InfluxDB
        series = series_of(influxdb, substitute(variable["query"], values, range_))
        options = sorted(row[1] for s in series for row in s["values"])
        assert options, f"{model['uid']}: variable ${variable['name']} has no values"
        if variable.get("includeAll"):
            # Grafana escapes regex characters and the slash that ends an InfluxQL regex
            escaped = (re.escape(option).replace("/", r"\/") for option in options)
            values[variable["name"]] = "(" + "|".join(escaped) + ")"
        else:
            name = variable["name"]
            preferred = PREFERRED.get(f"{model['uid']}/{name}", PREFERRED.get(name))
            values[variable["name"]] = preferred if preferred in options else options[0]
    return values


def panel_targets() -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    for model in dashboard_models():
        for panel in model["panels"]:  # rows have no targets
            for target in panel.get("targets", []):
                yield model, panel, target


def key(model: dict[str, Any], panel: dict[str, Any], target: dict[str, Any]) -> str:
    ref = "" if target["refId"] == "A" else f" / {target['refId']}"
    return f"{model['uid']} / {panel['title']}{ref}"


def shown(panel: dict[str, Any], series: list[dict[str, Any]]) -> dict[str, object]:
    """What a stat, bar gauge or map shows: per series (named by its tags, else by its column)
    the last non-null value of each value column; with no row, the panel's noValue."""
    values: dict[str, object] = {}
    for s in series:
        tags = ",".join(s.get("tags", {}).values())
        for index, column in enumerate(s["columns"][1:], start=1):
            present = [row[index] for row in s["values"] if row[index] is not None]
            if present:
                values[tags or column] = present[-1]
    if not values and "noValue" in panel["fieldConfig"]["defaults"]:
        values["count"] = float(panel["fieldConfig"]["defaults"]["noValue"])
    return values


def colour(panel: dict[str, Any], name: str, value: object) -> str:
    """The colour Grafana gives a value: a value mapping's, else the last threshold step it
    reaches (an override by the value's name replaces the panel's steps)."""
    defaults = panel["fieldConfig"]["defaults"]
    for mapping in defaults.get("mappings", []):
        result = mapping["options"].get(str(value).lower())
        if result is not None:
            return str(result["color"])
    steps = defaults["thresholds"]["steps"]
    for override in panel["fieldConfig"].get("overrides", []):
        if override["matcher"] == {"id": "byName", "options": name}:
            steps = next(p["value"]["steps"] for p in override["properties"])
    assert isinstance(value, int | float), f"{panel['title']}: {name}={value!r} is no number"
    reached = [steps[0], *(step for step in steps[1:] if value >= step["value"])]
    return str(reached[-1]["color"])


def test_every_panel_has_expectations() -> None:
    assert {key(*found) for found in panel_targets()} == set(EXPECTED)


def test_every_query_returns_rows_with_the_expected_columns(city: City) -> None:
    failures = []
    for model, panel, target in panel_targets():
        name = key(model, panel, target)
        query = city.query(model, panel, target)
        columns, tags = EXPECTED[name]
        try:
            series = series_of(city.db, query)
        except ServerError as error:
            failures.append(f"{name}: {error}")
            continue
        has_values = any(
            value is not None for s in series for row in s["values"] for value in row[1:]
        )
        if not has_values and "noValue" not in panel["fieldConfig"]["defaults"]:
            failures.append(f"{name}: no rows with a value for {query}")
        for s in series:
            if tuple(s["columns"]) != columns or sorted(s.get("tags", {})) != sorted(tags):
                failures.append(f"{name}: got {s['columns']} by {s.get('tags')} for {query}")
                break
    assert not failures, "\n".join(failures)


def test_every_coloured_value_is_green_but_the_faults(city: City) -> None:
    """Each stat, bar gauge and map value, coloured by the panel's own thresholds and value
    mappings: green on the healthy part of the city, the faults' colours where they are."""
    expected = FAULTS
    got: dict[tuple[str, str], str] = {}
    for model, panel, target in panel_targets():
        if panel["type"] not in ("stat", "bargauge", "geomap"):
            continue
        name = key(model, panel, target)
        values = shown(panel, series_of(city.db, city.query(model, panel, target)))
        assert values, f"{name} shows nothing"
        for value_name, value in values.items():
            got[(name, value_name)] = colour(panel, value_name, value)
    want = {
        shown_key: expected.get(shown_key, "blue" if neutral(shown_key[0]) else "green")
        for shown_key in got
    }
    assert got == want, {k: v for k, v in got.items() if want[k] != v}
    assert set(expected) <= set(got)


def test_colours_follow_the_thresholds() -> None:
    panel = {
        "fieldConfig": {
            "defaults": {
                "thresholds": {"steps": [{"color": "green"}, {"value": 1, "color": "orange"}]}
            },
            "overrides": [
                {
                    "matcher": {"id": "byName", "options": "page"},
                    "properties": [
                        {
                            "id": "thresholds",
                            "value": {"steps": [{"color": "green"}, {"value": 1, "color": "red"}]},
                        }
                    ],
                }
            ],
        }
    }
    assert [colour(panel, "warning", v) for v in (0, 1, 5)] == ["green", "orange", "orange"]
    assert colour(panel, "page", 2) == "red" and colour(panel, "page", 0) == "green"


def test_the_map_finds_every_site_with_data_in_the_gazetteer(city: City, tmp_path: Path) -> None:
    build(tmp_path, EXAMPLE_CITY)
    entries = json.loads((tmp_path / "gazetteer" / GAZETTEER_FILE).read_text(encoding="utf-8"))
    health = city.series("edumon-city", "Schools by health (probe answers, last 15 min)")
    assert {s["tags"]["site"] for s in health} == set(SITES)
    assert set(SITES) <= {entry["key"] for entry in entries}


def test_panels_show_what_the_city_wrote(city: City) -> None:
    (alerts,) = city.series("edumon-city", "Alerts firing now")
    firing = {(row[3], row[6]) for row in alerts["values"]}  # alertname, site
    # vsk-1's core switch came back: its alert resolved and is not listed; the alert that
    # began before the time range is
    assert firing == {("SwitchUnreachable", "vsk-5"), ("ExhibitOffline", "vizium"), LONG_STANDING}
    (switches,) = city.series("edumon-city", "Switches answering SNMP")
    assert switches["values"][0][1] == len(list(city.config.devices("switch"))) - 1
    exhibits = city.series("edumon-science", "Exhibit status")
    assert {s["tags"]["exhibit"]: s["values"][0][1] for s in exhibits} == {
        device.id: device.id != CRASHED for _, device in city.config.devices("exhibit")
    }
    uplinks = city.series("edumon-city", "Top 10 uplinks by utilisation")
    assert uplinks and all(len(s["values"]) == 1 for s in uplinks)  # one row per uplink
    per_school = city.series("edumon-kpi", "Uplink availability per school (scale from 90 %)")
    # every site with an uplink, the science centre's too, as the KPI reporter computed them
    assert {s["tags"]["site"] for s in per_school} == {
        site.id for site, _ in city.config.devices("switch")
    }
    clients = city.series("edumon-wifi", "Clients per school")
    assert {s["tags"]["site"] for s in clients} == set(SITES)
    (traps,) = city.series("edumon-school", "SNMP traps")
    assert {row[4] for row in traps["values"]} >= {"linkDown", "linkUp"}  # FLAPPED's port
    ports = city.series("edumon-school", "Port status and errors now")
    assert {s["tags"]["ifname"] for s in ports if s["tags"]["device"] == FLAPPED[0]}


def test_the_network_dashboard_shows_the_city_network_and_vizium_s_ports(city: City) -> None:
    """The map's nodes are the polled switches, its edges the switch links discovery learnt
    (each school's core to the root site vsk-4's switches, access to core); VIZIUM's exhibits and APs each on a port of its switch,
    powered, with their switch's PoE budget."""
    (nodes,) = city.series("edumon-network", "City network map")
    switches = {device.id for _, device in city.config.devices("switch")}
    assert {row[2] for row in nodes["values"]} == switches
    model, found, target = next(
        (m, p, t)
        for m, p, t in panel_targets()
        if p["title"] == "City network map" and t["refId"] == "B"
    )
    (edges,) = series_of(city.db, city.query(model, found, target))
    ends = {frozenset(row[3:5]) for row in edges["values"]}
    for core in ("vsk-1-core", "vsk-5-core", "vizium-core"):  # to the root site's switches
        assert any(core in end and min(end - {core}).startswith("vsk-4-") for end in ends)
    assert frozenset(("vsk-1-access-1", "vsk-1-core")) in ends
    ports = city.series("edumon-network", "Port to device")
    fed = {s["tags"]["feeds"]: s["tags"]["device"] for s in ports}
    powered = {d.id for site, d in city.config.devices("exhibit") if site.id == "vizium"}
    assert powered and {fed.get(exhibit) for exhibit in powered} == {"vizium-core"}
    budgets = city.series("edumon-network", "PoE budget used per switch")
    assert "vizium-core" in {s["tags"]["device"] for s in budgets}


def test_the_school_dashboard_shows_controller_wifi_and_vendor_codec_co2(city: City) -> None:
    """The school's access points that its Wi-Fi controller reports over SNMP are in its access
    point table, and its sensors decoded by their vendor's codec (examples/codecs) are on its
    CO2 panel, beside edumon's own devices."""
    controllers = [
        device
        for site, device in city.config.devices_of(Switch)
        if site.id == PREFERRED["site"] and device.wifi is not None
    ]
    from_controller = {ap for device in controllers for ap in device.wifi.aps}
    shown_aps = {s["tags"]["ap"] for s in city.series("edumon-school", "Access points")}
    assert from_controller and from_controller < shown_aps  # the MQTT ones are there too
    vendor = city.config.settings_of("lorawan", LorawanSettings).models
    rooms = {
        device.room
        for site, device in city.config.devices_of(LorawanSensor)
        if site.id == PREFERRED["site"] and device.profile in vendor
    }
    shown_rooms = {s["tags"]["room"] for s in city.series("edumon-school", "Classroom CO2")}
    assert rooms and rooms <= shown_rooms
