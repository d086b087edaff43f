"""What edumon ships beside its code: its version, and the files a wheel installs in
<prefix>/share/edumon/ (the example city, the runbooks), found in the repository first."""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def edumon_version() -> str:
    try:
        return version("edumon")
    except PackageNotFoundError:
        return "unknown (not installed)"


def shipped(in_repository: str, installed: str) -> Path:
    """The repository's file or directory when edumon runs from a checkout, else the copy the
    wheel installs as <prefix>/share/edumon/<installed> (pyproject's data-files)."""
    path = REPOSITORY / in_repository
    if path.exists():
        return path
    return Path(sys.prefix) / "share" / "edumon" / installed
