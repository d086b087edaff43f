"""`edumon demo fault` on a running `edumon demo` (the real stack, the example city's
simulators and the service, as one child process), moved to free ports: a port down on
vsk-1-core is attributed to vsk-1-core and pages UplinkDown in the demo's Alertmanager, an
exhibit crash pages ExhibitOffline and `edumon status` stops saying "all up", and `clear`
resolves both; then an aggregation switch of the city tier fails: one page, for it, and the
schools behind it held. Only the holds of those two rules are shortened (to 1 s), and the poll
interval (to 10 s), so the test need not wait minutes."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.devstack.child_server import free_port
from gateway.devstack.demo_control import active_faults
from tests.alert_rules import rules_with
from tests.netsnmp import free_udp_port
from tests.processes import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CITY = REPO / "examples" / "city.yaml"
SECRETS = {
    name: secrets.token_urlsafe(12)
    for name in ("EDUMON_SNMP_COMMUNITY", "EDUMON_SNMP_AUTH", "EDUMON_SNMP_PRIV")
}


def city_on_free_ports(tmp_path: Path) -> tuple[Path, int]:
    """The example city with every port it names moved to a free one; (config, HTTP port)."""
    text = CITY.read_text(encoding="utf-8")
    http = free_port()
    text = text.replace("http_listen: 127.0.0.1:9108", f"http_listen: 127.0.0.1:{http}")
    text = text.replace("trap_listen: 127.0.0.1:10162", f"trap_listen: 127.0.0.1:{free_udp_port()}")
    text = text.replace("tcp_port: 18443", f"tcp_port: {free_port()}")
    text = text.replace("codec_dir: codecs", f"codec_dir: {CITY.parent / 'codecs'}")
    text = text.replace("  interval_s: 60\n", "  interval_s: 10\n", 1)  # the snmp section's
    text = text.replace("  discovery_interval_s: 60 ", "  discovery_interval_s: 10 ", 1)

    def free_switch_port(match: re.Match[str]) -> str:
        host = "::1" if match.group(1) == "::1" else match.group(1)
        return f"{match.group(0).rsplit('port:', 1)[0]}port: {free_udp_port(host)}"

    text = re.sub(r'address: "?([0-9a-f.:]+)"?, port: \d+', free_switch_port, text)
    text = re.sub(
        r"address: (127\.0\.0\.142)\n(\s+)port: \d+",
        lambda m: f"address: {m.group(1)}\n{m.group(2)}port: {free_udp_port(m.group(1))}",
        text,
    )
    rules = rules_with(
        tmp_path / "rules.yaml",
        {"UplinkDown": {"keep_firing_for": "1s"}, "ExhibitOffline": {"keep_firing_for": "1s"}},
    )
    text += f"alerts:\n  rules_file: {rules}\n"
    config = tmp_path / "city.yaml"
    config.write_text(text, encoding="utf-8")
    return config, http


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def wait_for(what: str, check: Callable[[], bool], within: float) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > within:
            pytest.fail(f"{what}: not within {within} s")
        time.sleep(0.2)
    return time.monotonic() - started


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Path, str, str, str]]:
    """A running `edumon demo`: (state dir, edumon's URL, Alertmanager's, InfluxDB's)."""
    config, http = city_on_free_ports(tmp_path)
    state = tmp_path / "state"
    ports = {name: free_port() for name in ("influxdb", "mosquitto", "alertmanager")}
    (state / "stack").mkdir(parents=True)
    (state / "stack" / "ports.json").write_text(json.dumps(ports))
    env = {**os.environ, **SECRETS, "PYTHONPATH": str(REPO)}
    log = (tmp_path / "demo.log").open("w")
    command = [sys.executable, "-m", "gateway.cli", "demo", "-c", str(config)]
    child = subprocess.Popen(
        [*command, "--state-dir", str(state)], env=env, stdout=log, stderr=log, cwd=tmp_path
    )
    url = f"http://127.0.0.1:{http}"
    try:
        yield (
            state,
            url,
            f"http://127.0.0.1:{ports['alertmanager']}",
            f"http://127.0.0.1:{ports['influxdb']}",
        )
    finally:
        child.terminate()
        child.wait(60)
        log.close()
        print((tmp_path / "demo.log").read_text()[-4000:])


def polled(url: str, device: str) -> bool:
    try:
        status = get_json(f"{url}/status")
    except OSError:
        return False
    return any(p["device"] == device for p in status["profiles"])


def alert_in(alertmanager: str, name: str, device_label: str, device: str) -> bool:
    alerts = get_json(f"{alertmanager}/api/v2/alerts")
    return any(
        a["labels"].get("alertname") == name and a["labels"].get(device_label) == device
        for a in alerts
    )


def traps_of(influxdb: str, trap: str) -> set[str]:
    query = f'SELECT "trap_oid" FROM snmp_trap WHERE "trap" = \'{trap}\' GROUP BY "device"'
    found = get_json(f"{influxdb}/query?db=edumon&q={urllib.parse.quote(query)}")
    series = found["results"][0].get("series", [])
    return {s["tags"]["device"] for s in series}


def status_text(url: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["status", "--url", url]) == 0
    return capsys.readouterr().out


def fault(state: Path, *words: str) -> None:
    assert main(["demo", "fault", *words, "--state-dir", str(state)]) == 0


def test_faults_in_the_running_demo_page_and_resolve(
    demo: tuple[Path, str, str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    state, url, alertmanager, influxdb = demo
    started = wait_for("vsk-1-core polled", lambda: polled(url, "vsk-1-core"), within=120)
    with capsys.disabled():
        print(f"demo up and vsk-1-core polled after {started:.1f} s")
    wait_for("all exhibits up", lambda: "all 10 up" in status_text(url, capsys), within=30)

    fault(state, "port-down", "--target", "vsk-1-core")  # returns once the demo applied it
    took = wait_for(
        "UplinkDown of vsk-1-core in Alertmanager",
        lambda: alert_in(alertmanager, "UplinkDown", "device", "vsk-1-core"),
        within=15,
    )
    with capsys.disabled():
        print(f"port-down -> UplinkDown in Alertmanager: {took:.1f} s")
    fault(state, "exhibit-crash")  # the default target: vizium-lightning
    assert active_faults(state) == [
        ("port-down", "vsk-1-core"),
        ("exhibit-crash", "vizium-lightning"),
    ]
    took = wait_for(
        "ExhibitOffline of vizium-lightning in Alertmanager",
        lambda: alert_in(alertmanager, "ExhibitOffline", "exhibit", "vizium-lightning"),
        within=15,
    )
    with capsys.disabled():
        print(f"exhibit-crash -> ExhibitOffline in Alertmanager: {took:.1f} s")
    wait_for("the linkDown trap stored", lambda: bool(traps_of(influxdb, "linkDown")), 10)
    assert traps_of(influxdb, "linkDown") == {"vsk-1-core"}  # not vizium-core, not unknown
    text = status_text(url, capsys)
    assert "all 10 up" not in text
    assert "Exhibits OFFLINE (1 of 10): vizium-lightning" in text
    assert (
        "Sites: " in text and "down: vsk-1" in text and re.search(r"\bEES?T\b", text)
    )  # Europe/Riga

    fault(state, "clear")
    assert active_faults(state) == []
    for name, label, device in (
        ("UplinkDown", "device", "vsk-1-core"),
        ("ExhibitOffline", "exhibit", "vizium-lightning"),
    ):
        wait_for(
            f"{name} resolved",
            lambda: not alert_in(alertmanager, name, label, device),  # noqa: B023
            within=20,
        )
    wait_for("all exhibits up", lambda: "all 10 up" in status_text(url, capsys), within=20)

    log = tmp_path / "demo.log"  # the banner, then the first round's profiles in one line
    assert "edumon demo fault port-down --target vsk-1-core" in log.read_text()
    assert "on purpose" in log.read_text()
    # once every switch had its first poll: jittered across the example's 60 s interval
    wait_for(
        "the profiles summed up", lambda: "SNMP profiles: 46 switches: " in log.read_text(), 75
    )
    assert "no profile matches" not in log.read_text()  # each device's choice: debug only
    assert "/topology" in log.read_text()  # the banner names the map
    assert "edumon demo fault switch-fail --target city-agg-1" in log.read_text()

    aggregation_switch_fails(state, url, alertmanager, capsys)


def aggregation_switch_fails(
    state: Path, url: str, alertmanager: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The city tier: city-agg-1 dies, and the schools only it joins to the city core with it
    (vsk-1, vsk-3, ...; vvg-1 is dual-homed): one page, for city-agg-1; the schools held."""

    def held() -> set[str]:
        failed = get_json(f"{url}/status")["failed_elements"]
        return {d for e in failed if e["element"] == "city-agg-1" for d in e["shadowed"]}

    def learned(pairs: set[frozenset[str]]) -> bool:
        links = get_json(f"{url}/topology")["links"]
        return pairs <= {frozenset((k["a"], k["b"])) for k in links}

    wiring = {
        frozenset(pair)
        for pair in (
            ("city-agg-1", "city-core-1"),
            ("city-agg-1", "city-core-2"),
            ("vsk-1-core", "city-agg-1"),
            ("vsk-3-core", "city-agg-1"),
            ("vsk-1-core", "vsk-1-access-1"),
            ("vsk-3-core", "vsk-3-access-1"),
            ("vvg-1-core", "city-agg-1"),
            ("vvg-1-core", "city-agg-2"),
        )
    }
    wait_for("the city tier's links learned", lambda: learned(wiring), within=30)
    fault(state, "switch-fail", "--target", "city-agg-1")
    took = wait_for(
        "CoreSwitchUnreachable of city-agg-1 in Alertmanager",
        lambda: alert_in(alertmanager, "CoreSwitchUnreachable", "device", "city-agg-1"),
        within=40,
    )
    wait_for("vsk-1 and vsk-3 held", lambda: {"vsk-1-core", "vsk-3-core"} <= held(), within=40)
    with capsys.disabled():
        print(f"switch-fail city-agg-1 -> its page in Alertmanager: {took:.1f} s")
    time.sleep(2)  # what edumon would have sent with the holds' verdicts is in Alertmanager
    behind = held()
    assert "vvg-1-core" not in behind and not {d for d in behind if d.startswith("vsk-2")}
    pages = {
        (a["labels"]["alertname"], a["labels"].get("device"))
        for a in get_json(f"{alertmanager}/api/v2/alerts")
        if a["labels"].get("severity") == "page" and a["status"]["state"] == "active"
    }
    assert ("CoreSwitchUnreachable", "city-agg-1") in pages
    assert not {p for p in pages if p[1] in behind or p[1] == "vvg-1-core"}
    text = status_text(url, capsys)
    assert "Failed city-agg-1: " in text and "schools) held: " in text
    fault(state, "clear")


def test_a_fault_without_a_running_demo_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    code = main(["demo", "fault", "port-down", "--state-dir", str(tmp_path)])
    assert code == 1 and time.monotonic() - started >= 5.0
    assert "no demo answered" in capsys.readouterr().err
