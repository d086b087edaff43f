"""Starting edumon itself as a child process, the way an operator does."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[1]


def start_edumon(
    config: Path,
    port: int,
    *,
    log: IO[str] | None = None,
    max_open_files: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> subprocess.Popen[str]:
    """`edumon run -c CONFIG --listen 127.0.0.1:PORT`; stderr is captured for log checks (or
    written to `log`), under `ulimit -n max_open_files` if given, with `environ` added."""

    def limit_files() -> None:
        if max_open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max_open_files, max_open_files))

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
        stderr=log or subprocess.PIPE,
        text=True,
        env={**os.environ, **(environ or {}), "PYTHONPATH": str(REPO)},
        preexec_fn=limit_files,
    )
