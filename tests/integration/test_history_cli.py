"""`edumon sim history`: a day of one school's history written into a real influxd."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.devstack.servers import InfluxDB1

pytestmark = pytest.mark.integration

CONFIG = """
influxdb: {{url: "{url}", database: history}}
service: {{state_dir: "{state}"}}
credentials:
  snmp:
    sim: {{version: 2c, community_env: HISTORY_TEST_COMMUNITY}}
sites:
  - id: s1
    name: School 1
    devices:
      - {{kind: switch, id: s1-core, role: core, address: 127.0.0.1, credentials: sim}}
      - {{kind: access_point, id: s1-ap, room: "1"}}
      - {{kind: probe_target, id: s1-gw, address: 127.0.0.1, methods: [icmp]}}
"""
SCENARIO = """
start: 2026-11-02T00:00:00Z
end: 2026-11-03T00:00:00Z
events:
  - {kind: uplink_down, site: s1, from: 2026-11-02T10:00:00Z, to: 2026-11-02T11:30:00Z}
"""


def ns(moment: str) -> int:
    return int(datetime.fromisoformat(moment).timestamp()) * 10**9


def test_a_day_with_an_outage(
    influxdb: InfluxDB1,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    influxdb.create_database("history")
    config, scenario = tmp_path / "city.yaml", tmp_path / "scenario.yaml"
    config.write_text(CONFIG.format(url=influxdb.url, state=tmp_path / "state"))
    scenario.write_text(SCENARIO)
    monkeypatch.setenv("HISTORY_TEST_COMMUNITY", "fake-community-for-tests")
    assert main(["sim", "history", "--config", str(config), "--scenario", str(scenario)]) == 0
    ticks = 24 * 4 + 1  # every 15 minutes, both ends
    assert f"{ticks} collector" in capsys.readouterr().out
    down = influxdb.query('SELECT count("up") FROM "probe" WHERE "up" = false', db="history")[
        "results"
    ][0]["series"][0]["values"][0][1]
    assert down == 6  # 10:00 to 11:15, every 15 minutes
    oper = influxdb.query(
        "SELECT \"oper_up\" FROM interface WHERE role='uplink' AND ifname='Te1/0/1'",
        db="history",
    )["results"][0]["series"][0]["values"]
    assert [v[1] for v in oper].count(False) == 2  # the hourly polls at 10:00 and 11:00
    # the real alert engine: fired at the poll that saw the uplink down, resolved 5 minutes
    # (keep_firing_for) after the poll that saw it back; the probes alerted meanwhile. The dark
    # fibre's receiver reads the agent's -40 dBm floor, which is no reading (not a low one), so
    # no OpticalRxLow joins the UplinkDown page
    uplink = influxdb.query(
        """SELECT "firing" FROM "alert" WHERE "alertname" = 'UplinkDown'""", db="history"
    )["results"][0]["series"][0]["values"]
    assert uplink == [[ns("2026-11-02T10:00:00Z"), True], [ns("2026-11-02T12:05:00Z"), False]]
    names = influxdb.query('SHOW TAG VALUES FROM "alert" WITH KEY = "alertname"', db="history")
    assert {v[1] for v in names["results"][0]["series"][0]["values"]} == {
        "UplinkDown",
        "TargetUnreachable",
    }
