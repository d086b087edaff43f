"""The config sections of the service core: the service itself, the database, the spool, the
MQTT broker the MQTT-based collectors share, Alertmanager and the alert rules. Collectors bring
their own sections (see gateway/plugins.py)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from gateway.http_access import HttpSection
from gateway.intake_refusals import TimestampWindow
from gateway.inventory import ByteSize, EnvName, Interval, Listen, Section
from gateway.limits import LIMITS


class ServiceSection(Section):
    name: str = "edumon"
    http_listen: Listen = "127.0.0.1:9108"
    state_dir: Path = Path("state")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # how far from edumon's clock a time sent by a device may be (gateway/intake_refusals.py)
    timestamps: TimestampWindow = TimestampWindow()
    http: HttpSection = Field(default_factory=HttpSection)  # TLS, auth, limits (http_access)


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
    cert_file: Path | None = None  # with tls: edumon's client certificate (mTLS), with key_file
    key_file: Path | None = None
    client_id: str = "edumon"
    protocol: Literal["3.1.1", "5"] = "3.1.1"  # see gateway/mqtt_consumer.py
    # several edumon instances with the same group split the stream ($share subscriptions)
    shared_group: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$")
    # the broker is asked for a sign of life this often; a frozen broker is noticed within
    # about twice this (an unanswered ping drops the connection)
    keepalive_s: int = Field(default=15, ge=5, le=600)
    # the largest MQTT packet edumon takes: announced to MQTT 5 brokers, a larger one from a
    # 3.1.1 broker drops the connection (set Mosquitto's message_size_limit to match)
    max_packet_size: ByteSize = Field(default=LIMITS["mqtt_packet_bytes"], le=2**28)
    # messages received and not yet durable: past this edumon stops reading the socket
    max_batch: int = Field(default=LIMITS["mqtt_batch"], ge=1, le=65535)

    @field_validator("password_env")
    @classmethod
    def _password_needs_username(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("username_env") is None:
            raise ValueError("password_env needs username_env (MQTT sends no password alone)")
        return value

    @model_validator(mode="after")
    def _client_certificate(self) -> MqttSection:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        if self.cert_file is not None and not self.tls:
            raise ValueError("cert_file needs tls: true")
        return self


HttpUrl = Annotated[str, Field(pattern=r"^https?://")]


class AlertmanagerSection(Section):
    url: HttpUrl = "http://127.0.0.1:9093"
    # the peers of an Alertmanager cluster: every one is told everything, they deduplicate
    urls: list[HttpUrl] = Field(default_factory=list)
    resend_interval_s: Interval = 60.0
    timeout_s: Interval = 5.0

    @property
    def all_urls(self) -> list[str]:
        return self.urls or [self.url]


class ClusterSection(Login):
    """Several edumon instances sharing a city (gateway/cluster): membership in etcd."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")  # the city's cluster: its etcd key prefix
    member: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")  # default: hostname
    etcd_endpoints: list[HttpUrl] = Field(min_length=1)
    lease_ttl_s: int = Field(default=5, ge=2, le=60)
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    ca_file: Path | None = None  # with https endpoints: trust this CA (default: the system's)
    cert_file: Path | None = None  # client certificate, with key_file
    key_file: Path | None = None

    @property
    def member_name(self) -> str:
        """This instance's name in the cluster (unique per instance)."""
        return self.member or socket.gethostname()

    @model_validator(mode="after")
    def _pairs(self) -> ClusterSection:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("username_env and password_env go together")
        return self


class AlertsSection(Section):
    """Alert rules (gateway/alerts/rules.py); the built-in pack unless `rules_file` is given,
    relative to the config file."""

    rules_file: Path | None = None
    # where the rules' runbook pages are: by default edumon's own /runbooks/ (its http_listen)
    runbook_base_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    evaluation_interval_s: Interval = 1.0
    # after an intake (e.g. the MQTT broker) recovers, the rules of the devices behind it wait
    # this long before they may fire: the devices reconnect, and their Last Wills of the
    # outage arrive, in that time
    intake_recovery_grace_s: Interval = 60.0


class TopologySection(Section):
    """The city's topology (gateway/topology/): `roots` are the switches every path upstream
    ends at (the city core); a node that stops answering while one of its neighbours towards
    a root has not answered since is held for at most `settle_s` before it may page; after a
    failed element recovers, the alerts that were shadowed behind it wait `recovery_grace_s`."""

    roots: list[str] = Field(default_factory=list)
    settle_s: Interval = 60.0
    recovery_grace_s: Interval = 60.0
    max_unknown_nodes: int = Field(default=2000, ge=0, le=100_000)
    link_interval_s: Interval = 60.0
