"""Alerting inside the service: the engine subscribed to the pipeline, its timer, the
Alertmanager sender, the `alert` measurement (one point per firing/resolved transition, for
dashboards and the KPI report) and the state file that survives restarts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gateway.alerts import state
from gateway.alerts.engine import AlertEngine, Transition
from gateway.alerts.rules import DEFAULT_RULES, DEFAULT_RUNBOOK_BASE_URL, Rule, load_rules
from gateway.alerts.sender import AlertFence, AlertSender, render
from gateway.collector import CollectorEmit, device_labels
from gateway.config import EdumonConfig
from gateway.log_limit import LogLimit
from gateway.metrics import Metrics
from gateway.pipeline import PipelineClosed
from gateway.sample import FieldValue, Sample

log = logging.getLogger(__name__)


class Alerting:
    def __init__(
        self,
        config: EdumonConfig,
        metrics: Metrics,
        device_tags: Mapping[str, str],
        fence: AlertFence | None = None,
        runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL,
    ) -> None:
        """`device_tags`: measurement -> the tag naming its device (the plugins declare them);
        `fence`: which alerts this instance may send now (a cluster's); `runbook_base_url`:
        where the runbook pages are unless `alerts.runbook_base_url` says."""
        base_url = config.alerts.runbook_base_url or runbook_base_url
        rules = load_rules(config.alerts.rules_file or DEFAULT_RULES, base_url)
        self.interval_s = config.alerts.evaluation_interval_s
        self.metrics = metrics
        # shared with the senders: a reload (`reconfigure`) updates it in place
        self.site_names = {site.id: site.name for site in config.sites}
        self.engine = AlertEngine(rules, on_transition=self._on_transition, device_tags=device_tags)
        self.device_labels = device_labels(device_tags)  # "device", "ap", ...
        self.state_path = Path(config.service.state_dir) / "alerts.json"
        restored = state.load(self.engine, self.state_path, time.time(), self.engine.bounds)
        if restored:
            log.info("%d alerts still firing from before the restart", restored)
        # one sender per Alertmanager: the peers of a cluster each hear everything
        am = config.alertmanager
        self.senders = (
            [
                AlertSender(
                    url,
                    self.engine,
                    self.site_names,
                    resend_interval_s=am.resend_interval_s,
                    timeout_s=am.timeout_s,
                    fence=fence,
                    annotate=self.annotations_of,
                )
                for url in am.all_urls
            ]
            if am is not None
            else []
        )
        self._unwritten: list[Sample] = []
        # device -> annotations its alerts carry (the topology: port, PoE, what is behind it)
        self.annotate: Callable[[str | None], Mapping[str, str]] = _no_annotations
        self._dirty = False
        self.save_error: str | None = None
        self._save_log = LogLimit()

    def annotations_of(self, labels: Mapping[str, str]) -> Mapping[str, str]:
        """The extra annotations of an alert: about the device it names (`feeds`: the device
        a switch port powers)."""
        return self.annotate(labels.get("feeds") or device_of(labels, self.device_labels))

    def _on_transition(self, transition: Transition) -> None:
        self._unwritten.append(
            alert_point(transition, self.engine.rules, self.site_names, self.device_labels)
        )
        self._dirty = True
        for sender in self.senders:
            sender.wake()

    def reconfigure(self, config: EdumonConfig) -> None:
        """A reloaded config's site names in the alerts from now on (the rules stay)."""
        self.site_names.clear()
        self.site_names.update((site.id, site.name) for site in config.sites)

    async def run(self, emit: CollectorEmit) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for sender in self.senders:
                    group.create_task(sender.run())
                group.create_task(self._evaluate_forever(emit))
        finally:  # shutting down: the last transitions still reach the spool
            self.save()
            with contextlib.suppress(PipelineClosed):
                await self._write_transitions(emit)

    async def _evaluate_forever(self, emit: CollectorEmit) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            self.engine.tick()
            self.metrics.alerts_firing.set(len(self.engine.firing()))
            await self._write_transitions(emit)
            if self._dirty:
                self.save()

    async def _write_transitions(self, emit: CollectorEmit) -> None:
        if self._unwritten:
            samples, self._unwritten = self._unwritten, []
            await emit(samples, collector="alerts")

    def save(self) -> None:
        """Persist the state; a full disk is health `error` and one log line a minute, and the
        next save (every evaluation while dirty) tries again."""
        try:
            state.save(self.engine, self.state_path)
            self._dirty, self.save_error = False, None
        except OSError as error:
            self.save_error = error.strerror or str(error)
            if (unlogged := self._save_log.take("save")) is not None:
                log.error(
                    "cannot save alert state to %s: %s (%d more since)",
                    self.state_path,
                    self.save_error,
                    unlogged,
                )

    def health(self) -> dict[str, Any]:
        errors = [sender.last_error for sender in self.senders if sender.last_error]
        # one reachable peer of a cluster still pages: degraded; none reachable is an error
        status = "ok" if not errors else "degraded" if len(errors) < len(self.senders) else "error"
        detail = f"Alertmanager: {errors[0]}" if errors else "evaluating"
        if self.save_error is not None:
            status, detail = "error", f"cannot save the alert state: {self.save_error}"
        return {
            "status": status,
            "detail": detail,
            "instances": len(self.engine.instances),
            "bounded": {f"{o}:{rule}": n for (o, rule), n in self.engine.bounds.totals().items()},
            "firing": len(self.engine.firing()),
            "evaluations": self.engine.evaluations,
            "alertmanager_failures": sum(sender.failures for sender in self.senders),
        }


def device_of(labels: Mapping[str, str], device_labels: Sequence[str]) -> str | None:
    """The device an alert is about: the first of its labels that names a device."""
    return next((labels[name] for name in device_labels if name in labels), None)


def alert_point(
    transition: Transition,
    rules: Mapping[str, Rule],
    site_names: Mapping[str, str],
    device_labels: Sequence[str],
) -> Sample:
    """The `alert` measurement's point for one transition (firing or resolved)."""
    instance = transition.instance
    rule = rules[instance.rule]
    tags = {"alertname": rule.alert, "severity": rule.severity, "team": rule.team}
    tags["tier"] = rule.tier
    if "site" in instance.labels:
        tags["site"] = instance.labels["site"]
    device = device_of(instance.labels, device_labels)
    if device is not None:
        tags["device"] = device
    fields: dict[str, FieldValue] = {"firing": transition.state == "firing"}
    if instance.value is not None:
        fields["value"] = instance.value
    if transition.state == "firing":
        fields["summary"] = render(rule.summary, rule, instance, site_names)
    return Sample("alert", tags, fields, int(transition.at * 1e9))


def _no_annotations(_device: str | None) -> Mapping[str, str]:
    return {}
