"""Every collector folder has a README.md and a sample.yaml, and each sample is a config that
`check-config` accepts as it is (with its secrets' environment variables set)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from gateway.config import check_config
from gateway.plugins import PLUGINS

COLLECTORS = Path(__file__).resolve().parents[2] / "collectors"
FOLDERS = sorted(path.parent for path in COLLECTORS.glob("*/plugin.py"))


def test_every_collector_has_a_readme_and_a_sample() -> None:
    assert len(FOLDERS) == len(PLUGINS)
    missing = [f"{d.name}/{n}" for d in FOLDERS for n in ("README.md", "sample.yaml")]
    assert [m for m in missing if not (COLLECTORS / m).is_file()] == []


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_the_sample_config_is_valid(folder: Path, tmp_path: Path) -> None:
    sample = tmp_path / "edumon.yaml"
    shutil.copy(folder / "sample.yaml", sample)
    secrets = set(re.findall(r"_env: (\w+)", sample.read_text(encoding="utf-8")))
    assert [str(p) for p in check_config(sample, PLUGINS, dict.fromkeys(secrets, "x"))] == []
