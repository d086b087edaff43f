"""Serves a chosen set of LibreNMS's snmpsim recordings from one snmpsim process, for the benches
that compare what edumon polls with what LibreNMS recorded."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from gateway.devstack.snmpsim import SnmpSim


def link_recording(source: Path, served: Path) -> None:
    """A hard link (a copy across file systems): snmpsim names a symlinked file's agent by
    where the link points."""
    try:
        os.link(source, served)
    except OSError:
        shutil.copyfile(source, served)


@contextmanager
def serve_recordings(recordings: Path, names: Sequence[str]) -> Iterator[SnmpSim]:
    """An snmpsim that serves `recordings/NAME.snmprec` for each name (community NAME)."""
    with tempfile.TemporaryDirectory() as tmp:
        served = Path(tmp) / "recordings"
        served.mkdir()
        for name in names:
            link_recording(recordings / f"{name}.snmprec", served / f"{name}.snmprec")
        with SnmpSim(Path(tmp) / "snmpsim", served) as server:
            yield server
