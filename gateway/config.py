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
from functools import cache
from pathlib import Path
from typing import Annotated, Any, NamedTuple, TypeVar, Union, get_args

from pydantic import Field, ValidationError, create_model

from gateway.alerts.rules import rule_problems
from gateway.collector import CollectorPlugin, Plugins
from gateway.inventory import DeviceBase, Section, Site, env_problems, reference_problems
from gateway.reports.config import ReportsSection
from gateway.sections import (
    AlertmanagerSection,
    AlertsSection,
    ClusterSection,
    InfluxSection,
    MqttSection,
    ServiceSection,
    SpoolSection,
    TopologySection,
)
from gateway.yaml_lines import Path as KeyPath
from gateway.yaml_lines import YamlProblem, dotted_path, line_of, load_with_lines

_INLINE_SECRETS = {"password", "community", "token", "auth_password", "priv_password", "username"}


D = TypeVar("D", bound=DeviceBase)
S = TypeVar("S", bound=Section)


class EdumonConfig(Section):
    """The config's core sections; `config_model()` extends it with the collectors' own
    sections, credential kinds and device kinds (read them with `settings_of`,
    `credentials_of` and `devices_of`)."""

    service: ServiceSection = ServiceSection()
    influxdb: InfluxSection = InfluxSection()
    spool: SpoolSection = SpoolSection()
    mqtt: MqttSection = MqttSection()
    alertmanager: AlertmanagerSection | None = None
    alerts: AlertsSection = AlertsSection()
    credentials: Section = Section()
    sites: list[Site] = Field(default_factory=list)
    reports: ReportsSection = ReportsSection()
    cluster: ClusterSection | None = None
    topology: TopologySection = TopologySection()

    def devices(self, kind: str | None = None) -> Iterator[tuple[Site, Any]]:
        """Every (site, device) pair, in file order; of one `kind` only if given."""
        for site in self.sites:
            for device in site.devices:
                if kind is None or device.kind == kind:
                    yield site, device

    def devices_of(self, model: type[D]) -> Iterator[tuple[Site, D]]:
        """Every (site, device) pair of one device model, in file order."""
        for site in self.sites:
            for device in site.devices:
                if isinstance(device, model):
                    yield site, device

    def settings_of(self, key: str, model: type[S]) -> S:
        """A collector's own section (its defaults when the file has none)."""
        value = getattr(self, key, None)
        if not isinstance(value, model):
            raise KeyError(f"no {model.__name__} section {key!r}: is its plugin registered?")
        return value

    def credentials_of(self, key: str, model: type[S]) -> dict[str, S]:
        """The named credentials of one kind (`credentials.<key>`)."""
        entries = getattr(self.credentials, key, None) or {}
        return {name: entry for name, entry in entries.items() if isinstance(entry, model)}


def config_model(plugins: Plugins) -> type[EdumonConfig]:
    """EdumonConfig with the plugins' sections, credential kinds and device kinds."""
    return _config_model(tuple(plugins))


@cache
def _config_model(plugins: tuple[CollectorPlugin, ...]) -> type[EdumonConfig]:
    kinds: list[Any] = [model for plugin in plugins for model in plugin.devices]
    device: Any = DeviceBase
    if len(kinds) == 1:
        device = kinds[0]
    elif kinds:
        device = Annotated[Union[tuple(kinds)], Field(discriminator="kind")]  # noqa: UP007
    site: Any = create_model(
        "Site", __base__=Site, devices=(list[device], Field(default_factory=list))
    )
    kinds_of_credentials: dict[str, Any] = {
        plugin.name: (dict[str, plugin.credentials], Field(default_factory=dict))  # type: ignore[name-defined]
        for plugin in plugins
        if plugin.credentials is not None
    }
    credentials: Any = create_model("Credentials", __base__=Section, **kinds_of_credentials)
    sections: dict[str, Any] = {
        plugin.settings_key: (plugin.settings, plugin.settings())
        for plugin in plugins
        if plugin.settings_key and plugin.settings
    }
    return create_model(
        "EdumonConfig",
        __base__=EdumonConfig,
        credentials=(credentials, credentials()),
        sites=(list[site], Field(default_factory=list)),
        **sections,
    )


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
    path: str | os.PathLike[str], plugins: Plugins, environ: Mapping[str, str] | None = None
) -> EdumonConfig:
    """The validated config (with the `plugins`' sections and device kinds) with secrets
    resolved from `environ` (default os.environ)."""
    config, problems = _load(Path(path), plugins, os.environ if environ is None else environ)
    if problems or config is None:
        raise ConfigError(problems)
    return config


def check_config(
    path: str | os.PathLike[str], plugins: Plugins, environ: Mapping[str, str] | None = None
) -> list[ConfigProblem]:
    """Every problem in the file, sorted by line; [] when `load_config` would succeed."""
    return _load(Path(path), plugins, os.environ if environ is None else environ)[1]


def _load(
    path: Path, plugins: Plugins, environ: Mapping[str, str]
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

    _relative_to_file(data, path, plugins)
    problems = [at(p, m) for p, m in env_problems(data, environ)]
    problems += [at(p, m) for p, m in reference_problems(data)]
    for plugin in plugins:
        problems += [at(p, m) for p, m in plugin.config_problems(data)]
    config: EdumonConfig | None = None
    try:
        config = config_model(plugins).model_validate(data)
    except ValidationError as error:
        kinds = {_kind(model) for plugin in plugins for model in plugin.devices}
        problems += [_problem(file, lines, e, kinds) for e in error.errors()]
    if config is not None and config.alerts.rules_file is not None:
        problems += _rule_problems(config)
    if problems or config is None:
        return None, sorted(problems, key=lambda p: (p.line or 0, p.field))
    config.resolve_secrets(environ)
    return config, []


def _rule_problems(config: EdumonConfig) -> list[ConfigProblem]:
    """The rules file is part of the config: its problems are reported with it."""
    assert config.alerts.rules_file is not None
    return [ConfigProblem(*problem) for problem in rule_problems(config.alerts.rules_file)]


TLS_FILES = ("ca_file", "cert_file", "key_file")


def _relative_to_file(data: dict[str, Any], config_path: Path, plugins: Plugins) -> None:
    """Files the config names (`alerts.rules_file`, `mqtt.ca_file`, the plugins' own) are
    relative to it."""
    keys = [("alerts", "rules_file")]
    keys += [(section, key) for section in ("mqtt", "cluster") for key in TLS_FILES]
    keys += [(p.settings_key, key) for p in plugins if p.settings_key for key in p.relative_paths]
    for section, key in keys:
        values = data.get(section)
        if not isinstance(values, dict):
            continue
        value = values.get(key)
        if isinstance(value, str):
            values[key] = str(config_path.parent / value)
        elif isinstance(value, list):
            values[key] = [_relative(config_path, v) for v in value]


def _relative(config_path: Path, value: object) -> object:
    """A path in a list, or the `path` of a mapping in it ({path, format} entries)."""
    if isinstance(value, str):
        return str(config_path.parent / value)
    if isinstance(value, dict) and isinstance(value.get("path"), str):
        return {**value, "path": str(config_path.parent / value["path"])}
    return value


def _kind(model: type[DeviceBase]) -> str:
    """The `kind` Literal's value of a device model."""
    annotation = model.model_fields["kind"].annotation
    return str(get_args(annotation)[0])


def _problem(file: str, lines: dict[KeyPath, int], error: Any, kinds: set[str]) -> ConfigProblem:
    """A pydantic error as a problem at the line of its key (or of the nearest enclosing one)."""
    loc = _strip_union_tags(tuple(error["loc"]), kinds)
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


def _strip_union_tags(loc: KeyPath, kinds: set[str]) -> KeyPath:
    """pydantic puts the discriminator value into `loc` (devices.0.switch.address): drop it."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if part in kinds and i >= 2 and loc[i - 2] == "devices" and isinstance(loc[i - 1], int):
            continue
        out.append(part)
    return tuple(out)
