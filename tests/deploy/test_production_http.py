"""The shipped production configs serve HTTPS and guard every endpoint but /healthz."""

from __future__ import annotations

import pytest
import yaml

from gateway.devstack.servers import PACKAGE_DIR
from gateway.http_access import Access
from gateway.sections import ServiceSection


@pytest.mark.parametrize("name", ["edumon.yaml", "edumon-cluster.yaml"])
def test_production_configs_use_tls_and_a_bearer_token(name: str) -> None:
    data = yaml.safe_load((PACKAGE_DIR / "deploy" / "production" / name).read_text())
    service = ServiceSection.model_validate(data["service"])
    assert service.http_listen.startswith("0.0.0.0:")
    assert service.http.tls_server_config is not None
    assert service.http.bearer_token_env == "EDUMON_HTTP_TOKEN"
    service.resolve_secrets({"EDUMON_HTTP_TOKEN": "test-only-token"})
    assert Access(service.http).required
