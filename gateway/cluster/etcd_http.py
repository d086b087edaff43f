"""A small etcd v3 client over its JSON/HTTP gateway (`/v3/...`), with aiohttp.

Only what membership needs: leases (grant, keepalive, revoke), put, range over a prefix and a
watch stream. Keys and values are base64 in the gateway's JSON; int64s come back as strings.
Every failure (connection, HTTP status, gRPC error in the body) is an `EtcdError`; the next
call tries the next endpoint, so a cluster of etcd servers is used as a whole.

Chosen over the PyPI clients: `aetcd` drags in grpcio and protobuf, and the gateway is part
of every etcd since 3.4, so aiohttp (already ours) is enough.
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr


class EtcdError(Exception):
    """etcd could not be reached or refused the request."""


class LeaseGone(EtcdError):
    """The lease expired (or was revoked) before it was kept alive."""


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: bytes
    lease: int


@dataclass(frozen=True)
class EtcdTls:
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if self.cert_file is not None and self.key_file is not None:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def prefix_end(prefix: str) -> str:
    """The range_end that selects every key starting with `prefix` (last byte + 1)."""
    raw = prefix.encode()
    return base64.b64encode(raw[:-1] + bytes([raw[-1] + 1])).decode()


class EtcdClient:
    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        timeout_s: float = 2.0,
        tls: EtcdTls | None = None,
        login: tuple[SecretStr, SecretStr] | None = None,
    ) -> None:
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.timeout_s = timeout_s
        self._ssl: ssl.SSLContext | bool = tls.context() if tls else True
        self._login = login
        self._token: str | None = None
        self._current = 0
        self._session: aiohttp.ClientSession | None = None

    @property
    def endpoint(self) -> str:
        return self.endpoints[self._current]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    def _failover(self) -> None:
        self._current = (self._current + 1) % len(self.endpoints)
        self._token = None

    async def _headers(self) -> dict[str, str]:
        if self._login is None:
            return {}
        if self._token is None:
            user, password = self._login
            body = {"name": user.get_secret_value(), "password": password.get_secret_value()}
            answer = await self._post("/v3/auth/authenticate", body, authenticate=False)
            self._token = str(answer["token"])
        return {"Authorization": self._token}

    async def _post(
        self, path: str, body: dict[str, Any], *, authenticate: bool = True
    ) -> dict[str, Any]:
        endpoint = self.endpoint
        try:
            headers = await self._headers() if authenticate else {}
            async with self._http().post(
                endpoint + path,
                json=body,
                headers=headers,
                ssl=self._ssl,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            ) as response:
                answer: dict[str, Any] = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
            self._failover()
            raise EtcdError(f"{endpoint}{path}: {str(error) or type(error).__name__}") from error
        if status >= 300 or "error" in answer:
            if status == 401:
                self._token = None
            message = answer.get("message") or answer.get("error")
            raise EtcdError(f"{endpoint}{path}: HTTP {status}: {message}")
        return answer

    async def grant(self, ttl_s: int) -> int:
        answer = await self._post("/v3/lease/grant", {"TTL": ttl_s})
        return int(answer["ID"])

    async def keepalive(self, lease: int) -> int:
        """Refresh the lease once; its TTL, or LeaseGone when it expired."""
        answer = await self._post("/v3/lease/keepalive", {"ID": str(lease)})
        ttl = int(answer.get("result", {}).get("TTL", 0))
        if ttl <= 0:
            raise LeaseGone(f"lease {lease:x} expired")
        return ttl

    async def revoke(self, lease: int) -> None:
        await self._post("/v3/lease/revoke", {"ID": str(lease)})

    async def put(self, key: str, value: bytes, lease: int = 0) -> None:
        body: dict[str, Any] = {"key": _b64(key), "value": base64.b64encode(value).decode()}
        if lease:
            body["lease"] = str(lease)
        await self._post("/v3/kv/put", body)

    async def range_prefix(self, prefix: str) -> tuple[list[KeyValue], int]:
        """Every key under `prefix`, and the store's revision they were read at."""
        answer = await self._post(
            "/v3/kv/range", {"key": _b64(prefix), "range_end": prefix_end(prefix)}
        )
        kvs = [
            KeyValue(
                base64.b64decode(kv["key"]).decode(),
                base64.b64decode(kv.get("value", "")),
                int(kv.get("lease", 0)),
            )
            for kv in answer.get("kvs", [])
        ]
        return kvs, int(answer["header"]["revision"])

    async def watch_prefix(self, prefix: str, start_revision: int) -> AsyncIterator[int]:
        """Yields the revision of every change under `prefix` from `start_revision` on; ends
        (EtcdError) when the stream breaks. No read timeout: a quiet watch is normal."""
        request = {
            "create_request": {
                "key": _b64(prefix),
                "range_end": prefix_end(prefix),
                "start_revision": start_revision,
            }
        }
        try:
            headers = await self._headers()
            async with self._http().post(
                self.endpoint + "/v3/watch",
                json=request,
                headers=headers,
                ssl=self._ssl,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout_s),
            ) as response:
                if response.status >= 300:
                    raise EtcdError(f"/v3/watch: HTTP {response.status}")
                async for line in response.content:
                    result = json.loads(line).get("result", {})
                    if result.get("canceled"):
                        raise EtcdError(f"watch canceled: {result.get('cancel_reason', '')}")
                    if result.get("events"):
                        yield int(result["header"]["revision"])
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
            self._failover()
            raise EtcdError(f"watch: {str(error) or type(error).__name__}") from error
        raise EtcdError("watch stream ended")
