"""`edumon dashboards push`: create or update every dashboard in a Grafana folder over its
HTTP API, with grafana-client (the maintained successor of grafana-api).

First the InfluxDB data source the dashboards name (uid `edumon-influxdb`): fetched by uid,
created when Grafana answers 404, otherwise updated. The folder is fetched by uid and created
only when Grafana answers 404; each dashboard is saved with `overwrite: true`, so pushing again
updates it in place. The API token and the InfluxDB password come from environment variables
the operator names and are never printed or logged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grafana_client.api import AsyncGrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from dashboards import FOLDER
from dashboards.build import DATASOURCE_PROVISIONING
from dashboards.common import DATASOURCE_UID

PUSH_MESSAGE = "edumon dashboards push"


class PushError(Exception):
    """Grafana refused or could not be reached; the message names the step, never the token."""


@dataclass(frozen=True)
class Pushed:
    uid: str
    url: str
    version: int


@dataclass(frozen=True)
class InfluxSource:
    """Where Grafana reads edumon's data: an InfluxQL (v1 API) database and a read-only login."""

    url: str
    database: str
    user: str = ""
    password: str = ""

    def model(self) -> dict[str, Any]:
        """The provisioning file's data source with this URL, database and login."""
        base: dict[str, Any] = DATASOURCE_PROVISIONING["datasources"][0]
        return {
            **base,
            "url": self.url,
            "user": self.user,
            "jsonData": {**base["jsonData"], "dbName": self.database},
            "secureJsonData": {"password": self.password},
        }


def secret_from_env(variable: str, environ: Mapping[str, str], what: str) -> str:
    value = environ.get(variable, "")
    if not value:
        raise PushError(f"environment variable {variable} ({what}) is not set")
    return value


async def push(
    url: str,
    token: str,
    models: Sequence[Mapping[str, Any]],
    source: InfluxSource,
    *,
    folder_title: str = FOLDER,
    folder_uid: str = FOLDER,
    timeout_s: float = 10.0,
) -> list[Pushed]:
    """Ensure the folder exists, then upsert every dashboard model into it."""
    api = AsyncGrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    try:
        await _upsert_datasource(api, source.model())
        await _ensure_folder(api, folder_title, folder_uid)
        return [await _upsert(api, model, folder_uid) for model in models]
    except GrafanaException as error:
        raise PushError(f"Grafana at {url}: {error.status_code}: {error.message}") from error
    except OSError as error:
        raise PushError(f"Grafana at {url} cannot be reached: {error}") from error


async def _upsert_datasource(api: AsyncGrafanaApi, model: dict[str, Any]) -> None:
    try:
        await api.datasource.get_datasource_by_uid(DATASOURCE_UID)
    except GrafanaClientError as error:
        if error.status_code != 404:
            raise
        await api.datasource.create_datasource(model)
    else:
        await api.datasource.update_datasource_by_uid(DATASOURCE_UID, model)


async def _ensure_folder(api: AsyncGrafanaApi, title: str, uid: str) -> None:
    try:
        await api.folder.get_folder(uid)
    except GrafanaClientError as error:
        if error.status_code != 404:
            raise
        await api.folder.create_folder(title, uid=uid)


async def _upsert(api: AsyncGrafanaApi, model: Mapping[str, Any], folder_uid: str) -> Pushed:
    # Grafana matches by uid; a numeric id from another instance would be rejected
    dashboard = {key: value for key, value in model.items() if key != "id"}
    answer: dict[str, Any] = await api.dashboard.update_dashboard(
        {
            "dashboard": dashboard,
            "folderUid": folder_uid,
            "overwrite": True,
            "message": PUSH_MESSAGE,
        }
    )
    return Pushed(str(answer["uid"]), str(answer.get("url", "")), int(answer.get("version", 0)))
