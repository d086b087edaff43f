"""`edumon status`: the on-call view in the terminal, drawn with rich from edumon's `/status`.

What matters at 3 a.m. comes first and the whole view fits one screen (`height`, 50 lines by
default): a one-line summary, then the alerts grouped by site with the sites that page first,
each site's pages one per line and its warnings and infos counted per alert name; alerts that
Alertmanager holds back (an edge alert while its site's core alert fires, a warning of a
device that pages) are folded into their cause's site as a count. Then the exhibits that are
offline, the sites that are not healthy, and edumon's own components that are not well.
When the alerts do not fit, the lowest-priority sites are summed up in one last line.

An alert's `suppressed` key (true when Alertmanager inhibits or silences it) is used when the
document has it; otherwise the shipped alertmanager.yml's inhibition rules are applied here
from the alerts' `tier` and `device`.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.console import Group
from rich.text import Text

HEIGHT = 50
_HEALTH_STYLE = {"ok": "green", "degraded": "yellow", "down": "bold red", "unknown": "dim"}
_SEVERITY_STYLE = {"page": "bold red", "warning": "yellow", "info": "cyan"}
_RANK = {"page": 0, "warning": 1, "info": 2}
ALWAYS_FIRING = {"Watchdog"}  # fires by design for a dead man's switch: nothing to act on


def _get_json(url: str, timeout_s: float) -> Any:
    """GET a JSON document; with EDUMON_HTTP_TOKEN set, as that bearer (service.http)."""
    token = os.environ.get("EDUMON_HTTP_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return json.load(response)


def fetch_status(
    url: str, alertmanager: str | None = None, timeout_s: float = 5.0
) -> dict[str, Any]:
    """edumon's `/status`; with `alertmanager`, each alert marked `suppressed` as
    Alertmanager's API v2 says (inhibited or silenced)."""
    document: dict[str, Any] = _get_json(url.rstrip("/") + "/status", timeout_s)
    if alertmanager:
        held = _get_json(alertmanager.rstrip("/") + "/api/v2/alerts", timeout_s)
        mark_suppressed(document["alerts"], held)
    return document


def mark_suppressed(alerts: list[dict[str, Any]], held: list[dict[str, Any]]) -> None:
    """Alertmanager's alerts name ours by alertname, site and device; an alert it does not
    hold keeps the inhibition rules applied here."""
    states = {
        (a["labels"].get("alertname"), a["labels"].get("site"), a["labels"].get("device")): a[
            "status"
        ]["state"]
        for a in held
    }
    for alert in alerts:
        state = states.get((alert["alertname"], alert.get("site"), alert.get("device")))
        if state is not None:
            alert["suppressed"] = state == "suppressed"


def _ago(then: float | None, now: float) -> str:
    if not then:
        return "-"
    seconds = max(0, int(now - then))
    if seconds < 120:
        return f"{seconds} s"
    return f"{seconds // 60} min" if seconds < 7200 else f"{seconds // 3600} h"


@dataclass
class SiteAlerts:
    site: str
    name: str
    pages: list[dict[str, Any]] = field(default_factory=list)
    others: list[dict[str, Any]] = field(default_factory=list)
    suppressed: int = 0

    @property
    def rank(self) -> tuple[int, int, int]:
        """Sites that page first, then by how much fires there."""
        return (0 if self.pages else 1, -len(self.pages), -len(self.others))

    def lines(self, now: float) -> list[Text]:
        counted = Counter((a["severity"], a["alertname"]) for a in self.others)
        head = Text(f"{self.site}", style="bold")
        head.append(f"  {self.name}", style="")
        if self.suppressed:
            head.append(f"  (+{self.suppressed} held back behind these)", style="dim")
        out = [head]
        for alert in self.pages:
            line = Text("  page     ", style=_SEVERITY_STYLE["page"])
            line.append(f"{alert['alertname']}  {alert['summary']}  ")
            if "port" in alert:
                line.append(_port_text(alert["port"]) + "  ", style="cyan")
            line.append(f"for {_ago(alert.get('since'), now)}", style="dim")
            out.append(line)
        for (severity, name), n in sorted(counted.items(), key=lambda c: (_RANK[c[0][0]], c[0])):
            line = Text(f"  {severity:<8} ", style=_SEVERITY_STYLE.get(severity, ""))
            line.append(f"{n} x {name}" if n > 1 else name)
            out.append(line)
        return out


def is_suppressed(alert: dict[str, Any], firing: list[dict[str, Any]]) -> bool:
    """Alertmanager holds it back: by the document's word, else by the shipped inhibit rules
    (tier=core inhibits tier=edge of its site; a page inhibits its device's warnings)."""
    if "suppressed" in alert:
        return bool(alert["suppressed"])
    site = alert.get("site")
    for other in firing:
        if other is alert or other.get("site") != site:
            continue
        if other.get("tier") == "core" and alert.get("tier") == "edge":
            return True
        same_device = alert.get("device") is not None and other.get("device") == alert["device"]
        if other["severity"] == "page" and alert["severity"] != "page" and same_device:
            return True
    return False


def _actionable(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in status["alerts"] if a["alertname"] not in ALWAYS_FIRING]


def group_by_site(status: dict[str, Any]) -> list[SiteAlerts]:
    names = {site["id"]: site["name"] for site in status["sites"]}
    groups: dict[str, SiteAlerts] = {}
    firing = _actionable(status)
    held: Counter[str] = Counter()
    for alert in sorted(firing, key=lambda a: (_RANK.get(a["severity"], 3), a["alertname"])):
        site = alert.get("site") or "-"
        if is_suppressed(alert, firing):
            held[site] += 1
            continue
        group = groups.setdefault(site, SiteAlerts(site, names.get(site, "edumon itself")))
        (group.pages if alert["severity"] == "page" else group.others).append(alert)
    for site, n in held.items():
        groups.setdefault(site, SiteAlerts(site, names.get(site, site))).suppressed = n
    return sorted(groups.values(), key=lambda g: g.rank)


def render_status(status: dict[str, Any], height: int = HEIGHT) -> Group:
    now = status["time"]
    stamp = datetime.fromtimestamp(now, _zone(status)).strftime("%Y-%m-%d %H:%M:%S %Z")
    severities = Counter(a["severity"] for a in _actionable(status))
    sites = group_by_site(status)
    held = sum(g.suppressed for g in sites)
    title = Text(f"{status['service']}  {stamp}  ", style="bold")
    for severity in ("page", "warning", "info"):
        title.append(f"{severities[severity]} {severity}  ", style=_SEVERITY_STYLE[severity])
    title.append(f"({held} held back)", style="dim")

    tail = (
        _failed_elements(status)
        + _exhibits(status, now)
        + _unhealthy_sites(status)
        + _components(status, now)
    )
    budget = height - 2 - len(tail)  # the title, the blank line before the tail
    body: list[Text] = []
    for n, group in enumerate(sites):
        lines = group.lines(now)
        if len(body) + len(lines) > budget - 1 and n < len(sites) - 1:
            rest = sites[n:]
            pages = sum(len(g.pages) for g in rest)
            others = sum(len(g.others) for g in rest)
            line = Text(f"... {len(rest)} more sites: ", style="bold")
            line.append(f"{pages} page, {others} warning/info", style="yellow")
            body.append(line)
            break
        body.extend(lines)
    if not sites:
        body.append(Text("No alerts firing.", style="green"))
    lines = [title, *body, Text(""), *tail]
    for line in lines:  # one screen line each: a long summary is cut, never wrapped
        line.no_wrap, line.overflow = True, "ellipsis"
    return Group(*lines)


def _port_text(port: dict[str, str]) -> str:
    """Where a device is plugged in: "switch sw1 port Gi1/0/2 down, PoE fault 0 W"."""
    text = f"[{port.get('switch')} {port.get('port')} {port.get('port_oper', 'unknown')}"
    if "poe_status" in port:
        text += f", PoE {port['poe_status']}"
        if "poe_power_w" in port:
            text += f" {port['poe_power_w']} W"
    return text + "]"


def _failed_elements(status: dict[str, Any]) -> list[Text]:
    """The topology's failed elements, each with what is held (shadowed) behind it."""
    lines = []
    for element in status.get("failed_elements", []):
        line = Text(f"Failed {element['element']}", style="bold red")
        if "port" in element:
            line.append(
                f" (switch {element['switch']} port {element['port']} "
                f"{element.get('port_oper', 'unknown')}, PoE {element.get('poe_status', '?')})"
            )
        line.append(
            f": {element['devices_behind']} devices behind it"
            f" ({element['schools_behind']} schools) held: " + ", ".join(element["shadowed"][:8])
        )
        lines.append(line)
    return lines


def _zone(status: dict[str, Any]) -> tzinfo:
    """The service's configured time zone (`reports.timezone`); UTC for an older edumon."""
    try:
        return ZoneInfo(str(status.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _exhibits(status: dict[str, Any], now: float) -> list[Text]:
    offline = [e for e in status["exhibits"] if not e["up"]]
    if not offline:
        up = len(status["exhibits"])
        return [Text(f"Exhibits: all {up} up", style="green")] if up else []
    line = Text(
        f"Exhibits OFFLINE ({len(offline)} of {len(status['exhibits'])}): ", style="bold red"
    )
    line.append(", ".join(f"{e['exhibit']} ({_ago(e['seen'], now)})" for e in offline))
    return [line]


def _unhealthy_sites(status: dict[str, Any]) -> list[Text]:
    by_health: dict[str, list[str]] = defaultdict(list)
    for site in status["sites"]:
        by_health[site["health"]].append(site["id"])
    line = Text("Sites: ")
    line.append(f"{len(by_health.pop('ok', []))} ok", style="green")
    for health, ids in sorted(by_health.items()):
        line.append(f"; {health}: ", style=_HEALTH_STYLE.get(health, ""))
        line.append(", ".join(ids))
    return [line]


def _components(status: dict[str, Any], now: float) -> list[Text]:
    lines = []
    for name, component in status["components"].items():
        if component["status"] != "ok":
            line = Text(f"edumon {name}: ", style="bold")
            line.append(component["status"], style=_HEALTH_STYLE.get(component["status"], "red"))
            lines.append(line.append(f"  {component.get('detail', '')}"))
    for collector in status["collectors"]:
        if collector["failing"]:
            lines.append(
                Text(
                    f"collector {collector['collector']}: {collector['failing']} of "
                    f"{collector['targets']} targets failing; last poll "
                    f"{_ago(collector['last'], now)} ago",
                    style="yellow",
                )
            )
    return lines or [Text("edumon itself: every component ok", style="green")]


def watch(url: str, interval_s: float, alertmanager: str | None = None) -> None:
    from rich.console import Console
    from rich.live import Live

    console = Console()

    def view() -> Group:
        return render_status(fetch_status(url, alertmanager), console.height)

    with Live(view(), auto_refresh=False) as live:
        while True:
            time.sleep(interval_s)
            live.update(view(), refresh=True)
