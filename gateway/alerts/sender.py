"""Tells Alertmanager (API v2, `POST /api/v2/alerts`) the current alert state.

Idempotent re-sending, as Prometheus does: every change is sent at once, and every firing
alert again each `resend_interval_s` with `endsAt = now + 4 x resend_interval_s`, so
Alertmanager resolves it by itself if edumon dies. Resolved alerts are sent with their real
`endsAt` for 15 minutes. While Alertmanager is down the whole current state is retried with
backoff; there is no queue to overflow, and a restart of either side sends the same alerts with
the same labels and `startsAt`, which Alertmanager deduplicates (no new page).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp

from gateway.alerts.engine import AlertEngine, Instance
from gateway.alerts.rules import Rule

log = logging.getLogger(__name__)


class _Unknown:
    """Stands for a missing value in a template, whatever its format spec."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __format__(self, spec: str) -> str:
        return "?" if self.name == "value" else "{" + self.name + "}"


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> _Unknown:
        return _Unknown(key)


def render(template: str, rule: Rule, instance: Instance, site_names: Mapping[str, str]) -> str:
    """A rule's summary with the instance's tags, `site_name` and `value` filled in."""
    site = instance.labels.get("site", "")
    fields = _Fields(instance.labels, site_name=site_names.get(site, site))
    if instance.value is not None:
        fields["value"] = instance.value
    try:
        return template.format_map(fields)
    except (ValueError, TypeError, IndexError, AttributeError):  # a template the rule got wrong
        return template


def alert_labels(rule: Rule, instance: Instance) -> dict[str, str]:
    labels = {**instance.labels, **rule.labels}
    labels.update(alertname=rule.alert, severity=rule.severity, team=rule.team, tier=rule.tier)
    return labels


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


AlertFence = Callable[[Mapping[str, str], float], bool]  # (labels, last seen) -> may it be sent
Annotate = Callable[[Mapping[str, str]], Mapping[str, str]]  # labels -> extra annotations


def payload(
    engine: AlertEngine,
    site_names: Mapping[str, str],
    resend_interval_s: float,
    now: float,
    fence: AlertFence | None = None,
    annotate: Annotate | None = None,
) -> list[dict[str, Any]]:
    alerts = []
    for instance in engine.to_send():
        if fence is not None and not fence(instance.labels, instance.last_seen):
            continue
        rule = engine.rules[instance.rule]
        annotations = {"summary": render(rule.summary, rule, instance, site_names)}
        site = instance.labels.get("site")
        if site is not None:  # the mail and chat templates name the site, not only its id
            annotations["site_name"] = site_names.get(site, site)
        if rule.description:
            annotations["description"] = render(rule.description, rule, instance, site_names)
        if rule.runbook:
            annotations["runbook_url"] = rule.runbook
        if instance.value is not None:
            annotations["value"] = f"{instance.value:g}"
        if annotate is not None:
            annotations.update(annotate(instance.labels))
        if instance.state == "firing":
            ends = now + 4 * resend_interval_s
        else:
            ends = instance.resolved_at or now
        alerts.append(
            {
                "labels": alert_labels(rule, instance),
                "annotations": annotations,
                "startsAt": _iso(instance.active_since or now),
                "endsAt": _iso(ends),
                "generatorURL": rule.runbook or "",
            }
        )
    return alerts


class AlertSender:
    """One loop per Alertmanager: `wake()` on a change; re-sends on its own."""

    def __init__(
        self,
        url: str,
        engine: AlertEngine,
        site_names: Mapping[str, str],
        *,
        resend_interval_s: float = 60.0,
        timeout_s: float = 5.0,
        max_backoff_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        fence: AlertFence | None = None,
        annotate: Annotate | None = None,
    ) -> None:
        """`annotate`: extra annotations per alert (the topology's port and PoE).
        `fence`: whether this instance may send an alert now (in a cluster: only the owner
        of its target, on evidence from its current lease; gateway/cluster/node.py)."""
        self.endpoint = url.rstrip("/") + "/api/v2/alerts"
        self.engine = engine
        self.site_names = site_names
        self.resend_interval_s = resend_interval_s
        self.timeout_s = timeout_s
        self.max_backoff_s = max_backoff_s
        self.clock = clock
        self.fence = fence
        self.annotate = annotate
        self._changed = asyncio.Event()
        self.sent = 0
        self.failures = 0
        self.last_error: str | None = None

    def wake(self) -> None:
        self._changed.set()

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            backoff = 0.5
            while True:
                self._changed.clear()
                alerts = payload(
                    self.engine,
                    self.site_names,
                    self.resend_interval_s,
                    self.clock(),
                    self.fence,
                    self.annotate,
                )
                wait = self.resend_interval_s
                if alerts:
                    if await self._post(session, alerts):
                        backoff = 0.5
                    else:
                        wait, backoff = backoff, min(backoff * 2, self.max_backoff_s)
                try:
                    async with asyncio.timeout(wait):
                        await self._changed.wait()
                except TimeoutError:
                    pass

    async def _post(self, session: aiohttp.ClientSession, alerts: list[dict[str, Any]]) -> bool:
        try:
            async with session.post(self.endpoint, json=alerts) as response:
                if response.status >= 300:
                    body = (await response.text())[:200]
                    raise aiohttp.ClientError(f"HTTP {response.status}: {body}")
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            self.failures += 1
            reason = str(error) or type(error).__name__
            if self.last_error is None:
                log.error("cannot reach Alertmanager at %s (%s); retrying", self.endpoint, reason)
            self.last_error = reason
            return False
        if self.last_error is not None:
            log.info("Alertmanager at %s reachable again", self.endpoint)
        self.last_error = None
        self.sent += len(alerts)
        return True
