"""HTTP `/healthz` (JSON, one entry per component), `/metrics` (Prometheus text format) and
other JSON documents (`/status`)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.metrics import Metrics

log = logging.getLogger(__name__)

ComponentCheck = Callable[[], dict[str, Any]]
_SEVERITY = {"ok": 0, "degraded": 1, "error": 2}


class HealthServer:
    """Components register a check returning at least {"status": ok|degraded|error}."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._checks: dict[str, ComponentCheck] = {}
        self._documents: dict[str, ComponentCheck] = {}
        self._runner: web.AppRunner | None = None

    def register(self, name: str, check: ComponentCheck) -> None:
        self._checks[name] = check

    def serve_json(self, path: str, document: ComponentCheck) -> None:
        """Another read-only JSON document, e.g. `/status` for `edumon status`."""
        self._documents[path] = document

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

    async def _healthz(self, _request: web.Request) -> web.Response:
        report = self.report()
        # degraded (e.g. spooling while the database is down) is still serving: 200
        return web.json_response(report, status=503 if report["status"] == "error" else 200)

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        for path, document in self._documents.items():

            async def serve(
                _request: web.Request, document: ComponentCheck = document
            ) -> web.Response:
                return web.json_response(document())

            app.router.add_get(path, serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as error:  # name the address, as asyncio's servers do
            sock.close()
            where = f"({self.host!r}, {self.port})"
            raise OSError(
                error.errno, f"error while attempting to bind on address {where}: {error.strerror}"
            ) from error
        self.port = sock.getsockname()[1]  # resolves port 0 for tests
        await web.SockSite(self._runner, sock).start()
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
