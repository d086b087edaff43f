"""edumon's YAML config: pydantic-validated, every problem reported as file:line: field: message.

`load_config` returns an immutable `EdumonConfig` with secrets resolved from the environment
(never from the file) into SecretStr, or raises `ConfigError` listing *all* problems: unknown
keys, bad values, cross-references, and missing environment variables.

Secrets: each `<name>_env` key names an environment variable, whose value is then
`section.secret("<name>")`, also as properties (`influxdb.token`, `mqtt.password`,
`SnmpCredential.community`, ...). Messages quote no value except ids, names and addresses.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple, get_args, overload

from pydantic import Field, SecretStr, ValidationError, model_validator

from gateway.inventory import (
    AccessPoint,
    ByteSize,
    Credentials,
    Device,
    DeviceKind,
    EnvName,
    Exhibit,
    Interval,
    Listen,
    LorawanSensor,
    ProbeTarget,
    Section,
    Site,
    Switch,
    env_problems,
    reference_problems,
)
from gateway.reports.config import ReportsSection
from gateway.yaml_lines import Path as KeyPath
from gateway.yaml_lines import YamlProblem, dotted_path, line_of, load_with_lines

_INLINE_SECRETS = {"password", "community", "token", "auth_password", "priv_password", "username"}


class ServiceSection(Section):
    name: str = "edumon"
    http_listen: Listen = "127.0.0.1:9108"
    state_dir: Path = Path("state")
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class Login(Section):
    """`username_env` / `password_env`, resolved."""

    @property
    def username(self) -> SecretStr | None:
        return self.secret("username")

    @property
    def password(self) -> SecretStr | None:
        return self.secret("password")


class InfluxSection(Login):
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

    @model_validator(mode="after")
    def _api_settings(self) -> InfluxSection:
        v2_only = {"org": self.org, "bucket": self.bucket, "token_env": self.token_env}
        if self.api == "v2":
            missing = [name for name, value in v2_only.items() if not value]
            if missing:
                raise ValueError(f"{', '.join(missing)} required with api v2")
            if self.username_env or self.password_env or self.retention_policy:
                raise ValueError("username_env, password_env, retention_policy apply to api v1")
            return self
        misplaced = [name for name, value in v2_only.items() if value is not None]
        if misplaced:
            raise ValueError(f"{', '.join(misplaced)} only apply to api v2")
        if self.password_env and not self.username_env:
            raise ValueError("password_env needs username_env")
        return self

    @property
    def token(self) -> SecretStr | None:
        return self.secret("token")


class SpoolSection(Section):
    max_bytes: ByteSize = 2**30
    segment_bytes: ByteSize = 64 * 2**20

    @model_validator(mode="after")
    def _segment_fits(self) -> SpoolSection:
        if self.segment_bytes > self.max_bytes:
            raise ValueError("segment_bytes must not exceed max_bytes")
        return self


class MqttSection(Login):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    tls: bool = False
    ca_file: Path | None = None  # with tls: trust this CA (default: the system's)
    client_id: str = "edumon"
    protocol: Literal["3.1.1", "5"] = "3.1.1"  # see gateway/mqtt_consumer.py
    # several edumon instances with the same group split the stream ($share subscriptions)
    shared_group: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$")


class SnmpSection(Section):
    trap_listen: Listen | None = None
    max_repetitions: int = Field(default=25, ge=1, le=200)
    max_concurrent: int = Field(default=64, ge=1, le=4096)


class AlertmanagerSection(Section):
    url: str = Field(default="http://127.0.0.1:9093", pattern=r"^https?://")
    resend_interval_s: Interval = 60.0
    timeout_s: Interval = 5.0


class AlertsSection(Section):
    """Alert rules (gateway/alerts/rules.py); the built-in pack unless `rules_file` is given,
    relative to the config file."""

    rules_file: Path | None = None
    evaluation_interval_s: Interval = 1.0


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
    alerts: AlertsSection = AlertsSection()
    credentials: Credentials = Credentials()
    defaults: Defaults = Defaults()
    sites: list[Site] = Field(default_factory=list)
    reports: ReportsSection = ReportsSection()

    @overload
    def devices(self, kind: Literal["switch"]) -> Iterator[tuple[Site, Switch]]: ...
    @overload
    def devices(self, kind: Literal["access_point"]) -> Iterator[tuple[Site, AccessPoint]]: ...
    @overload
    def devices(self, kind: Literal["exhibit"]) -> Iterator[tuple[Site, Exhibit]]: ...
    @overload
    def devices(self, kind: Literal["lorawan_sensor"]) -> Iterator[tuple[Site, LorawanSensor]]: ...
    @overload
    def devices(self, kind: Literal["probe_target"]) -> Iterator[tuple[Site, ProbeTarget]]: ...
    @overload
    def devices(self, kind: None = None) -> Iterator[tuple[Site, Device]]: ...

    def devices(self, kind: DeviceKind | None = None) -> Iterator[tuple[Site, Any]]:
        """Every (site, device) pair, in file order; of one kind only (typed as such) if given."""
        for site in self.sites:
            for device in site.devices:
                if kind is None or device.kind == kind:
                    yield site, device


class ConfigProblem(NamedTuple):
    """One problem; str() is `file:line: field: message` (line and field omitted when unknown)."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field + ': ' if self.field else ''}{self.message}"


class ConfigError(Exception):
    """Every problem of one file; str() lists them one per line."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def load_config(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> EdumonConfig:
    """The validated config with secrets resolved from `environ` (default os.environ)."""
    config, problems = _load(Path(path), os.environ if environ is None else environ)
    if problems or config is None:
        raise ConfigError(problems)
    return config


def check_config(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> list[ConfigProblem]:
    """Every problem in the file, sorted by line; [] when `load_config` would succeed."""
    return _load(Path(path), os.environ if environ is None else environ)[1]


def _load(
    path: Path, environ: Mapping[str, str]
) -> tuple[EdumonConfig | None, list[ConfigProblem]]:
    file = str(path)
    try:
        raw = path.read_bytes()
        data, lines = load_with_lines(raw.decode("utf-8"))
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return None, [ConfigProblem(file, None, "", f"cannot read: {reason}")]
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        return None, [ConfigProblem(file, line, "", "not UTF-8 text")]
    except YamlProblem as error:
        return None, [ConfigProblem(file, error.line, "", error.message)]
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None, [ConfigProblem(file, 1, "", "the top level must be a mapping of sections")]

    def at(path: KeyPath, message: str) -> ConfigProblem:
        return ConfigProblem(file, line_of(lines, path), dotted_path(path), message)

    _relative_to_file(data, path)
    problems = [at(p, m) for p, m in env_problems(data, environ)]
    problems += [at(p, m) for p, m in reference_problems(data)]
    config: EdumonConfig | None = None
    try:
        config = EdumonConfig.model_validate(data)
    except ValidationError as error:
        problems += [_problem(file, lines, e) for e in error.errors()]
    if config is not None and config.alerts.rules_file is not None:
        problems += _rule_problems(config)
    if problems or config is None:
        return None, sorted(problems, key=lambda p: (p.line or 0, p.field))
    config.resolve_secrets(environ)
    return config, []


def _rule_problems(config: EdumonConfig) -> list[ConfigProblem]:
    """The rules file is part of the config: its problems are reported with it."""
    from gateway.alerts.rules import rule_problems

    assert config.alerts.rules_file is not None
    return [ConfigProblem(*problem) for problem in rule_problems(config.alerts.rules_file)]


def _relative_to_file(data: dict[str, Any], config_path: Path) -> None:
    """Files the config names (`alerts.rules_file`, `mqtt.ca_file`) are relative to it."""
    for section, key in (("alerts", "rules_file"), ("mqtt", "ca_file")):
        values = data.get(section)
        if isinstance(values, dict) and isinstance(values.get(key), str):
            values[key] = str(config_path.parent / values[key])


def _problem(file: str, lines: dict[KeyPath, int], error: Any) -> ConfigProblem:
    """A pydantic error as a problem at the line of its key (or of the nearest enclosing one)."""
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
    return ConfigProblem(file, line_of(lines, loc), dotted_path(loc), message)


_UNION_TAGS = set(get_args(DeviceKind))


def _strip_union_tags(loc: KeyPath) -> KeyPath:
    """pydantic puts the discriminator value into `loc` (devices.0.switch.address): drop it."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if (
            part in _UNION_TAGS
            and i >= 2
            and loc[i - 2] == "devices"
            and isinstance(loc[i - 1], int)
        ):
            continue
        out.append(part)
    return tuple(out)
