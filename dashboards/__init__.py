"""Grafana dashboards and provisioning as code (README: Dashboards and the production stack).

Only constants here: `edumon` imports this package on every start, the SDK only when needed.
"""

from pathlib import Path

FOLDER = "edumon"  # title and uid of the Grafana folder the dashboards live in
BUILD_DIR = Path(__file__).resolve().parent / "grafana"  # committed; docker-compose mounts it
