"""The test city and month of the KPI report tests: inventory, calendars, scripted outages,
and the arithmetic on them that the expected figures come from (never the report's code)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from gateway.alerts.rules import load_rules
from simulators.history.scenario import HistoryScenario

ZONE = ZoneInfo("Europe/Riga")
FIRST, END = date(2026, 11, 1), date(2026, 12, 1)  # November: 30 days, EET (UTC+2) throughout
HOUR = 3600
OPENING = {
    "tue": "10:00-18:00",
    "wed": "10:00-18:00",
    "thu": "10:00-18:00",
    "fri": "10:00-18:00",
    "sat": "10:00-17:00",
    "sun": "10:00-17:00",
}  # closed Mondays
HOLIDAY = (date(2026, 11, 16), date(2026, 11, 17))  # school-b only, inclusive


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def event(kind: str, start: str, end: str, site: str = "", device: str = "") -> dict[str, str]:
    """A scenario event from local-free UTC times like 2026-11-10T08."""
    out = {"kind": kind, "from": f"{start}:00:00Z", "to": f"{end}:00:00Z"}
    return out | ({"site": site} if site else {}) | ({"device": device} if device else {})


EVENTS = [
    # school-a: the uplink is down 2 h
    event("uplink_down", "2026-11-10T08", "2026-11-10T10", "school-a"),
    # school-b: 4 h down inside its holiday (not counted), 1 h on a school day
    event("uplink_down", "2026-11-16T10", "2026-11-16T14", "school-b"),
    event("uplink_down", "2026-11-25T10", "2026-11-25T11", "school-b"),
    # edumon itself is down 6 h: unknown for everyone
    event("edumon_down", "2026-11-20T00", "2026-11-20T06"),
    # an exhibit offline 4 h in opening hours (Thu 11:00-15:00 local), another one overnight
    event("device_offline", "2026-11-12T09", "2026-11-12T13", "vizium", "viz-lightning"),
    event("device_offline", "2026-11-13T17", "2026-11-14T07", "vizium", "viz-gyro"),
    # still offline when the period ends (after closing time): an open incident
    event("device_offline", "2026-11-30T20", "2026-12-01T02", "vizium", "viz-bridge"),
    # one classroom's access point is off for 2 days: that room is not healthy
    event("device_offline", "2026-11-03T00", "2026-11-05T00", "school-a", "a-ap-102"),
    # a classroom sensor says nothing for 12 h
    event("sensor_silent", "2026-11-05T00", "2026-11-05T12", "school-a", "a-env-101"),
]

CONFIG = """
influxdb: {{url: "{url}", database: edumon, timeout_s: 30}}
service: {{state_dir: "{state}"}}
credentials:
  snmp:
    sim: {{version: 2c, community_env: KPI_TEST_COMMUNITY}}
reports:
  timezone: Europe/Riga
  max_sample_gap_s: 3700
  resolution_s: 300
  opening_hours: {opening}
  holidays:
    - {{name: Local holiday, from: 2026-11-16, to: 2026-11-17, sites: [school-b]}}
  healthy_wifi: {{max_channel_util_pct: 95, max_retry_pct: 20, max_noise_dbm: -80, min_healthy_share_pct: 95}}
  sensor_interval_s: 600
  open_data: {{title: Test city school network KPIs, publisher: Test city, licence: CC-BY-4.0,
              base_url: "https://data.test-city.example/kpi", contact_email: it@test-city.example}}
sites:
  - id: school-a
    name: School A
    devices:
      - {{kind: switch, id: a-core, role: core, address: 127.0.0.1, credentials: sim}}
      - {{kind: access_point, id: a-ap-101, room: "101"}}
      - {{kind: access_point, id: a-ap-102, room: "102"}}
      - {{kind: lorawan_sensor, id: a-env-101, dev_eui: "70b3d57ed0050101", room: "101"}}
      - {{kind: probe_target, id: a-gw4, address: 127.0.0.1, methods: [icmp, tcp], tcp_port: 443}}
      - {{kind: probe_target, id: a-gw6, address: "::1", methods: [icmp]}}
  - id: school-b
    name: School B
    devices:
      - {{kind: switch, id: b-core, role: core, address: 127.0.0.1, credentials: sim}}
      - {{kind: access_point, id: b-ap-201, room: "201"}}
      - {{kind: lorawan_sensor, id: b-env-201, dev_eui: "70b3d57ed0050102", room: "201"}}
      - {{kind: probe_target, id: b-gw4, address: 127.0.0.1, methods: [icmp]}}
  - id: vizium
    name: Science centre
    kind: science_centre
    devices:
      - {{kind: switch, id: viz-core, role: core, address: 127.0.0.1, credentials: sim}}
      - {{kind: exhibit, id: viz-lightning, zone: electricity}}
      - {{kind: exhibit, id: viz-gyro, zone: mechanics}}
      - {{kind: exhibit, id: viz-bridge, zone: mechanics}}
      - {{kind: probe_target, id: viz-web, address: 127.0.0.1, methods: [tcp], tcp_port: 443}}
"""


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), ZONE)


PERIOD_START, PERIOD_END = local_midnight(FIRST), local_midnight(END)
SCENARIO = HistoryScenario.model_validate(
    {
        "start": PERIOD_START.isoformat(),
        "end": PERIOD_END.isoformat(),
        "step_s": 900,
        "snmp_step_s": 3600,
        "sensor_interval_s": 600,
        "uplink_mbps": {"b-core": 1000},
        "events": EVENTS,
    }
)


def _on_tick(moment: int) -> int:
    """The engine decides on the generator's ticks: the first tick at or after `moment`."""
    first, tick = SCENARIO.first, SCENARIO.tick_s
    return first + -(-(moment - first) // tick) * tick


def expected_incidents() -> list[tuple[str, str, int, int | None]]:
    """(alertname, site, fired at, resolved at or None if open at the period's end) for each
    scripted outage, from the rules' `for`, `keep_firing_for` and `absent` on the tick grid.
    Uplinks are polled on the hour and the outages start and end on the hour; the alerts of
    what is behind a downed uplink (probes, optics) belong to its incident."""
    rules = {rule.name: rule for rule in load_rules()}  # the pack the generator runs
    exhibits = {"viz-lightning", "viz-gyro", "viz-bridge"}
    found = []
    for event in SCENARIO.events:
        start, end = event.seconds
        if event.kind == "sensor_silent":
            rule = rules["SensorSilent"]
            assert rule.absent is not None
            fired = _on_tick(start - SCENARIO.sensor_interval_s + int(rule.absent))
            resolved = end  # its next uplink, at the end of the silence
        elif event.kind in ("uplink_down", "device_offline"):
            name = (
                "UplinkDown"
                if event.kind == "uplink_down"
                else ("ExhibitOffline" if event.device in exhibits else "AccessPointDown")
            )
            rule = rules[name]
            fired = _on_tick(start + int(rule.for_))
            resolved = _on_tick(end + int(rule.keep_firing_for))
        else:
            continue
        open_at_end = resolved > SCENARIO.last
        found.append((rule.name, event.site or "", fired, None if open_at_end else resolved))
    return found


def hours(
    kind: str,
    site: str | None = None,
    device: str | None = None,
    within: tuple[datetime, datetime] = (PERIOD_START, PERIOD_END),
) -> float:
    """Hours of the scenario's events of a kind (for a site / device) inside `within`."""
    total = 0.0
    for e in SCENARIO.events:
        if e.kind == kind and site in (None, e.site) and device in (None, e.device):
            start, end = max(e.start, within[0]), min(e.end, within[1])
            total += max(0.0, (end - start).total_seconds() / HOUR)
    return total


def days() -> list[date]:
    return [FIRST + timedelta(n) for n in range((END - FIRST).days)]


def opening_windows() -> list[tuple[datetime, datetime]]:
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    out = []
    for day in days():
        text = OPENING.get(names[day.weekday()])
        if text:
            a, b = (
                datetime.combine(day, datetime.strptime(x, "%H:%M").time(), ZONE)
                for x in text.split("-")
            )
            out.append((a, b))
    return out
