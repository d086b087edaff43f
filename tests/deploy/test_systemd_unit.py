"""The shipped systemd unit runs edumon unprivileged with just the two capabilities it needs."""

from __future__ import annotations

import configparser

from gateway.devstack.servers import PACKAGE_DIR


def test_the_unit_runs_unprivileged_with_raw_sockets_and_port_162() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment, method-assign]
    unit.read(PACKAGE_DIR / "deploy" / "edumon.service")
    service = unit["Service"]
    assert service["User"] == "edumon" and service["NoNewPrivileges"] == "true"
    assert service["AmbientCapabilities"] == "CAP_NET_RAW CAP_NET_BIND_SERVICE"
    assert service["CapabilityBoundingSet"] == service["AmbientCapabilities"]
    assert "check-config" in service["ExecStartPre"] and " run -c " in service["ExecStart"]
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_unit_gives_edumon_file_handles_for_hostile_clients() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment, method-assign]
    unit.read(PACKAGE_DIR / "deploy" / "edumon.service")
    assert unit["Service"]["LimitNOFILE"] == "65536"
