"""A real small filesystem for disk-full tests: a size-limited tmpfs mounted on a temp dir.

Needs root (CAP_SYS_ADMIN), as CI and the dev container run; without it the test skips with the
reason, and fails under CI.
ENOSPC then comes from the kernel, as on a full state volume, not from a patched function.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.unavailable import unavailable


@contextlib.contextmanager
def small_disk(directory: Path, size_mib: int) -> Iterator[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0700", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mount.returncode != 0:
        unavailable(f"cannot mount a {size_mib} MiB tmpfs (needs root): {mount.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(disk: Path, name: str = "filler") -> Path:
    """Take every free byte of `disk` with one file; delete it to give the space back."""
    filler = disk / name
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def free_bytes(disk: Path) -> int:
    stats = os.statvfs(disk)
    return stats.f_bavail * stats.f_frsize
