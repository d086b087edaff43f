"""The city's inventory: sites, their devices by kind, and named SNMP credential sets.

Secrets are never inline: a credential names the environment variable that holds it
(`community_env`, `auth_password_env`, ...); `gateway.config` resolves them into SecretStr.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    model_validator,
)

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$")
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Section(BaseModel):
    """Base of every config model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    _secrets: dict[str, SecretStr] = PrivateAttr(default_factory=dict)

    def secret(self, name: str) -> SecretStr | None:
        """The resolved value of `<name>_env`, or None when that key is not set."""
        return self._secrets.get(name)


def _address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        if _HOSTNAME.match(value) and not value.replace(".", "").isdigit():
            return value
    raise ValueError(f"{value!r} is neither an IPv4/IPv6 address nor a host name")


Address = Annotated[str, AfterValidator(_address)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
EnvName = Annotated[str, Field(pattern=_ENV_NAME)]
Interval = Annotated[float, Field(gt=0, le=86400)]


class Location(Section):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class SnmpCredential(Section):
    """SNMP v2c (community) or v3 (USM user, with the security level's rules enforced)."""

    version: Annotated[Literal["2c", "3"], BeforeValidator(str)]
    community_env: EnvName | None = None
    user: str | None = None
    security_level: Literal["noAuthNoPriv", "authNoPriv", "authPriv"] = "authPriv"
    auth_protocol: Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"] | None = None
    auth_password_env: EnvName | None = None
    priv_protocol: Literal["aes"] | None = None  # AES-128-CFB (RFC 3826); DES is obsolete
    priv_password_env: EnvName | None = None

    @model_validator(mode="after")
    def _security_rules(self) -> SnmpCredential:
        if self.version == "2c":
            if self.community_env is None:
                raise ValueError("community_env is required for SNMP v2c")
            extra = [
                f for f in ("user", "auth_password_env", "priv_password_env") if getattr(self, f)
            ]
            if extra:
                raise ValueError(f"{', '.join(extra)} only apply to SNMP v3")
            return self
        if self.user is None:
            raise ValueError("user is required for SNMP v3")
        if self.community_env is not None:
            raise ValueError("community_env only applies to SNMP v2c")
        wants_auth = self.security_level != "noAuthNoPriv"
        wants_priv = self.security_level == "authPriv"
        for needed, fields in (
            (wants_auth, ("auth_protocol", "auth_password_env")),
            (wants_priv, ("priv_protocol", "priv_password_env")),
        ):
            for name in fields:
                if needed and getattr(self, name) is None:
                    raise ValueError(f"{name} is required for SNMP v3 with {self.security_level}")
                if not needed and getattr(self, name) is not None:
                    raise ValueError(f"{name} must not be set with {self.security_level}")
        return self


class Credentials(Section):
    snmp: dict[str, SnmpCredential] = Field(default_factory=dict)


class Switch(Section):
    kind: Literal["switch"]
    id: Slug
    role: Literal["core", "access"] = "access"
    address: Address
    port: int = Field(default=161, ge=1, le=65535)
    credentials: str
    interval_s: Interval | None = None
    timeout_s: Interval | None = None
    retries: int | None = Field(default=None, ge=0, le=10)


class AccessPoint(Section):
    kind: Literal["access_point"]
    id: Slug
    room: str
    address: Address | None = None


class Exhibit(Section):
    kind: Literal["exhibit"]
    id: Slug
    name: str | None = None
    zone: str


class LorawanSensor(Section):
    kind: Literal["lorawan_sensor"]
    id: Slug
    dev_eui: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{16}$"), AfterValidator(str.lower)]
    room: str | None = None
    profile: Literal["env-sensor", "exhibit-node"] = "env-sensor"


class ProbeTarget(Section):
    kind: Literal["probe_target"]
    id: Slug
    address: Address
    methods: list[Literal["icmp", "tcp", "dns"]] = Field(default=["icmp"], min_length=1)
    tcp_port: int | None = Field(default=None, ge=1, le=65535)
    dns_name: str | None = None
    dns_type: Literal["A", "AAAA"] = "A"
    dns_expect: list[Annotated[str, AfterValidator(_address)]] = Field(default_factory=list)
    interval_s: Interval | None = None
    burst: int | None = Field(default=None, ge=1, le=100)
    timeout_s: Interval | None = None

    @model_validator(mode="after")
    def _method_settings(self) -> ProbeTarget:
        if "tcp" in self.methods and self.tcp_port is None:
            raise ValueError("tcp_port is required when methods include tcp")
        if "dns" in self.methods and not self.dns_name:
            raise ValueError("dns_name is required when methods include dns")
        return self


Device = Annotated[
    Switch | AccessPoint | Exhibit | LorawanSensor | ProbeTarget, Field(discriminator="kind")
]
DeviceKind = Literal["switch", "access_point", "exhibit", "lorawan_sensor", "probe_target"]


class Site(Section):
    id: Slug
    name: str = Field(min_length=1)
    kind: Literal["school", "science_centre"] = "school"
    address: str | None = None
    location: Location | None = None
    devices: list[Device] = Field(default_factory=list)


def duplicates(values: list[Any]) -> list[Any]:
    """Values that occur more than once, each listed once."""
    counts: dict[Any, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return [value for value, n in counts.items() if n > 1]
