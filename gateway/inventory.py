"""The city's inventory: sites, their devices by kind, and named SNMP credential sets.

Secrets are never inline: a credential names the environment variable that holds it
(`community_env`, `auth_password_env`, ...). `gateway.config.load_config` resolves each
`<name>_env` into a SecretStr, read with `model.secret("<name>")` or a property such as
`SnmpCredential.community`; the value is in no field, so it is never in a repr or a dump.

`reference_problems` (unique ids and dev_euis, credential names that exist) and
`env_problems` (unset secrets) check the raw YAML data, so they are reported together with
schema errors.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
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

from gateway.yaml_lines import Path, dotted_path

_HOSTNAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


class Section(BaseModel):
    """Base of every config model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    _secrets: dict[str, SecretStr] = PrivateAttr(default_factory=dict)

    def secret(self, name: str) -> SecretStr | None:
        """The resolved value of `<name>_env`, or None when that key is not set."""
        return self._secrets.get(name)

    def resolve_secrets(self, environ: Mapping[str, str]) -> None:
        """Read every `<name>_env` here and in nested sections (all must be set: see
        `env_problems`); done once by `load_config`, before anyone else sees the model."""
        for name, value in self:
            if name.endswith("_env") and isinstance(value, str):
                self._secrets[name.removesuffix("_env")] = SecretStr(environ[value])
            children = list(value.values()) if isinstance(value, dict) else value
            for child in children if isinstance(children, list) else [value]:
                if isinstance(child, Section):
                    child.resolve_secrets(environ)


def _address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        if _HOSTNAME.fullmatch(value) and not value.replace(".", "").isdigit():
            return value
    raise ValueError(f"{value!r} is neither an IPv4/IPv6 address nor a host name")


def _dev_eui(value: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{16}", value):
        raise ValueError("dev_eui must be 16 hex digits (the 8-byte LoRaWAN EUI-64)")
    return value.lower()


def _size(value: Any) -> Any:
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
        if not match or match.group(2).lower() not in _UNITS:
            raise ValueError("expected a size like 1073741824, 512MiB or 1GiB")
        return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    return value


def _listen(value: str) -> str:
    match = re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[^:\s\[\]]+):(\d{1,5})", value)
    if not match or int(match.group(2)) > 65535:
        raise ValueError("expected host:port, e.g. 127.0.0.1:9108 or [::1]:9108")
    return value


Address = Annotated[str, AfterValidator(_address)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
EnvName = Annotated[str, Field(pattern=f"^{ENV_NAME.pattern}$")]
Interval = Annotated[float, Field(gt=0, le=86400)]
ByteSize = Annotated[int, BeforeValidator(_size), Field(gt=0)]
Listen = Annotated[str, AfterValidator(_listen)]


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
            v3_only = ("user", "auth_protocol", "auth_password_env", "priv_protocol")
            extra = [f for f in (*v3_only, "priv_password_env") if getattr(self, f) is not None]
            if "security_level" in self.model_fields_set:
                extra.append("security_level")
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

    @property
    def community(self) -> SecretStr | None:
        return self.secret("community")

    @property
    def auth_password(self) -> SecretStr | None:
        return self.secret("auth_password")

    @property
    def priv_password(self) -> SecretStr | None:
        return self.secret("priv_password")


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
    dev_eui: Annotated[str, AfterValidator(_dev_eui)]
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


def reference_problems(data: Mapping[str, Any]) -> Iterator[tuple[Path, str]]:
    """Repeated site ids, device ids and dev_euis (each repeat, naming the first use), and
    switches naming undefined credentials. Tolerates any shape: the schema reports those."""
    credentials = data.get("credentials")
    snmp = credentials.get("snmp") if isinstance(credentials, dict) else None
    known = sorted(str(name) for name in snmp) if isinstance(snmp, dict) else []
    first: dict[tuple[str, str], Path] = {}

    def repeated(what: str, value: Any, path: Path) -> Iterator[tuple[Path, str]]:
        if isinstance(value, str):
            if (what, value) in first:
                where = dotted_path(first[what, value][:-1])
                yield path, f"{what} {value!r} is already used by {where}"
            else:
                first[what, value] = path

    sites = data.get("sites")
    for si, site in enumerate(sites if isinstance(sites, list) else []):
        if not isinstance(site, dict):
            continue
        yield from repeated("site id", site.get("id"), ("sites", si, "id"))
        devices = site.get("devices")
        for di, device in enumerate(devices if isinstance(devices, list) else []):
            if not isinstance(device, dict):
                continue
            at: Path = ("sites", si, "devices", di)
            yield from repeated("device id", device.get("id"), (*at, "id"))
            eui = device.get("dev_eui")
            yield from repeated(
                "dev_eui", eui.lower() if isinstance(eui, str) else None, (*at, "dev_eui")
            )
            name = device.get("credentials")
            if device.get("kind") == "switch" and isinstance(name, str) and name not in known:
                listed = ", ".join(known) or "none defined"
                yield (*at, "credentials"), f"unknown SNMP credentials {name!r} (known: {listed})"


def env_problems(
    node: Any, environ: Mapping[str, str], path: Path = ()
) -> Iterator[tuple[Path, str]]:
    """Every `*_env` key whose environment variable is unset or empty (checked on the raw data,
    so it is reported even when the rest of the file has schema errors)."""
    if isinstance(node, dict):
        for key, value in node.items():
            child = (*path, str(key))
            if str(key).endswith("_env") and isinstance(value, str):
                if not ENV_NAME.fullmatch(value):
                    continue  # the schema reports the bad name
                if value not in environ:
                    yield child, f"environment variable {value} is not set"
                elif not environ[value]:
                    yield child, f"environment variable {value} is empty"
            else:
                yield from env_problems(value, environ, child)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from env_problems(item, environ, (*path, i))
