"""net-snmp for tests: an `snmpd` on a free loopback port with its own config, and
`snmpbulkwalk` to read it back (numeric OIDs, no MIB loading)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from gateway.devstack.snmpsim import free_udp_port
from tests.unavailable import unavailable

QUIET = {**os.environ, "MIBS": "", "MIBDIRS": "/nonexistent"}  # numeric OIDs, no MIB noise


def bulkwalk(port: int, oid: str, auth: Sequence[str]) -> dict[int, str]:
    """{last arc: value as `snmpbulkwalk -Oq` prints it}; `auth` is e.g. ["-v2c", "-c", name]."""
    result = subprocess.run(
        ["snmpbulkwalk", *auth, "-On", "-Oq", "-t", "1", "-r", "1", f"127.0.0.1:{port}", oid],
        capture_output=True,
        text=True,
        env=QUIET,
        check=False,
    )
    rows = {}
    for line in result.stdout.splitlines():
        name, _, value = line.partition(" ")
        if name.startswith("." + oid + "."):
            rows[int(name.rsplit(".", 1)[1])] = value.strip().strip('"')
    return rows


def serve_snmpd(workdir: Path, config: str, auth: Sequence[str]) -> Iterator[int]:
    """Run snmpd with `config` until the generator is closed; yields its port."""
    binary = shutil.which("snmpd") or "/usr/sbin/snmpd"
    if not os.path.exists(binary) or shutil.which("snmpbulkwalk") is None:
        unavailable("snmpd/snmpbulkwalk not installed (apt install snmpd snmp)")
    (workdir / "snmpd.conf").write_text(config)
    port = free_udp_port()
    process = subprocess.Popen(
        [
            binary,
            "-f",
            "-C",
            "-c",
            str(workdir / "snmpd.conf"),
            "-Lf",
            str(workdir / "snmpd.log"),
            "-p",
            str(workdir / "snmpd.pid"),
            f"udp:127.0.0.1:{port}",
        ],
        env={**QUIET, "SNMP_PERSISTENT_DIR": str(workdir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while not bulkwalk(port, "1.3.6.1.2.1.1.3", auth):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"snmpd did not answer: {(workdir / 'snmpd.log').read_text()[-500:]}"
                )
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
