"""Incidents from the `alert` measurement the alert engine writes on every state change.

A point with firing=true opens an incident for its (alertname, site, device), the next
firing=false for the same identity closes it; time to recover = close - open. An incident
still open at the end of the period is reported as open (no time to recover). Repeated
firing=true points while open (re-sends) change nothing.

`root_causes` counts a site's outage once, as the on-call staff were paged for it: an edge
alert (an AP, exhibit, sensor or probe behind the site's network) that started while a core
alert of the same site (core switch or uplink) was firing is its consequence, held back by
Alertmanager's inhibition, and not an incident of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gateway.reports.queries import Series


@dataclass(frozen=True)
class Incident:
    alertname: str
    severity: str
    team: str
    tier: str  # core | edge ("" from points older than the tag)
    site: str  # "" when the alert has no site
    device: str
    started_ns: int
    recovered_ns: int | None  # None: still open at the end of the period
    value: float | None

    @property
    def recover_s(self) -> float | None:
        return None if self.recovered_ns is None else (self.recovered_ns - self.started_ns) / 1e9


def incidents(series: list[Series]) -> list[Incident]:
    """Every incident opened in the series' window, sorted by start time."""
    identities: dict[
        tuple[str, str, str], list[tuple[int, bool, float | None, dict[str, str]]]
    ] = {}
    for s in series:
        key = (s.tags.get("alertname", ""), s.tags.get("site", ""), s.tags.get("device", ""))
        for row in s.rows:
            if isinstance(row.get("firing"), bool):
                identities.setdefault(key, []).append(
                    (row["time"], row["firing"], row.get("value"), s.tags)
                )
    found = []
    for (alertname, site, device), events in identities.items():
        opened: tuple[int, float | None, dict[str, str]] | None = None
        for time_ns, firing, value, tags in sorted(events, key=lambda e: e[0]):
            if firing and opened is None:
                opened = (time_ns, value, tags)
            elif not firing and opened is not None:
                found.append(_incident(alertname, site, device, opened, time_ns))
                opened = None
        if opened is not None:
            found.append(_incident(alertname, site, device, opened, None))
    return sorted(found, key=lambda i: (i.started_ns, i.alertname, i.site, i.device))


def _incident(
    alertname: str,
    site: str,
    device: str,
    opened: tuple[int, float | None, dict[str, str]],
    recovered_ns: int | None,
) -> Incident:
    started_ns, value, tags = opened
    return Incident(
        alertname,
        tags.get("severity", ""),
        tags.get("team", ""),
        tags.get("tier", ""),
        site,
        device,
        started_ns,
        recovered_ns,
        float(value) if isinstance(value, int | float) else None,
    )


def root_causes(found: list[Incident]) -> list[Incident]:
    """`found` without the edge incidents that began inside a core incident of their site."""
    core = [i for i in found if i.tier == "core" and i.site]

    def consequence(incident: Incident) -> bool:
        return incident.tier == "edge" and any(
            c.site == incident.site
            and c.started_ns <= incident.started_ns
            and (c.recovered_ns is None or incident.started_ns <= c.recovered_ns)
            for c in core
        )

    return [i for i in found if not consequence(i)]


def timed_by_outage(
    found: list[Incident], down: dict[str, list[tuple[int, int]]]
) -> list[Incident]:
    """Core incidents timed by the site's uplink outage they belong to (`down`: site -> the
    down runs of its uplink timeline, the chart's red bars).

    The alert fires and resolves on the core switch's polls (hourly in the demo month) and
    resolves only after `keep_firing_for`, so a 45 min outage polled on the hour is paged for
    1 h 05 min; the report gives the outage's own time, which is what the chart shows. An
    incident with no outage run overlapping it keeps the alert's times."""
    timed = []
    for incident in found:
        end = incident.recovered_ns
        runs = [
            (s, e)
            for s, e in down.get(incident.site, [])
            if incident.tier == "core" and (end is None or s <= end) and e >= incident.started_ns
        ]
        if runs:
            recovered = None if end is None else max(e for _, e in runs)
            incident = replace(incident, started_ns=runs[0][0], recovered_ns=recovered)
        timed.append(incident)
    return timed
