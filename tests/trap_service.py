"""The config of an edumon with a trap listener (v2c and v3 users) and one switch at
127.0.0.1, for the tests that run it as a real process against hostile senders."""

from __future__ import annotations

from pathlib import Path

COMMUNITY = "test-only-community"
ENVIRON = {"TRAP_COMMUNITY": COMMUNITY, "TRAP_AUTH": "test-only-auth", "TRAP_PRIV": "priv-only"}


def trap_service_config(
    tmp_path: Path, state_dir: Path, trap_port: int, influx_url: str, service: str = ""
) -> Path:
    """`service`: more keys of the service section (`key: value, ...`)."""
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"""
service: {{state_dir: {state_dir}, {service}}}
influxdb: {{url: "{influx_url}", flush_interval_s: 0.2, max_retry_delay_s: 1}}
snmp: {{trap_listen: "127.0.0.1:{trap_port}", interval_s: 3600}}
credentials:
  snmp:
    v2: {{version: 2c, community_env: TRAP_COMMUNITY}}
    v3: {{version: 3, user: edumon, security_level: authPriv, auth_protocol: sha256,
          auth_password_env: TRAP_AUTH, priv_protocol: aes, priv_password_env: TRAP_PRIV}}
sites:
  - id: vsk-1
    name: School
    devices:
      - {{kind: switch, id: vsk-1-core, role: core, address: 127.0.0.1, port: 1, credentials: v2}}
"""
    )
    return path
