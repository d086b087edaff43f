"""`edumon dashboards push` (a real child process) against a local fake of Grafana's HTTP
API: the fake only records requests and answers like Grafana's folder and dashboard endpoints.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from dashboards.build import dashboard_models
from tests.processes import REPO

TOKEN_ENV = "EDUMON_TEST_GRAFANA_TOKEN"
PASSWORD_ENV = "EDUMON_TEST_INFLUX_PASSWORD"
PASSWORD = secrets.token_urlsafe(12)
DATASOURCE_CALLS = [("GET", "/api/datasources/uid/edumon-influxdb")]


@dataclass
class Recorded:
    method: str
    path: str
    authorization: str
    body: Any


@dataclass
class FakeGrafana:
    """Folders by uid and dashboards by uid, with versions, like Grafana keeps them."""

    token: str
    requests: list[Recorded] = field(default_factory=list)
    folders: dict[str, str] = field(default_factory=dict)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/api/datasources/uid/{uid}", self._get_datasource)
        app.router.add_post("/api/datasources", self._create_datasource)
        app.router.add_put("/api/datasources/uid/{uid}", self._update_datasource)
        app.router.add_get("/api/folders/{uid}", self._get_folder)
        app.router.add_post("/api/folders", self._create_folder)
        app.router.add_post("/api/dashboards/db", self._save_dashboard)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else None
        auth = request.headers.get("Authorization", "")
        self.requests.append(Recorded(request.method, request.path, auth, body))
        if auth != f"Bearer {self.token}":
            return web.json_response({"message": "invalid API key"}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    async def _get_datasource(self, request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        if uid not in self.datasources:
            return web.json_response({"message": "Data source not found"}, status=404)
        return web.json_response(self.datasources[uid])

    async def _create_datasource(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.datasources[body["uid"]] = body
        return web.json_response({"datasource": body, "id": 3, "message": "Datasource added"})

    async def _update_datasource(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.datasources[request.match_info["uid"]] = body
        return web.json_response({"datasource": body, "message": "Datasource updated"})

    async def _get_folder(self, request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        if uid not in self.folders:
            return web.json_response({"message": "folder not found"}, status=404)
        return web.json_response({"uid": uid, "title": self.folders[uid]})

    async def _create_folder(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.folders[body["uid"]] = body["title"]
        return web.json_response({"uid": body["uid"], "title": body["title"], "id": 7})

    async def _save_dashboard(self, request: web.Request) -> web.Response:
        body = await request.json()
        uid = body["dashboard"]["uid"]
        if body["folderUid"] not in self.folders:
            return web.json_response({"message": "folder not found"}, status=400)
        if uid in self.versions and not body.get("overwrite"):
            return web.json_response({"message": "version-mismatch"}, status=412)
        self.versions[uid] = self.versions.get(uid, 0) + 1
        return web.json_response(
            {"uid": uid, "url": f"/d/{uid}/x", "status": "success", "version": self.versions[uid]}
        )


@pytest.fixture
async def grafana() -> AsyncIterator[FakeGrafana]:
    fake = FakeGrafana(token=secrets.token_urlsafe(16))
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"http://127.0.0.1:{port}"
    yield fake
    await runner.cleanup()


async def edumon_push(url: str, env: dict[str, str]) -> tuple[int, str]:
    """`edumon dashboards push --url URL --token-env TOKEN_ENV`: exit code and all output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "dashboards",
        "push",
        "--url",
        url,
        "--token-env",
        TOKEN_ENV,
        "--influxdb-url",
        "http://influxdb:8086",
        "--influxdb-user",
        "grafana",
        "--influxdb-password-env",
        PASSWORD_ENV,
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return await process.wait(), output.decode()


def environment(token: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV} | {PASSWORD_ENV: PASSWORD}
    return env if token is None else {**env, TOKEN_ENV: token}


async def test_push_creates_the_folder_then_upserts_every_dashboard(grafana: FakeGrafana) -> None:
    code, output = await edumon_push(grafana.url, environment(grafana.token))
    assert code == 0, output
    uids = [model["uid"] for model in dashboard_models()]
    calls = [(r.method, r.path) for r in grafana.requests]
    assert calls == [
        *DATASOURCE_CALLS,
        ("POST", "/api/datasources"),
        ("GET", "/api/folders/edumon"),
        ("POST", "/api/folders"),
        *[("POST", "/api/dashboards/db")] * len(uids),
    ]
    source = grafana.datasources["edumon-influxdb"]
    assert (source["type"], source["url"], source["user"]) == (
        "influxdb",
        "http://influxdb:8086",
        "grafana",
    )
    assert source["jsonData"]["dbName"] == "edumon"
    assert source["secureJsonData"] == {"password": PASSWORD} and PASSWORD not in output
    assert grafana.requests[3].body == {"title": "edumon", "uid": "edumon"}
    saves = [r.body for r in grafana.requests[4:]]
    assert [s["dashboard"]["uid"] for s in saves] == uids
    assert all(s["overwrite"] is True and s["folderUid"] == "edumon" for s in saves)
    assert all("id" not in s["dashboard"] and s["dashboard"]["panels"] for s in saves)
    assert {r.authorization for r in grafana.requests} == {f"Bearer {grafana.token}"}
    assert grafana.token not in output
    assert output.splitlines() == [f"{uid} version 1 /d/{uid}/x" for uid in uids]


async def test_pushing_again_updates_in_place(grafana: FakeGrafana) -> None:
    assert (await edumon_push(grafana.url, environment(grafana.token)))[0] == 0
    grafana.requests.clear()
    code, output = await edumon_push(grafana.url, environment(grafana.token))
    assert code == 0, output
    assert [(r.method, r.path) for r in grafana.requests][:4] == [
        *DATASOURCE_CALLS,
        ("PUT", "/api/datasources/uid/edumon-influxdb"),
        ("GET", "/api/folders/edumon"),
        ("POST", "/api/dashboards/db"),
    ]
    assert set(grafana.versions.values()) == {2}


async def test_a_missing_token_variable_stops_before_any_request(grafana: FakeGrafana) -> None:
    code, output = await edumon_push(grafana.url, environment(None))
    assert code == 1 and TOKEN_ENV in output
    assert grafana.requests == []


async def test_a_rejected_token_is_reported_without_the_token(grafana: FakeGrafana) -> None:
    wrong = secrets.token_urlsafe(16)
    code, output = await edumon_push(grafana.url, environment(wrong))
    assert code == 1
    assert "401" in output and wrong not in output and grafana.token not in output
    assert [(r.method, r.path) for r in grafana.requests] == DATASOURCE_CALLS
