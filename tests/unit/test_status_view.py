"""`edumon status` for on-call: the 93-alert night (10 pages at four schools, 83 warnings and
infos across the city, many of them behind a dead core switch) fits a 50-line terminal, pages
first, grouped by site, the held-back alerts folded into their cause."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from gateway.status_view import mark_suppressed, render_status

NOW = 1_796_000_000.0
SITES = [f"vsk-{n}" for n in range(1, 21)] + ["vizium"]
PAGE_SITES = ("vsk-3", "vsk-7", "vsk-12", "vizium")


def alert(name: str, severity: str, site: str, tier: str = "edge", **extra: Any) -> dict[str, Any]:
    return {
        "alertname": name,
        "severity": severity,
        "team": "science" if site == "vizium" else "network",
        "site": site,
        "tier": tier,
        "summary": f"{name} at {site}",
        "since": NOW - 600,
        **extra,
    }


def night() -> dict[str, Any]:
    alerts = [alert("CoreSwitchUnreachable", "page", "vsk-3", "core", device="vsk-3-core")]
    # behind vsk-3's dead core switch: its APs, exhibits and probes (inhibited)
    alerts += [
        alert("AccessPointDown", "warning", "vsk-3", device=f"vsk-3-ap-{n}") for n in range(30)
    ]
    alerts += [alert("TargetUnreachable", "page", "vsk-3", device="vsk-3-gw")]
    alerts += [alert("UplinkDown", "page", "vsk-7", "core", device="vsk-7-core", ifname="te1")]
    alerts += [
        alert("SwitchUnreachable", "page", "vsk-12", device=f"vsk-12-access-{n}") for n in range(3)
    ]
    alerts += [alert("ExhibitOffline", "page", "vizium", device=f"vizium-ex-{n}") for n in range(4)]
    for n in range(53):
        site = SITES[n % 20]
        name, severity = (
            ("ChannelUtilisationHigh", "info") if n % 3 else ("InterfaceErrors", "warning")
        )
        alerts.append(alert(name, severity, site, device=f"{site}-access-1"))
    assert len(alerts) == 93 and sum(a["severity"] == "page" for a in alerts) == 10
    return {
        "service": "edumon-ventspils",
        "time": NOW,
        "sites": [
            {
                "id": s,
                "name": f"School {s}",
                "kind": "school",
                "health": "down" if s in PAGE_SITES else "degraded",
                "up": 5,
                "down": 1,
                "firing": 1,
            }
            for s in SITES
        ],
        "alerts": alerts,
        "exhibits": [
            {
                "site": "vizium",
                "exhibit": f"vizium-ex-{n}",
                "zone": "z",
                "up": n >= 4,
                "seen": NOW - 60,
            }
            for n in range(10)
        ],
        "components": {"writer": {"status": "ok"}, "mqtt": {"status": "ok"}},
        "collectors": [{"collector": "snmp", "targets": 42, "failing": 5, "last": NOW - 30}],
    }


def shown(status: dict[str, Any], width: int = 100) -> list[str]:
    console = Console(record=True, width=width, height=50)
    console.print(render_status(status, height=50))
    return console.export_text().rstrip("\n").split("\n")


def test_93_alerts_fit_50_lines_pages_first_by_site() -> None:
    lines = shown(night())
    assert len(lines) <= 50, "\n".join(lines)
    text = "\n".join(lines)
    assert lines[0].startswith("edumon-ventspils") and "10 page" in lines[0]
    page_lines = [n for n, line in enumerate(lines) if line.lstrip().startswith("page ")]
    other_lines = [
        n for n, line in enumerate(lines) if line.lstrip().startswith(("warning ", "info "))
    ]
    assert len(page_lines) == 10 - 1  # vsk-3's gateway probe is held back by its core switch
    assert max(page_lines) < 20 and min(page_lines) < min(other_lines)
    # grouped by site: each paging site's header, then its pages
    for site in PAGE_SITES:
        assert any(line.startswith(site + " ") for line in lines), site
    # vsk-3: its 30 APs, its gateway probe and its 3 other warnings wait behind the core switch
    assert "vsk-3  School vsk-3  (+34 held back behind these)" in text
    assert "30 x AccessPointDown" not in text
    # warnings counted per name and site, not one line each; the rest summed up at the end
    assert "InterfaceErrors" in text and len(other_lines) < 53
    assert "Exhibits OFFLINE (4 of 10)" in text
    assert "collector snmp: 5 of 42 targets failing" in text


def test_the_document_s_suppressed_flag_wins() -> None:
    status = night()
    for a in status["alerts"]:
        a["suppressed"] = a["alertname"] == "InterfaceErrors"
    text = "\n".join(shown(status))
    assert "InterfaceErrors" not in text and "AccessPointDown" in text


def test_a_quiet_night_says_so() -> None:
    watchdog = alert("Watchdog", "info", "", device=None)  # always firing: not for on-call
    status = night() | {"alerts": [watchdog], "collectors": [], "exhibits": []}
    lines = shown(status)
    assert "No alerts firing." in lines[1] and "every component ok" in lines[-1]
    assert "0 info" in lines[0] and "Watchdog" not in "\n".join(lines)


def test_long_summaries_are_cut_not_wrapped() -> None:
    status = night()
    status["alerts"][0]["summary"] = "x" * 500
    assert len(shown(status, width=60)) <= 50


def test_alertmanager_s_word_on_what_it_holds_back_is_folded_in() -> None:
    """`edumon status --alertmanager URL`: its API v2 alerts' state marks ours."""
    status = night()
    held = [
        {
            "labels": {"alertname": "InterfaceErrors", "site": a["site"], "device": a["device"]},
            "status": {"state": "suppressed", "inhibitedBy": [], "silencedBy": ["s1"]},
        }
        for a in status["alerts"]
        if a["alertname"] == "InterfaceErrors"
    ]
    held.append(
        {
            "labels": {"alertname": "AccessPointDown", "site": "vsk-3", "device": "vsk-3-ap-0"},
            "status": {"state": "active", "inhibitedBy": [], "silencedBy": []},
        }
    )
    mark_suppressed(status["alerts"], held)
    text = "\n".join(shown(status))
    assert "InterfaceErrors" not in text
    assert "  warning  AccessPointDown" in text  # Alertmanager says it pages: shown


def test_an_alert_with_a_known_port_shows_the_port_and_its_poe() -> None:
    status = {
        "service": "edumon",
        "time": 1_000.0,
        "sites": [{"id": "s1", "name": "School 1", "health": "down"}],
        "alerts": [
            {
                "alertname": "AccessPointDown",
                "severity": "page",
                "team": "network",
                "tier": "edge",
                "site": "s1",
                "device": "s1-ap",
                "summary": "Access point s1-ap is offline",
                "since": 900.0,
                "port": {"switch": "s1-access", "port": "Gi1/0/1", "port_oper": "down",
                         "poe_status": "fault", "poe_power_w": "0"},
            }
        ],
        "exhibits": [],
        "components": {},
        "collectors": [],
        "failed_elements": [],
    }  # fmt: skip
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(render_status(status))
    assert "[s1-access Gi1/0/1 down, PoE fault 0 W]" in console.export_text()
