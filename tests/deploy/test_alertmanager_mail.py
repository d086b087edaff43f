"""The shipped alertmanager.yml run by a real Alertmanager, mailing a real SMTP server
(aiosmtpd, a child process): one mail per notification, naming the site and linking the
runbook; the science centre's exhibit pages only while VIZIUM is open.

Alertmanager checks time intervals against its own clock, so the test keeps the shipped
opening hours and moves only their `location`: to a time zone where it is now well inside the
opening hours (the page is mailed) and to one where VIZIUM is now closed (it is not). Which
zones those are is computed here from examples/city.yaml's reports.opening_hours, and the
shipped intervals are checked to be those opening hours."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from gateway.alerts.rules import load_rules
from gateway.devstack.servers import DEFAULT_ALERTMANAGER_CONFIG, Alertmanager
from tests.dashboards.simulated_city import EXAMPLE_CITY
from tests.smtp import SmtpServer
from tests.unavailable import require

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SHIPPED: dict[str, Any] = yaml.safe_load(DEFAULT_ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
CITY: dict[str, Any] = yaml.safe_load(EXAMPLE_CITY.read_text(encoding="utf-8"))
SITE_NAMES = {site["id"]: site["name"] for site in CITY["sites"]}
RULES = {rule.name: rule for rule in load_rules()}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
GO_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MARGIN = dt.timedelta(minutes=15)  # from an opening or closing time, in either zone
NETWORK, SCIENCE = "network-oncall@ventspils.lv", "vizium-staff@ventspils.lv"


def opening_hours() -> dict[str, tuple[dt.time, dt.time]]:
    hours: dict[str, str] = CITY["reports"]["opening_hours"]
    return {
        day: (dt.time.fromisoformat(span[:5]), dt.time.fromisoformat(span[6:]))
        for day, span in hours.items()
    }


def is_open(local: dt.datetime) -> bool:
    """VIZIUM open at `local` with MARGIN to spare (closed: MARGIN away from opening too)."""
    span = opening_hours().get(DAYS[local.weekday()])
    if span is None:
        return False
    start, end = (dt.datetime.combine(local.date(), t, local.tzinfo) for t in span)
    return start + MARGIN <= local <= end - MARGIN


def is_closed(local: dt.datetime) -> bool:
    span = opening_hours().get(DAYS[local.weekday()])
    if span is None:
        return True
    start, end = (dt.datetime.combine(local.date(), t, local.tzinfo) for t in span)
    return local <= start - MARGIN or local >= end + MARGIN


def zone_where(condition: Any) -> str:
    """A fixed-offset zone where `condition(now there)` holds (some zone always has it)."""
    now = dt.datetime.now(dt.UTC)
    for hours in range(-12, 15):
        name = f"Etc/GMT{-hours:+d}" if hours else "Etc/UTC"  # Etc/GMT-3 is UTC+3
        if condition(now.astimezone(ZoneInfo(name))):
            return name
    raise AssertionError("no time zone found")


def test_shipped_time_intervals_are_the_opening_hours() -> None:
    (interval,) = [i for i in SHIPPED["time_intervals"] if i["name"] == "vizium-open"]
    shipped = {}
    for part in interval["time_intervals"]:
        assert part["location"] == CITY["reports"]["timezone"]
        (times,) = part["times"]
        span = (
            dt.time.fromisoformat(times["start_time"]),
            dt.time.fromisoformat(times["end_time"]),
        )
        for weekdays in part["weekdays"]:
            first, _, last = weekdays.partition(":")
            days = GO_DAYS[GO_DAYS.index(first) : GO_DAYS.index(last or first) + 1]
            shipped |= {DAYS[GO_DAYS.index(day)]: span for day in days}
    assert shipped == opening_hours() and "mon" not in shipped


def test_exhibit_routes_are_muted_outside_opening_hours_and_the_rest_is_not() -> None:
    routes = SHIPPED["route"]["routes"]
    science = [r for r in routes if 'team="science"' in r["matchers"]]
    assert science and all(r["active_time_intervals"] == ["vizium-open"] for r in science)
    others = [r for r in routes if r not in science]
    assert not any("active_time_intervals" in r or "mute_time_intervals" in r for r in others)
    watchdog, intake = routes[0], routes[1]
    assert (watchdog["receiver"], watchdog["matchers"]) == ("watchdog", ['alertname="Watchdog"'])
    assert (intake["receiver"], intake["matchers"]) == (
        "network-oncall",
        ['alertname="IntakeDown"'],
    )


def alert(rule_name: str, site: str, device: str) -> dict[str, Any]:
    """An alert as edumon's sender posts it for a rule of the default pack."""
    rule = RULES[rule_name]
    labels = {"alertname": rule.name, "severity": rule.severity, "team": rule.team}
    labels |= {"tier": rule.tier, "site": site, "device": device}
    annotations = {"summary": f"{rule.name} at {SITE_NAMES[site]}", "site_name": SITE_NAMES[site]}
    assert rule.runbook is not None
    annotations["runbook_url"] = rule.runbook
    return {"labels": labels, "annotations": annotations, "generatorURL": rule.runbook}


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    with SmtpServer(tmp_path_factory.mktemp("smtp") / "maildir") as server:
        yield server


def config_for(tmp_path: Path, smtp: SmtpServer, location: str) -> Path:
    """The shipped config, its mail relay the test's server and its opening hours in
    `location`; nothing else changed."""
    config = yaml.safe_load(DEFAULT_ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    config["global"]["smtp_smarthost"] = f"127.0.0.1:{smtp.port}"
    for interval in config["time_intervals"]:
        for part in interval["time_intervals"]:
            part["location"] = location
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def mails_after(smtp: SmtpServer, expected: int, settle_s: float) -> list[Message]:
    """The mails once `expected` have arrived and `settle_s` more brought no other."""
    deadline = time.monotonic() + 60
    while len(smtp.mails()) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(settle_s)
    return smtp.mails()


@pytest.mark.parametrize("vizium", ["open", "closed"])
def test_one_mail_per_notification_with_site_name_and_runbook(
    vizium: str, smtp: SmtpServer, tmp_path: Path
) -> None:
    require(Alertmanager)
    location = zone_where(is_open if vizium == "open" else is_closed)
    smtp.clear()
    with Alertmanager(tmp_path / "am", config_file=config_for(tmp_path, smtp, location)) as am:
        am.post_alerts(
            [
                # one school's incident: two alerts, one group, one mail
                alert("CoreSwitchUnreachable", "vsk-1", "vsk-1-core"),
                alert("UplinkDown", "vsk-1", "vsk-1-core"),
                alert("ExhibitOffline", "vizium", "vizium-lightning"),
            ]
        )
        # both groups started with this one post and flush after the same group_wait (5 s):
        # a mail the closed centre must not get would come with the school's, not 3 s later
        mails = mails_after(smtp, 2 if vizium == "open" else 1, settle_s=3)
    by_recipient = {mail["To"]: mail for mail in mails}
    assert len(mails) == len(by_recipient), [m["To"] for m in mails]
    assert set(by_recipient) == ({NETWORK, SCIENCE} if vizium == "open" else {NETWORK})

    school = by_recipient[NETWORK]
    assert SITE_NAMES["vsk-1"] in school["Subject"] and "FIRING" in school["Subject"]
    text = body(school)
    assert "CoreSwitchUnreachable" in text and "UplinkDown" in text
    assert f"Site: {SITE_NAMES['vsk-1']} (vsk-1)" in text
    for name in ("CoreSwitchUnreachable", "UplinkDown"):
        assert f"Runbook: {RULES[name].runbook}" in text
    if vizium == "open":
        exhibit = body(by_recipient[SCIENCE])
        assert SITE_NAMES["vizium"] in exhibit and "vizium-lightning" in exhibit
        assert f"Runbook: {RULES['ExhibitOffline'].runbook}" in exhibit


def body(mail: Message) -> str:
    """The plain-text part Alertmanager renders from the shipped `text` template."""
    for part in mail.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError(f"no text part in {mail['Subject']}")


def test_the_paging_tests_copy_pages_at_any_hour_and_only_posts(tmp_path: Path) -> None:
    """What tests/conftest.py's paging_alertmanager runs: receivers only post to the pager,
    no route waits for opening hours; the shipped file is unchanged."""
    am = Alertmanager(tmp_path, webhook_url="http://127.0.0.1:9/pager", always_active=True)
    config = yaml.safe_load(am.config_file.read_text(encoding="utf-8"))
    assert all(set(r) == {"name", "webhook_configs"} for r in config["receivers"])
    assert not any("active_time_intervals" in r for r in config["route"]["routes"])
    assert yaml.safe_load(DEFAULT_ALERTMANAGER_CONFIG.read_text(encoding="utf-8")) == SHIPPED


def test_the_mail_names_what_is_behind_a_failed_element_and_a_device_port(
    smtp: SmtpServer, tmp_path: Path
) -> None:
    """The topology's annotations in the shipped template: how many schools and devices are
    held behind a failed aggregation switch; the switch port and PoE state of a device."""
    require(Alertmanager)
    smtp.clear()
    config = config_for(tmp_path, smtp, zone_where(is_open))
    failed = alert("CoreSwitchUnreachable", "vsk-1", "agg-1")
    failed["annotations"] |= {
        "schools_behind": "10",
        "devices_behind": "31",
        "sites_behind": "school-01, school-02",
    }
    exhibit = alert("ExhibitOffline", "vizium", "vizium-lightning")
    exhibit["annotations"] |= {
        "switch": "vizium-sw",
        "port": "Gi1/0/2",
        "port_oper": "down",
        "poe_status": "fault",
        "poe_power_w": "0",
    }
    with Alertmanager(tmp_path / "am", config_file=config) as am:
        am.post_alerts([failed, exhibit])
        mails = {mail["To"]: body(mail) for mail in mails_after(smtp, 2, settle_s=1)}
    assert (
        "Behind it: 10 schools, 31 devices held (not paged): school-01, school-02" in mails[NETWORK]
    )
    assert "Port: vizium-sw Gi1/0/2 (down), PoE fault 0 W" in mails[SCIENCE]
