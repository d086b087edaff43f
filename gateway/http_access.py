"""Who may read edumon's HTTP endpoints, and over what: `service.http` in the config, shaped
like the Prometheus exporter-toolkit's web.yml.

    service:
      http:
        tls_server_config: {cert_file: /etc/edumon/tls.crt, key_file: /etc/edumon/tls.key}
        basic_auth_users:                  # user: bcrypt hash (htpasswd -nBC 12 USER)
          prometheus: $2b$12$...
        basic_auth_users_file: /etc/edumon/http.htpasswd   # and/or: htpasswd -cB lines
        bearer_token_env: EDUMON_HTTP_TOKEN                # a token, from the environment

With users or a token configured, every path but `/healthz` needs one of them (401 with a
Basic challenge otherwise). Passwords are only in the config as bcrypt hashes, the token only
in the environment (`edumon status` sends it too); none is ever logged. bcrypt is slow on
purpose, so it runs in a worker thread, at most two at a time, and a successful check is
remembered (bounded, by a digest of the credentials): a scraper costs one bcrypt per start.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import ssl
from collections import OrderedDict
from pathlib import Path
from typing import Annotated

import bcrypt
from pydantic import Field, StringConstraints

from gateway.http_server import HttpLimits, Request, Response
from gateway.inventory import EnvName, Interval, Section
from gateway.limits import LIMITS

PUBLIC_PATHS = frozenset({"/healthz"})
BCRYPT = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")
BcryptHash = Annotated[str, StringConstraints(pattern=f"^{BCRYPT.pattern}$")]
CHALLENGE = Response(
    401, b"authentication required\n", headers=(("WWW-Authenticate", 'Basic realm="edumon"'),)
)


class TlsServerConfig(Section):
    cert_file: Path
    key_file: Path


class HttpSection(Section):
    tls_server_config: TlsServerConfig | None = None
    basic_auth_users: dict[str, BcryptHash] = Field(default_factory=dict)
    basic_auth_users_file: Path | None = None
    bearer_token_env: EnvName | None = None
    header_timeout_s: Interval = 5.0
    body_timeout_s: Interval = 5.0
    keepalive_timeout_s: Interval = 15.0
    write_timeout_s: Interval = 10.0
    max_connections: int = Field(default=LIMITS["http_connections"], ge=8, le=60_000)

    @property
    def limits(self) -> HttpLimits:
        return HttpLimits(
            header_timeout_s=self.header_timeout_s,
            body_timeout_s=self.body_timeout_s,
            keepalive_timeout_s=self.keepalive_timeout_s,
            write_timeout_s=self.write_timeout_s,
            max_connections=self.max_connections,
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        tls = self.tls_server_config
        if tls is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(tls.cert_file, tls.key_file)
        return context


class Access:
    """Checks a request's Authorization header against the configured users and tokens."""

    def __init__(self, section: HttpSection) -> None:
        self.users = {name: hashed.encode() for name, hashed in section.basic_auth_users.items()}
        if section.basic_auth_users_file is not None:
            self.users.update(read_htpasswd(section.basic_auth_users_file))
        token = section.secret("bearer_token")
        self.tokens = [_digest(token.get_secret_value())] if token is not None else []
        self.refused = 0
        self._verified: OrderedDict[bytes, None] = OrderedDict()  # digests of good credentials
        self._bcrypt_slots = asyncio.Semaphore(2)

    @property
    def required(self) -> bool:
        return bool(self.users or self.tokens)

    async def __call__(self, request: Request) -> Response | None:
        if request.path in PUBLIC_PATHS or await self._allowed(request.headers):
            return None
        self.refused += 1
        return CHALLENGE

    async def _allowed(self, headers: dict[str, str]) -> bool:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.tokens:
            digest = _digest(credentials.strip())
            return any(hmac.compare_digest(digest, token) for token in self.tokens)
        if scheme.lower() != "basic" or not self.users:
            return False
        try:
            user, colon, password = base64.b64decode(credentials, validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return False
        hashed = self.users.get(user.decode("utf-8", "replace"))
        if not colon or hashed is None:
            return False
        key = hashlib.sha256(hashed + b"\0" + password).digest()
        if key in self._verified:
            self._verified.move_to_end(key)
            return True
        async with self._bcrypt_slots:
            good = await asyncio.to_thread(_checkpw, password, hashed)
        if good:
            self._verified[key] = None
            while len(self._verified) > LIMITS["http_auth_cache"]:
                self._verified.popitem(last=False)
        return good


def _checkpw(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # bcrypt refuses passwords over 72 bytes
        return False


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def read_htpasswd(path: Path) -> dict[str, bytes]:
    """`user:bcrypt-hash` lines (htpasswd -B); other hash kinds are refused, naming the line."""
    users = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        user, _, hashed = line.strip().partition(":")
        if not user or not BCRYPT.fullmatch(hashed):
            raise ValueError(f"{path}:{number}: not a user:bcrypt-hash line (htpasswd -B)")
        users[user] = hashed.encode()
    return users
