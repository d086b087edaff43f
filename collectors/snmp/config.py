"""The SNMP collector's config: its `snmp:` section, `switch` devices and `credentials.snmp`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, model_validator

from collectors.snmp.wifi_config import WifiPlacement
from gateway.inventory import Address, DeviceBase, EnvName, Interval, Listen, Section, Slug
from gateway.limits import LIMITS


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as error:
        raise ValueError(f"not a valid regular expression: {error}") from None
    return value


Pattern = Annotated[str, AfterValidator(_regex)]


class ProfileDir(Section):
    """A directory of profiles and its format: edumon's own, or the one Datadog, Kentik and
    Netdata share (`auto`: recognised by the files' keys)."""

    path: Path
    format: Literal["auto", "edumon", "datadog"] = "auto"
    # false: a file of the directory that cannot be read is logged and left out (for a
    # library maintained by others), instead of failing the config
    strict: bool = True


class SnmpSettings(Section):
    trap_listen: Listen | None = None
    max_repetitions: int = Field(default=25, ge=1, le=200)
    max_concurrent: int = Field(default=64, ge=1, le=4096)
    interval_s: Interval = 60.0
    timeout_s: Interval = 5.0
    retries: int = Field(default=1, ge=0, le=10)
    # directories of the user's own device profiles (*.yaml), beside the shipped ones, in
    # edumon's format or the Datadog/Kentik/Netdata one (a path, or {path, format})
    profile_dirs: list[Path | ProfileDir] = Field(default_factory=list)
    # snmp_metric series per switch and poll at most; the rest is counted, not stored
    metric_limit: int = Field(default=2000, ge=0, le=100_000)
    # interface names (series) per switch; a new name past it is refused and counted
    max_interfaces_per_device: int = Field(
        default=LIMITS["snmp_interfaces_per_device"], ge=1, le=1_000_000
    )
    # an interface whose ifAlias matches is an uplink (besides a switch's `uplinks`)
    uplink_alias_pattern: Pattern | None = r"(?i)^uplink"
    # LLDP/CDP, forwarding/ARP and PoE tables (collectors/snmp/discovery/): read this often,
    # at most this many rows per switch and round (the walks cut there are counted); under
    # 10 minutes, CollectorStalled's window for each polled target
    discovery_interval_s: Interval = Field(default=300.0, le=540.0)
    discovery_max_rows: int = Field(default=5000, ge=10, le=1_000_000)


class SnmpCredential(Section):
    """SNMP v2c (community) or v3 (USM user, with the security level's rules enforced)."""

    version: Annotated[Literal["2c", "3"], BeforeValidator(str)]
    community_env: EnvName | None = None
    user: str | None = None
    security_level: Literal["noAuthNoPriv", "authNoPriv", "authPriv"] = "authPriv"
    auth_protocol: Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"] | None = None
    auth_password_env: EnvName | None = None
    # DES (RFC 3414, obsolete but still configured), AES-128 (RFC 3826), AES-192/256
    priv_protocol: Literal["des", "aes", "aes192", "aes256"] | None = None
    priv_password_env: EnvName | None = None
    # how AES-192/256 keys are extended: the Blumenthal draft (net-snmp's AES192/AES256)
    # or the Reeder one (Cisco's, net-snmp's AES192C/AES256C)
    priv_key_extension: Literal["blumenthal", "reeder"] = "blumenthal"

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


class Switch(DeviceBase):
    kind: Literal["switch"]
    id: Slug
    role: Literal["core", "access"] = "access"
    address: Address
    port: int = Field(default=161, ge=1, le=65535)
    credentials: str
    interval_s: Interval | None = None
    timeout_s: Interval | None = None
    retries: int | None = Field(default=None, ge=0, le=10)
    uplinks: list[str] = Field(default_factory=list)  # ifName (or ifDescr) of each uplink
    include: list[Pattern] = Field(default_factory=list)  # ifName/ifAlias kept whatever ifType
    exclude: list[Pattern] = Field(default_factory=list)  # ifName/ifAlias never kept
    profile: str | None = None  # a profile name, instead of matching by sysObjectID
    wifi: WifiPlacement | None = None  # a Wi-Fi controller: where its APs are (wifi_config.py)
    discovery: bool = True  # read its neighbours, forwarding and PoE tables
