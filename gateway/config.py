"""edumon's YAML config: pydantic-validated, every problem reported as file:line: field: message.

`load_config` returns an immutable `EdumonConfig` with secrets resolved from the environment
(never from the file) into SecretStr, or raises `ConfigError` listing *all* problems: unknown
keys, bad values, cross-references, and missing environment variables.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BeforeValidator, Field, SecretStr, ValidationError

from gateway.inventory import (
    Credentials,
    Device,
    DeviceKind,
    EnvName,
    Interval,
    Section,
    Site,
    duplicates,
)
from gateway.yaml_lines import YamlProblem, line_of, load_with_lines

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
_INLINE_SECRETS = {"password", "community", "token", "auth_password", "priv_password", "username"}


def _size(value: Any) -> Any:
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
        if not match or match.group(2).lower() not in _UNITS:
            raise ValueError(f"{value!r} is not a size like 1073741824, 512MiB or 1GiB")
        return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    return value


ByteSize = Annotated[int, BeforeValidator(_size), Field(gt=0)]


class ServiceSection(Section):
    name: str = "edumon"
    http_listen: str = Field(default="127.0.0.1:9108", pattern=r"^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d+$")
    state_dir: Path = Path("state")
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class InfluxSection(Section):
    url: str = Field(default="http://127.0.0.1:8086", pattern=r"^https?://")
    api: Literal["v1", "v2"] = "v1"
    database: str = "edumon"
    retention_policy: str | None = None
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    org: str | None = None
    bucket: str | None = None
    token_env: EnvName | None = None
    batch_size: int = Field(default=5000, ge=1, le=1_000_000)
    flush_interval_s: Interval = 1.0
    max_in_flight: int = Field(default=2, ge=1, le=64)
    gzip: bool = True
    timeout_s: Interval = 10.0
    max_retry_delay_s: Interval = 30.0

    @property
    def username(self) -> SecretStr | None:
        return self.secret("username")

    @property
    def password(self) -> SecretStr | None:
        return self.secret("password")

    @property
    def token(self) -> SecretStr | None:
        return self.secret("token")


class SpoolSection(Section):
    max_bytes: ByteSize = 2**30
    segment_bytes: ByteSize = 64 * 2**20


class MqttSection(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    tls: bool = False
    client_id: str = "edumon"
    # several edumon instances with the same group split the stream (MQTT v5 $share)
    shared_group: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$")

    @property
    def username(self) -> SecretStr | None:
        return self.secret("username")

    @property
    def password(self) -> SecretStr | None:
        return self.secret("password")


class SnmpSection(Section):
    trap_listen: str | None = Field(default=None, pattern=r"^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d+$")
    max_repetitions: int = Field(default=25, ge=1, le=200)
    max_concurrent: int = Field(default=64, ge=1, le=4096)


class AlertmanagerSection(Section):
    url: str = Field(default="http://127.0.0.1:9093", pattern=r"^https?://")


class Defaults(Section):
    snmp_interval_s: Interval = 60.0
    probe_interval_s: Interval = 10.0
    snmp_timeout_s: Interval = 5.0
    snmp_retries: int = Field(default=1, ge=0, le=10)
    probe_burst: int = Field(default=5, ge=1, le=100)
    probe_spacing_s: float = Field(default=0.2, ge=0, le=10)
    probe_timeout_s: Interval = 1.0


class EdumonConfig(Section):
    service: ServiceSection = ServiceSection()
    influxdb: InfluxSection = InfluxSection()
    spool: SpoolSection = SpoolSection()
    mqtt: MqttSection = MqttSection()
    snmp: SnmpSection = SnmpSection()
    alertmanager: AlertmanagerSection | None = None
    credentials: Credentials = Credentials()
    defaults: Defaults = Defaults()
    sites: list[Site] = Field(default_factory=list)

    def devices(self, kind: DeviceKind | None = None) -> Iterator[tuple[Site, Device]]:
        for site in self.sites:
            for device in site.devices:
                if kind is None or device.kind == kind:
                    yield site, device


class ConfigProblem(NamedTuple):
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def load_config(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> EdumonConfig:
    config, problems = _load(Path(path), os.environ if environ is None else environ)
    if problems or config is None:
        raise ConfigError(problems)
    return config


def check_config(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> list[ConfigProblem]:
    return _load(Path(path), os.environ if environ is None else environ)[1]


def _load(
    path: Path, environ: Mapping[str, str]
) -> tuple[EdumonConfig | None, list[ConfigProblem]]:
    file = str(path)
    try:
        data, lines = load_with_lines(path.read_text(encoding="utf-8"))
    except OSError as error:
        return None, [ConfigProblem(file, None, "", f"cannot read: {error.strerror}")]
    except YamlProblem as error:
        return None, [ConfigProblem(file, error.line, "", error.message)]
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None, [ConfigProblem(file, 1, "", "the top level must be a mapping of sections")]
    problems = [
        ConfigProblem(file, line_of(lines, p), _dotted(p), m)
        for p, m in _missing_env(data, environ)
    ]
    try:
        config = EdumonConfig.model_validate(data)
    except ValidationError as error:
        schema = [_problem(file, lines, e) for e in error.errors()]
        return None, sorted(schema + problems, key=lambda p: (p.line or 0, p.field))
    problems += [
        ConfigProblem(file, line_of(lines, p), _dotted(p), m) for p, m in _cross_references(config)
    ]
    if problems:
        return None, sorted(problems, key=lambda p: (p.line or 0, p.field))
    _resolve_secrets(config, environ)
    return config, []


def _missing_env(
    node: Any, environ: Mapping[str, str], path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every `*_env` key whose environment variable is not set (checked on the raw data, so it
    is reported even when the rest of the file has schema errors)."""
    if isinstance(node, dict):
        for key, value in node.items():
            child = (*path, str(key))
            if str(key).endswith("_env") and isinstance(value, str) and value not in environ:
                yield child, f"environment variable {value} is not set"
            else:
                yield from _missing_env(value, environ, child)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _missing_env(item, environ, (*path, i))


def _cross_references(config: EdumonConfig) -> Iterator[tuple[tuple[str | int, ...], str]]:
    for dup in duplicates([site.id for site in config.sites]):
        index = max(i for i, s in enumerate(config.sites) if s.id == dup)
        yield ("sites", index, "id"), f"site id {dup!r} is used twice"
    all_devices = [
        (si, di, d) for si, s in enumerate(config.sites) for di, d in enumerate(s.devices)
    ]
    for dup in duplicates([d.id for _, _, d in all_devices]):
        si, di, _ = [x for x in all_devices if x[2].id == dup][-1]
        yield ("sites", si, "devices", di, "id"), f"device id {dup!r} is used twice"
    euis = [(si, di, d.dev_eui) for si, di, d in all_devices if d.kind == "lorawan_sensor"]
    for dup in duplicates([e for _, _, e in euis]):
        si, di, _ = [x for x in euis if x[2] == dup][-1]
        yield ("sites", si, "devices", di, "dev_eui"), f"dev_eui {dup} is used twice"
    for si, di, device in all_devices:
        if device.kind == "switch" and device.credentials not in config.credentials.snmp:
            known = ", ".join(sorted(config.credentials.snmp)) or "none defined"
            yield (
                ("sites", si, "devices", di, "credentials"),
                f"unknown SNMP credentials {device.credentials!r} (known: {known})",
            )


def _resolve_secrets(model: Section, environ: Mapping[str, str]) -> None:
    for name, value in model:
        if name.endswith("_env") and isinstance(value, str):
            model._secrets[name.removesuffix("_env")] = SecretStr(environ[value])
        for child in (
            value.values()
            if isinstance(value, dict)
            else value
            if isinstance(value, list)
            else [value]
        ):
            if isinstance(child, Section):
                _resolve_secrets(child, environ)


def _problem(file: str, lines: dict[tuple[str | int, ...], int], error: Any) -> ConfigProblem:
    loc = _strip_union_tags(tuple(error["loc"]))
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc = (*loc, "kind")
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        key = str(loc[-1]) if loc else ""
        message = "unknown key" + (
            f" (secrets are never inline: name an environment variable with {key}_env)"
            if key in _INLINE_SECRETS
            else ""
        )
    return ConfigProblem(file, line_of(lines, loc), _dotted(loc), message)


_UNION_TAGS = {"switch", "access_point", "exhibit", "lorawan_sensor", "probe_target"}


def _strip_union_tags(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """pydantic puts the discriminator value into `loc` (devices.0.switch.address): drop it."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if part in _UNION_TAGS and i >= 2 and loc[i - 2] == "devices":
            continue
        out.append(part)
    return tuple(out)


def _dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
