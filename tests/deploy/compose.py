"""docker-compose.yml as docker-compose resolves it (`config`), with .env.example's values."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.processes import REPO
from tests.unavailable import unavailable

COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
PRODUCTION = REPO / "gateway" / "deploy" / "production"


def require(binary: str, package: str) -> str:
    """The binary's path; skips (fails in CI) when the package is not installed."""
    path = shutil.which(binary)
    if path is None:
        unavailable(f"{binary} is not installed (apt-get install {package})")
    return path


def docker_compose() -> str:
    return require("docker-compose", "docker-compose")


def example_environment() -> dict[str, str]:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    pairs = (line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return {name: value for name, value in pairs}


def compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """docker-compose in the repository with exactly `env` (no .env file is read)."""
    return subprocess.run(
        [docker_compose(), "--project-directory", str(REPO), "-f", str(COMPOSE_FILE), *args],
        cwd=REPO,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def resolved() -> dict[str, Any]:
    result = compose("config", env=example_environment())
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """container path -> host path of a service's bind mounts (short or long syntax)."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts[volume["target"]] = Path(volume["source"])
            continue
        source, target, *_ = volume.split(":")
        if source.startswith(("/", ".")):
            mounts[target] = (REPO / source).resolve()
    return mounts
