"""The broker settings of one MQTT consumer, from the config's `mqtt:` section."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gateway.config import EdumonConfig
from gateway.limits import LIMITS

SESSION_EXPIRY_S = 7 * 24 * 3600


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int = 1883
    client_id: str = "edumon"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None  # client certificate (mTLS), with key_file
    key_file: Path | None = None
    keepalive_s: int = 15
    max_unacked: int = 5000  # MQTT 5 Receive Maximum: messages received and not yet acked
    # the largest packet edumon takes (announced to MQTT 5 brokers, enforced on every version)
    max_packet_size: int = LIMITS["mqtt_packet_bytes"]
    # a batch stops reading the socket at this many messages until it is durable and acked
    max_batch: int = LIMITS["mqtt_batch"]
    # 3.1.1 by default: Mosquitto offers $share to both versions
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    # the longest wait between attempts: a broker back after an outage is found within
    # seconds (one connection attempt every few seconds costs the broker nothing)
    reconnect_max_s: float = 5.0
    # where the topics subscribed last are kept (stale ones are unsubscribed on start)
    state_dir: Path | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def tls_context(self) -> ssl.SSLContext | None:
        """The system's trust (or ca_file's), host names checked; a client certificate when
        the broker requires one."""
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file is not None:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context


def broker_address(config: EdumonConfig) -> str:
    return f"{config.mqtt.host}:{config.mqtt.port}"


def settings_from_config(config: EdumonConfig, client_suffix: str) -> MqttSettings:
    """Broker settings of the config; each consumer gets its own client id (and session), and
    so does each member of a cluster (gateway/cluster), which may share one config file."""
    mqtt = config.mqtt
    member = f"-{config.cluster.member_name}" if config.cluster else ""
    return MqttSettings(
        mqtt.host,
        mqtt.port,
        client_id=f"{mqtt.client_id}{member}-{client_suffix}",
        username=mqtt.username.get_secret_value() if mqtt.username else None,
        password=mqtt.password.get_secret_value() if mqtt.password else None,
        tls=mqtt.tls,
        ca_file=mqtt.ca_file,
        cert_file=mqtt.cert_file,
        key_file=mqtt.key_file,
        protocol=mqtt.protocol,
        keepalive_s=mqtt.keepalive_s,
        max_packet_size=mqtt.max_packet_size,
        max_batch=mqtt.max_batch,
        state_dir=config.service.state_dir,
    )


def shared(config: EdumonConfig, topics: Sequence[str]) -> list[str]:
    """Topics as shared subscriptions when the config names a group."""
    group = config.mqtt.shared_group
    return [f"$share/{group}/{topic}" for topic in topics] if group else list(topics)
