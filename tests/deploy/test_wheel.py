"""The built distribution as a new user gets it: the sdist and wheel built from a copy of the
working tree (`python -m build`: sdist first, the wheel from the sdist), the wheel installed
into a fresh venv without extras, and `edumon check-config` run there on the example city the
wheel ships; its default rules and shipped configs are inside, test-only and optional
dependencies are not."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest

from gateway.devstack.demo import DEMO_SECRET_VARIABLES
from gateway.devstack.servers import free_port
from tests.processes import REPO

pytestmark = [pytest.mark.slow]


def run(
    *command: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=600, env=env
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sdist, wheel) built from the working tree's files (tracked and new, not ignored)."""
    tmp = tmp_path_factory.mktemp("dist")
    files = run("git", "-C", REPO, "ls-files", "-co", "--exclude-standard").stdout.split()
    source = tmp / "src"
    for name in files:
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    done = run(sys.executable, "-m", "build", "--outdir", tmp / "dist", source)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (sdist,) = (tmp / "dist").glob("*.tar.gz")
    (wheel,) = (tmp / "dist").glob("*.whl")
    return sdist, wheel


@pytest.fixture(scope="module")
def fresh_venv(built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with nothing in it, the wheel installed into it by pip (this interpreter's:
    `--python` installs into the venv; ensurepip's copy would take ~5 s more to set up and
    its older resolver ~10 s more to install the same packages)."""
    home = tmp_path_factory.mktemp("venv") / "edumon"
    venv.create(home, with_pip=False)
    done = run(
        sys.executable, "-m", "pip", "--python", home / "bin" / "python", "install", "-q", built[1]
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return home


def test_the_distributions_carry_the_example_city_and_the_rules(built: tuple[Path, Path]) -> None:
    sdist, wheel = built
    with tarfile.open(sdist) as archive:
        in_sdist = {Path(*Path(name).parts[1:]).as_posix() for name in archive.getnames()}
    assert {"examples/city.yaml", "LICENSE", "gateway/alerts/default_rules.yaml"} <= in_sdist
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    data = "edumon-0.1.0.data/data/share/edumon/examples/city.yaml"
    assert {
        data,
        "gateway/alerts/default_rules.yaml",
        "gateway/deploy/alertmanager.yml",
        "edumon-0.1.0.data/data/share/edumon/runbooks/uplink-down.md",
    } <= in_wheel
    assert any(name.endswith("/licenses/LICENSE") for name in in_wheel)
    assert not any(name.startswith("tests/") for name in in_wheel)


def test_check_config_on_the_bundled_example_in_a_fresh_venv(fresh_venv: Path) -> None:
    example = fresh_venv / "share" / "edumon" / "examples" / "city.yaml"
    env = {"PATH": os.environ["PATH"], **dict.fromkeys(DEMO_SECRET_VARIABLES, "a-secret-value")}
    done = run(fresh_venv / "bin" / "edumon", "check-config", example, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == f"{example}: OK"
    version = run(fresh_venv / "bin" / "edumon", "--version", env=env)
    assert version.stdout.strip() == "edumon 0.1.0"


def test_no_test_or_optional_dependency_is_installed(fresh_venv: Path) -> None:
    for module in ("pysnmp", "matplotlib", "grafana_foundation_sdk", "aiosmtpd"):
        done = run(fresh_venv / "bin" / "python", "-c", f"import {module}")
        assert done.returncode != 0, f"{module} came with the wheel"
    env = {"PATH": os.environ["PATH"], **dict.fromkeys(DEMO_SECRET_VARIABLES, "a-secret-value")}
    kpi = run(
        fresh_venv / "bin" / "edumon", "kpi", "--from", "2026-11-01", "--to", "2026-12-01", env=env
    )
    assert kpi.returncode == 2 and "pip install 'edumon[reports]'" in kpi.stderr


def test_the_installed_wheel_serves_its_index_and_runbooks(
    fresh_venv: Path, tmp_path: Path
) -> None:
    """`edumon run` from the wheel, outside the repository: `/` and `/runbooks/uplink-down`
    come from what the wheel installed (<prefix>/share/edumon/runbooks)."""
    config = tmp_path / "edumon.yaml"
    config.write_text(
        f"service: {{state_dir: {tmp_path / 'state'}}}\n"
        f"influxdb: {{url: 'http://127.0.0.1:{free_port()}'}}\nsites: []\n"
    )
    port = free_port()
    edumon = subprocess.Popen(
        [fresh_venv / "bin" / "edumon", "run", "-c", config, "--listen", f"127.0.0.1:{port}"],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        index = get_when_up(port, "/")
        runbook = get_when_up(port, "/runbooks/uplink-down")
    finally:
        edumon.send_signal(signal.SIGTERM)
        _, log = edumon.communicate(timeout=20)
    assert "edumon 0.1.0" in index and 'href="/runbooks/"' in index, log
    assert "<h1>UplinkDown: a school's uplink port is down</h1>" in runbook
    assert str(REPO) not in log  # nothing came from the checkout


def get_when_up(port: int, path: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
                return str(answer.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
