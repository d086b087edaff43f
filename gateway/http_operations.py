"""edumon's operations endpoints:

- `POST /-/reload`: read the config again (gateway/reload.py), as SIGHUP does; 200 with what
  changed, or 400 with the problems (file:line) and the running config kept.
- `GET /probe?target=ID[&format=prometheus|line]`: poll one configured target now and answer
  its samples, as Prometheus text (the default, snmp_exporter's `/snmp?target=` convention) or
  InfluxDB line protocol; nothing is written, no alert sees them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from urllib.parse import parse_qs

from gateway.collector_runner import CollectorRunner
from gateway.http_server import Handler, Request, Response
from gateway.intake_health import CollectorHealth
from gateway.metrics import Metrics
from gateway.reload import ConfigReloader
from gateway.sample import Sample
from gateway.scheduler import PollScheduler
from gateway.storage.lineprotocol import LineEncoder

PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
_NOT_NAME = re.compile(r"[^a-zA-Z0-9_]")


def operation_routes(
    reloader: ConfigReloader, collectors: CollectorRunner
) -> tuple[dict[str, Handler], dict[str, Handler]]:
    """(GET routes, POST routes)."""

    async def reload(_request: Request) -> Response:
        outcome = await reloader.reload()
        return Response(200 if outcome.ok else 400, f"{outcome.message}\n".encode())

    async def probe(request: Request) -> Response:
        query = parse_qs(request.query)
        target, output = query.get("target", [""])[0], query.get("format", ["prometheus"])[0]
        if output not in ("prometheus", "line"):
            return Response(400, b"format: prometheus or line\n")
        jobs = {name: job for t in collectors.polled.values() for name, job in t.jobs.items()}
        job = jobs.get(target)
        if job is None:
            return Response(404, f"no polled target {target!r} in the config\n".encode())
        scheduler = PollScheduler(_nowhere, Metrics(), CollectorHealth(job.collector.name))
        samples, error, _ = await scheduler.measure(job.collector, job.target, job.schedule)
        if output == "line":
            encoder = LineEncoder()
            body = "".join(f"{encoder.encode(sample)}\n" for sample in samples)
            content_type = "text/plain; charset=utf-8"
        else:
            body, content_type = prometheus_text(samples), PROMETHEUS
        headers = (("X-Probe-Error", error.replace("\n", " ")[:200]),) if error else ()
        return Response(200 if samples or not error else 502, body.encode(), content_type, headers)

    return {"/probe": probe}, {"/-/reload": reload}


async def _nowhere(samples: Sequence[Sample], *, collector: str, durable: bool = False) -> None:
    return None


def prometheus_text(samples: Sequence[Sample]) -> str:
    """Each numeric field as a gauge `edumon_<measurement>_<field>` labelled with the
    sample's tags; text fields are left out."""
    families: dict[str, list[str]] = {}
    for sample in samples:
        labels = ",".join(f'{_name(k)}="{_label_value(v)}"' for k, v in sample.tags.items())
        for field, value in sample.fields.items():
            if isinstance(value, str) or not math.isfinite(value):
                continue
            name = _name(f"edumon_{sample.measurement}_{field}")
            families.setdefault(name, []).append(f"{name}{{{labels}}} {float(value)!r}")
    return "".join(
        f"# TYPE {name} gauge\n" + "".join(f"{line}\n" for line in lines)
        for name, lines in sorted(families.items())
    )


def _name(text: str) -> str:
    name = _NOT_NAME.sub("_", text)
    return f"_{name}" if name[:1].isdigit() else name


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
