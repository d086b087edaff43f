"""The building blocks of the config and the city's inventory: the `Section` base, value types,
sites and the device base. Each collector defines its own device kinds on `DeviceBase`
(collectors/*/config.py); gateway/config.py assembles them into the sites' device list.

Secrets are never inline: a credential names the environment variable that holds it
(`community_env`, `auth_password_env`, ...). `gateway.config.load_config` resolves each
`<name>_env` into a SecretStr, read with `model.secret("<name>")` or a property such as
`SnmpCredential.community`; the value is in no field, so it is never in a repr or a dump.

`reference_problems` (unique site and device ids) and `env_problems` (unset secrets) check
the raw YAML data, so they are reported together with schema errors; collectors add their
own checks of the raw data (see `CollectorPlugin.config_problems`).
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


def address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        if _HOSTNAME.fullmatch(value) and not value.replace(".", "").isdigit():
            return value
    raise ValueError(f"{value!r} is neither an IPv4/IPv6 address nor a host name")


def dev_eui(value: str) -> str:
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


Address = Annotated[str, AfterValidator(address)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
EnvName = Annotated[str, Field(pattern=f"^{ENV_NAME.pattern}$")]
Interval = Annotated[float, Field(gt=0, le=86400)]
ByteSize = Annotated[int, BeforeValidator(_size), Field(gt=0)]
Listen = Annotated[str, AfterValidator(_listen)]


class Location(Section):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


def mac_address(value: str) -> str:
    """A MAC in any common spelling (aa:bb.., aa-bb.., aabb.ccdd.eeff, aabbccddeeff) as
    lower-case aa:bb:cc:dd:ee:ff."""
    digits = re.sub(r"[:.\-]", "", value.strip()).lower()
    if not re.fullmatch(r"[0-9a-f]{12}", digits):
        raise ValueError(f"{value!r} is not a MAC address (12 hex digits)")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


MacAddress = Annotated[str, AfterValidator(mac_address)]


class ManualLink(Section):
    """A link of the city's topology that no LLDP/CDP shows (a device that speaks neither):
    this device's port `ifname` (optional) to `peer` (an inventory device id) port
    `peer_ifname`."""

    peer: Slug
    ifname: str | None = None
    peer_ifname: str | None = None


class DeviceBase(Section):
    """What every device of every collector has; subclasses set `kind` to a Literal.
    `mac` and `links` place it in the city's topology (gateway/topology/)."""

    kind: str
    id: Slug
    mac: MacAddress | None = None
    links: list[ManualLink] = Field(default_factory=list, max_length=64)


class Site(Section):
    """A site; gateway/config.py narrows `devices` to the union of the collectors' kinds."""

    id: Slug
    name: str = Field(min_length=1)
    kind: Literal["school", "science_centre", "network"] = "school"  # network: the city's own
    address: str | None = None
    location: Location | None = None
    devices: list[DeviceBase] = Field(default_factory=list)


def raw_devices(data: Mapping[str, Any]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every device mapping of the raw YAML data with its path; tolerates any shape."""
    sites = data.get("sites")
    for si, site in enumerate(sites if isinstance(sites, list) else []):
        devices = site.get("devices") if isinstance(site, dict) else None
        for di, device in enumerate(devices if isinstance(devices, list) else []):
            if isinstance(device, dict):
                yield ("sites", si, "devices", di), device


def repeated_values(what: str, values: Iterator[tuple[Path, Any]]) -> Iterator[tuple[Path, str]]:
    """Each repeat of a value that must be unique, naming its first use."""
    first: dict[str, Path] = {}
    for path, value in values:
        if not isinstance(value, str):
            continue
        if value in first:
            yield path, f"{what} {value!r} is already used by {dotted_path(first[value][:-1])}"
        else:
            first[value] = path


def reference_problems(data: Mapping[str, Any]) -> Iterator[tuple[Path, str]]:
    """Repeated site ids and device ids. Tolerates any shape: the schema reports those."""
    sites = data.get("sites")
    site_ids = (
        (("sites", si, "id"), site.get("id"))
        for si, site in enumerate(sites if isinstance(sites, list) else [])
        if isinstance(site, dict)
    )
    yield from repeated_values("site id", site_ids)
    device_ids = (((*at, "id"), device.get("id")) for at, device in raw_devices(data))
    yield from repeated_values("device id", device_ids)
    yield from _topology_references(data)


def _topology_references(data: Mapping[str, Any]) -> Iterator[tuple[Path, str]]:
    """`links:` peers and `topology.roots` that name no device of the inventory."""
    known = {device.get("id") for _, device in raw_devices(data)}
    for at, device in raw_devices(data):
        links = device.get("links")
        for li, link in enumerate(links if isinstance(links, list) else []):
            peer = link.get("peer") if isinstance(link, dict) else None
            if isinstance(peer, str) and peer not in known:
                yield (*at, "links", li, "peer"), f"no device {peer!r} in the inventory"
            if peer == device.get("id"):
                yield (*at, "links", li, "peer"), "a device cannot link to itself"
    topology = data.get("topology")
    roots = topology.get("roots") if isinstance(topology, dict) else None
    for ri, root in enumerate(roots if isinstance(roots, list) else []):
        if isinstance(root, str) and root not in known:
            yield ("topology", "roots", ri), f"no device {root!r} in the inventory"


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
