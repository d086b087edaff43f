"""The HTTP boundary to InfluxDB-compatible databases: v1 `/write` and v2 `/api/v2/write`."""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass
from typing import Literal

import aiohttp
from pydantic import SecretStr

from gateway.sections import InfluxSection
from gateway.storage.write_status import retry_after_seconds


@dataclass(frozen=True)
class InfluxTarget:
    """Where and how to write. Secrets stay SecretStr until the moment a header is built."""

    url: str
    api: Literal["v1", "v2"] = "v1"
    database: str = "edumon"
    retention_policy: str | None = None
    username: SecretStr | None = None
    password: SecretStr | None = None
    org: str | None = None
    bucket: str | None = None
    token: SecretStr | None = None
    gzip: bool = True
    timeout_s: float = 10.0

    def endpoint(self) -> tuple[str, dict[str, str]]:
        base = self.url.rstrip("/")
        if self.api == "v2":
            return f"{base}/api/v2/write", {
                "org": self.org or "",
                "bucket": self.bucket or "",
                "precision": "ns",
            }
        params = {"db": self.database, "precision": "ns"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        return f"{base}/write", params

    def headers(self) -> dict[str, str]:
        """The headers of a write."""
        headers = {"Content-Type": "text/plain; charset=utf-8", **self.authorization()}
        if self.gzip:
            headers["Content-Encoding"] = "gzip"
        return headers

    def authorization(self) -> dict[str, str]:
        """The v2 token header, for writes and queries alike (v1 logins go in `auth`)."""
        if self.api == "v2" and self.token is not None:
            return {"Authorization": f"Token {self.token.get_secret_value()}"}
        return {}

    def auth(self) -> aiohttp.BasicAuth | None:
        if self.api == "v1" and self.username is not None:
            password = self.password.get_secret_value() if self.password else ""
            return aiohttp.BasicAuth(self.username.get_secret_value(), password)
        return None

    def describe(self) -> str:
        """For logs: never includes a secret."""
        where = self.bucket if self.api == "v2" else self.database
        return f"{self.url} ({self.api}, {where})"


def influx_target(db: InfluxSection) -> InfluxTarget:
    """The target the config's `influxdb` section names."""
    return InfluxTarget(
        url=str(db.url),
        api=db.api,
        database=db.database,
        retention_policy=db.retention_policy,
        username=db.username,
        password=db.password,
        org=db.org,
        bucket=db.bucket,
        token=db.token,
        gzip=db.gzip,
        timeout_s=db.timeout_s,
    )


@dataclass(frozen=True)
class WriteResponse:
    status: int
    body: str
    retry_after_s: float | None


class InfluxHttp:
    """Posts line protocol; the only place that talks HTTP to the database."""

    def __init__(self, target: InfluxTarget) -> None:
        self.target = target
        self._session: aiohttp.ClientSession | None = None

    async def post(self, payload: bytes, *, gzipped: bool) -> WriteResponse:
        """POST line protocol (gzip-compressed or not, as `gzipped` says).

        Raises aiohttp.ClientError or TimeoutError when there is no HTTP answer.
        """
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.target.timeout_s)
            )
        url, params = self.target.endpoint()
        if gzipped and not self.target.gzip:
            payload = gzip.decompress(payload)
        elif not gzipped and self.target.gzip:
            payload = gzip.compress(payload, compresslevel=1)
        async with self._session.post(
            url, params=params, data=payload, headers=self.target.headers(), auth=self.target.auth()
        ) as response:
            text = await response.text(errors="replace")
            retry_after = retry_after_seconds(response.headers.get("Retry-After"), now=time.time())
            return WriteResponse(response.status, text[:2000], retry_after)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
