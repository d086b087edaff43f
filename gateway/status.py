"""What on-call staff ask first: which schools are healthy, what is firing, which exhibits are
up, is edumon itself well. `StatusBoard` keeps the latest `up` of every device as samples pass
the pipeline; `snapshot()` is served as `/status` and drawn by `edumon status`.

An exhibit or access point speaking MQTT says `up` twice: in its status message (its Last Will
says "offline") and in its data. It is up only when the last of each agree; a health message
that still arrives after the Will does not make it up. A site is "down" when a core alert (its
core switch or uplink) fires or its core switch does not answer, "degraded" for anything less.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gateway.alerts.engine import AlertEngine
from gateway.alerts.sender import render
from gateway.alerts.service import device_of
from gateway.collector import device_labels
from gateway.config import EdumonConfig
from gateway.sample import Sample

_PORT_NOTES = ("switch", "port", "port_oper", "poe_status", "poe_power_w")


class StatusBoard:
    def __init__(
        self,
        config: EdumonConfig,
        engine: AlertEngine,
        components: Callable[[], dict[str, Any]],
        device_tags: Mapping[str, str],
        failed: Callable[[], list[dict[str, Any]]] = list,
        annotate: Callable[[Mapping[str, str]], Mapping[str, str]] | None = None,
    ) -> None:
        """`device_tags`: measurement -> the tag naming its device (the plugins declare them);
        `failed`: the topology's failed elements, each with what is shadowed behind it;
        `annotate`: an alert's extra annotations (its switch port and PoE)."""
        self.config = config
        self.engine = engine
        self.components = components
        self.failed = failed
        self.annotate = annotate
        self.device_tags = device_tags
        self.device_labels = device_labels(device_tags)
        self.site_names = {site.id: site.name for site in config.sites}
        # (measurement, site, id) -> (up, seen at, tags)
        self.latest: dict[tuple[str, str, str], tuple[bool, float, Mapping[str, str]]] = {}
        # the devices whose status message and data must agree: (site, id) -> (status, data)
        self.reported: dict[tuple[str, str], dict[str, bool]] = {
            key: {} for key in _agreeing_devices(config)
        }
        # (site, device) -> the device profile a switch matched (its `device` samples say)
        self.profiles: dict[tuple[str, str], str] = {}
        # (collector, target) -> (failing, seen at), from the collectors' own samples
        self.polls: dict[tuple[str, str], tuple[bool, float]] = {}

    def reconfigure(self, config: EdumonConfig) -> None:
        """A reloaded config (gateway/reload.py): its sites and devices from now on."""
        self.config = config
        self.site_names = {site.id: site.name for site in config.sites}
        self.reported = {key: self.reported.get(key, {}) for key in _agreeing_devices(config)}

    def observe(self, samples: Sequence[Sample]) -> None:
        now = time.time()
        for sample in samples:
            if sample.measurement == "collector":
                failing = bool(sample.fields.get("errors"))
                self.polls[(sample.tags.get("collector", ""), sample.tags.get("target", ""))] = (
                    failing,
                    now,
                )
                continue
            profile = sample.fields.get("profile")
            if sample.measurement == "device" and isinstance(profile, str):
                self.profiles[(sample.tags.get("site", ""), sample.tags.get("device", ""))] = (
                    profile
                )
            id_tag = self.device_tags.get(sample.measurement)
            up = sample.fields.get("up") if id_tag else None
            if isinstance(up, bool) and id_tag:
                key = (sample.measurement, sample.tags.get("site", ""), sample.tags.get(id_tag, ""))
                up = self._agreed(key[1:], up, only_up=len(sample.fields) == 1)
                self.latest[key] = (up, now, sample.tags)  # samples' tags are never changed

    def _agreed(self, device: tuple[str, str], up: bool, *, only_up: bool) -> bool:
        """Up when the device's last status message and its last data both say so (a sample
        with no field but `up` is a status message)."""
        reported = self.reported.get(device)
        if reported is None:
            return up
        reported["status" if only_up else "data"] = up
        return all(reported.values())

    def snapshot(self) -> dict[str, Any]:
        firing = self.engine.firing()
        alerts = []
        for instance in sorted(firing, key=lambda i: i.active_since or 0):
            rule = self.engine.rules[instance.rule]
            alerts.append(
                {
                    "alertname": rule.alert,
                    "severity": rule.severity,
                    "team": rule.team,
                    "tier": rule.tier,
                    "site": instance.labels.get("site"),
                    "device": device_of(instance.labels, self.device_labels),
                    "summary": render(rule.summary, rule, instance, self.site_names),
                    "since": instance.active_since,
                    **({"port": dict(notes)} if (notes := self._port(instance.labels)) else {}),
                }
            )
        return {
            "service": self.config.service.name,
            "time": time.time(),
            "timezone": self.config.reports.timezone,
            "sites": [
                self._site(site.id, site.name, site.kind, firing) for site in self.config.sites
            ],
            "alerts": alerts,
            "exhibits": [
                {
                    "site": site,
                    "exhibit": ident,
                    "zone": tags.get("zone", ""),
                    "up": up,
                    "seen": seen,
                }
                for (measurement, site, ident), (up, seen, tags) in sorted(self.latest.items())
                if measurement == "exhibit"
            ],
            "profiles": [
                {"site": site, "device": device, "profile": profile}
                for (site, device), profile in sorted(self.profiles.items())
            ],
            "components": self.components(),
            "collectors": self._collectors(),
            "failed_elements": self.failed(),
        }

    def _port(self, labels: Mapping[str, str]) -> dict[str, str]:
        notes = self.annotate(labels) if self.annotate is not None else {}
        return {k: v for k, v in notes.items() if k in _PORT_NOTES}

    def _collectors(self) -> list[dict[str, Any]]:
        by_collector: dict[str, list[tuple[bool, float]]] = {}
        for (collector, _), poll in self.polls.items():
            by_collector.setdefault(collector, []).append(poll)
        return [
            {
                "collector": name,
                "targets": len(polls),
                "failing": sum(failing for failing, _ in polls),
                "last": max(seen for _, seen in polls),
            }
            for name, polls in sorted(by_collector.items())
        ]

    def _site(self, site: str, name: str, kind: str, firing: list[Any]) -> dict[str, Any]:
        here = [(m, tags, up) for (m, s, _), (up, _, tags) in self.latest.items() if s == site]
        states = [up for _, _, up in here]
        alerts = [self.engine.rules[i.rule] for i in firing if i.labels.get("site") == site]
        core_down = any(
            m == "device" and tags.get("role") == "core" and not up for m, tags, up in here
        )
        down = states.count(False)
        if core_down or any(rule.tier == "core" for rule in alerts):
            health = "down"
        elif down or alerts:
            health = "degraded"
        else:
            health = "ok" if states else "unknown"
        return {
            "id": site,
            "name": name,
            "kind": kind,
            "health": health,
            "up": states.count(True),
            "down": down,
            "firing": len(alerts),
        }


def _agreeing_devices(config: EdumonConfig) -> list[tuple[str, str]]:
    """(site, id) of the devices whose status message and data must agree (APs, exhibits)."""
    return [
        (site.id, device.id)
        for kind in ("access_point", "exhibit")
        for site, device in config.devices(kind)
    ]
