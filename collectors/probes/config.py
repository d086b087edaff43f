"""The probe collector's config: `probe_target` devices and its `probes:` section."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from gateway.inventory import Address, DeviceBase, Interval, Section, Slug, address


class ProbeSettings(Section):
    interval_s: Interval = 10.0
    burst: int = Field(default=5, ge=1, le=100)
    spacing_s: float = Field(default=0.2, ge=0, le=10)
    timeout_s: Interval = 1.0


class ProbeTarget(DeviceBase):
    kind: Literal["probe_target"]
    id: Slug
    address: Address
    methods: list[Literal["icmp", "tcp", "dns"]] = Field(default=["icmp"], min_length=1)
    tcp_port: int | None = Field(default=None, ge=1, le=65535)
    dns_name: str | None = None
    dns_type: Literal["A", "AAAA"] = "A"
    dns_expect: list[Annotated[str, AfterValidator(address)]] = Field(default_factory=list)
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
