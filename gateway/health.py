"""HTTP `/healthz` (JSON, one entry per component), `/metrics` (Prometheus text format) and
other JSON documents (`/status`), served by gateway/http_server.py with the access rules of
`service.http` (gateway/http_access.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.http_access import Access, HttpSection
from gateway.http_server import Handler, HttpServer, Request, Response
from gateway.metrics import Metrics

log = logging.getLogger(__name__)

ComponentCheck = Callable[[], dict[str, Any]]
_SEVERITY = {"ok": 0, "degraded": 1, "error": 2}
JSON = "application/json; charset=utf-8"


class HealthServer:
    """Components register a check returning at least {"status": ok|degraded|error}."""

    def __init__(
        self, metrics: Metrics, host: str, port: int, http: HttpSection | None = None
    ) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self.http = http or HttpSection()
        self._checks: dict[str, ComponentCheck] = {}
        self._documents: dict[str, ComponentCheck] = {}
        self._routes: dict[str, Handler] = {}
        self._post_routes: dict[str, Handler] = {}
        self._server: HttpServer | None = None
        metrics.registry.register(_HttpTotals(self))

    def register(self, name: str, check: ComponentCheck) -> None:
        self._checks[name] = check

    def serve_json(self, path: str, document: ComponentCheck) -> None:
        """Another read-only JSON document, e.g. `/status` for `edumon status`."""
        self._documents[path] = document

    def route(self, path: str, handler: Handler, *, post: bool = False) -> None:
        """Another page (`/`, `/runbooks/`, `/probe`) or, with `post`, an action (`/-/reload`)."""
        (self._post_routes if post else self._routes)[path] = handler

    def report(self) -> dict[str, Any]:
        components: dict[str, dict[str, Any]] = {}
        for name, check in self._checks.items():
            try:
                components[name] = check()
            except Exception as error:  # a broken check must not break the health endpoint
                components[name] = {"status": "error", "detail": f"health check failed: {error}"}
        worst = max((_SEVERITY.get(c["status"], 2) for c in components.values()), default=0)
        status = next(s for s, level in _SEVERITY.items() if level == worst)
        return {"status": status, "components": components}

    async def _healthz(self, _request: Request) -> Response:
        report = self.report()
        # degraded (e.g. spooling while the database is down) is still serving: 200
        return Response(503 if report["status"] == "error" else 200, _json(report), JSON)

    async def _metrics(self, _request: Request) -> Response:
        return Response(200, generate_latest(self.metrics.registry), CONTENT_TYPE_LATEST)

    async def start(self) -> None:
        routes: dict[str, Handler] = {"/healthz": self._healthz, "/metrics": self._metrics}
        routes |= self._routes
        for path, document in self._documents.items():

            async def serve(_request: Request, document: ComponentCheck = document) -> Response:
                return Response(200, _json(document()), JSON)

            routes[path] = serve
        access = Access(self.http)
        server = HttpServer(
            self.host,
            self.port,
            routes,
            limits=self.http.limits,
            ssl_context=self.http.ssl_context(),
            authorize=access if access.required else None,
            post_routes=self._post_routes,
        )
        await server.start()
        self._server, self.port = server, server.port
        self.metrics.bounds.watch(
            "http_connections",
            lambda: server.connections,
            lambda: server.outcomes["evicted"] + server.outcomes["refused_full"],
            limit=server.limits.max_connections,
        )
        scheme = "https" if server.ssl_context else "http"
        guarded = " (authentication required but for /healthz)" if access.required else ""
        log.info(
            "health and metrics on %s://%s:%d/healthz and /metrics%s",
            scheme,
            self.host,
            self.port,
            guarded,
        )

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()


def _json(document: Any) -> bytes:
    return json.dumps(document, default=str).encode()


class _HttpTotals(Collector):
    def __init__(self, health: HealthServer) -> None:
        self.health = health

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        server = self.health._server
        if server is None:
            return
        outcomes = CounterMetricFamily(
            "edumon_http_outcomes",
            "HTTP responses by status, and connections ended by edumon by reason "
            "(timeout, evicted, malformed, dropped, accept_failed, refused_full)",
            labels=["outcome"],
        )
        for outcome, n in sorted(server.outcomes.items()):
            outcomes.add_metric([outcome], n)
        yield outcomes
        yield GaugeMetricFamily(
            "edumon_http_connections", "HTTP connections open", value=server.connections
        )
