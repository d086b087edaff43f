"""Starting edumon itself as a child process, the way an operator does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def start_edumon(config: Path, port: int) -> subprocess.Popen[str]:
    """`edumon run -c CONFIG --listen 127.0.0.1:PORT`; stderr is captured for log checks."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "run",
            "-c",
            str(config),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
