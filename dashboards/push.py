"""`edumon dashboards push`: create or update every dashboard in a Grafana folder over its
HTTP API, with grafana-client (the maintained successor of grafana-api).

The folder is fetched by uid and created only when Grafana answers 404; each dashboard is
saved with `overwrite: true`, so pushing again updates it in place. The API token comes from
the environment variable the operator names and is never printed or logged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grafana_client.api import AsyncGrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from dashboards import FOLDER

PUSH_MESSAGE = "edumon dashboards push"


class PushError(Exception):
    """Grafana refused or could not be reached; the message names the step, never the token."""


@dataclass(frozen=True)
class Pushed:
    uid: str
    url: str
    version: int


def token_from_env(variable: str, environ: Mapping[str, str]) -> str:
    token = environ.get(variable, "")
    if not token:
        raise PushError(f"environment variable {variable} (the Grafana API token) is not set")
    return token


async def push(
    url: str,
    token: str,
    models: Sequence[Mapping[str, Any]],
    *,
    folder_title: str = FOLDER,
    folder_uid: str = FOLDER,
    timeout_s: float = 10.0,
) -> list[Pushed]:
    """Ensure the folder exists, then upsert every dashboard model into it."""
    api = AsyncGrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    try:
        await _ensure_folder(api, folder_title, folder_uid)
        return [await _upsert(api, model, folder_uid) for model in models]
    except GrafanaException as error:
        raise PushError(f"Grafana at {url}: {error.status_code}: {error.message}") from error
    except OSError as error:
        raise PushError(f"Grafana at {url} cannot be reached: {error}") from error


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
