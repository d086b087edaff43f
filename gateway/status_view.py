"""`edumon status`: the on-call view in the terminal, drawn with rich from edumon's `/status`."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

_HEALTH_STYLE = {"ok": "green", "degraded": "yellow", "down": "bold red", "unknown": "dim"}
_SEVERITY_STYLE = {"page": "bold red", "warning": "yellow", "info": "cyan"}


def fetch_status(url: str, timeout_s: float = 5.0) -> dict[str, Any]:
    with urllib.request.urlopen(url.rstrip("/") + "/status", timeout=timeout_s) as response:
        document: dict[str, Any] = json.load(response)
        return document


def _ago(then: float | None, now: float) -> str:
    if not then:
        return "-"
    seconds = max(0, int(now - then))
    if seconds < 120:
        return f"{seconds} s"
    return f"{seconds // 60} min" if seconds < 7200 else f"{seconds // 3600} h"


def render_status(status: dict[str, Any]) -> Group:
    now = status["time"]
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    title = Text(f"{status['service']}  {stamp}", style="bold")

    sites = Table(title="Schools and sites", expand=True)
    for column in ("site", "name", "health", "up", "down", "alerts"):
        sites.add_column(column, justify="right" if column in ("up", "down", "alerts") else "left")
    for site in status["sites"]:
        style = _HEALTH_STYLE.get(site["health"], "")
        sites.add_row(
            site["id"],
            site["name"],
            Text(site["health"], style=style),
            str(site["up"]),
            str(site["down"]),
            str(site["firing"]),
        )

    alerts = Table(title=f"Firing alerts ({len(status['alerts'])})", expand=True)
    for column in ("severity", "alert", "site", "summary", "for"):
        alerts.add_column(column)
    for alert in status["alerts"]:
        alerts.add_row(
            Text(alert["severity"], style=_SEVERITY_STYLE.get(alert["severity"], "")),
            alert["alertname"],
            alert["site"] or "-",
            alert["summary"],
            _ago(alert["since"], now),
        )

    exhibits = Table(title="Exhibits", expand=True)
    for column in ("site", "exhibit", "zone", "state", "last heard"):
        exhibits.add_column(column)
    for exhibit in status["exhibits"]:
        state = Text("up", style="green") if exhibit["up"] else Text("OFFLINE", style="bold red")
        exhibits.add_row(
            exhibit["site"], exhibit["exhibit"], exhibit["zone"], state, _ago(exhibit["seen"], now)
        )

    components = Table(title="edumon itself", expand=True)
    components.add_column("component")
    components.add_column("status")
    components.add_column("detail")
    for name, component in status["components"].items():
        style = _HEALTH_STYLE.get(component["status"], "red")
        components.add_row(
            name, Text(component["status"], style=style), component.get("detail", "")
        )
    for collector in status["collectors"]:
        failing = collector["failing"]
        components.add_row(
            f"collector {collector['collector']}",
            Text("error" if failing else "ok", style="red" if failing else "green"),
            f"{failing} of {collector['targets']} targets failing; "
            f"last poll {_ago(collector['last'], now)} ago",
        )
    return Group(title, sites, alerts, exhibits, components)


def watch(url: str, interval_s: float) -> None:
    from rich.live import Live

    with Live(render_status(fetch_status(url)), auto_refresh=False) as live:
        while True:
            time.sleep(interval_s)
            live.update(render_status(fetch_status(url)), refresh=True)
