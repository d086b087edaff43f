"""The same poller against a real net-snmp `snmpd`: what our walker reads agrees with
`snmpbulkwalk` of the same OIDs in the same test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from collectors.snmp import ber
from collectors.snmp.client import UdpSockets, V2cTransport, walk_columns
from collectors.snmp.poller import COLUMNS, SnmpPoller, SnmpTarget

pytestmark = pytest.mark.integration
COMMUNITY = "test-only-community"
QUIET = {**os.environ, "MIBS": "", "MIBDIRS": "/nonexistent"}  # numeric OIDs, no MIB noise


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    binary = shutil.which("snmpd") or (
        "/usr/sbin/snmpd" if os.path.exists("/usr/sbin/snmpd") else None
    )
    if binary is None or shutil.which("snmpbulkwalk") is None:
        reason = "snmpd/snmpbulkwalk not installed (apt install snmpd snmp)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("snmpd")
    config = workdir / "snmpd.conf"
    config.write_text(f"rocommunity {COMMUNITY} 127.0.0.1\n")
    port = free_udp_port()
    process = subprocess.Popen(
        [
            binary,
            "-f",
            "-C",
            "-c",
            str(config),
            "-Lf",
            str(workdir / "snmpd.log"),
            "-p",
            str(workdir / "snmpd.pid"),
            f"udp:127.0.0.1:{port}",
        ],
        env=QUIET,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if bulkwalk(port, "1.3.6.1.2.1.1.3"):
            break
        time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError(
            f"snmpd did not answer: {Path(workdir / 'snmpd.log').read_text()[-500:]}"
        )
    yield port
    process.terminate()
    process.wait(timeout=10)


def bulkwalk(port: int, oid: str) -> dict[int, str]:
    """{ifIndex-like last arc: value as snmpbulkwalk prints it with -Oq}."""
    result = subprocess.run(
        [
            "snmpbulkwalk",
            "-v2c",
            "-c",
            COMMUNITY,
            "-On",
            "-Oq",
            "-t",
            "1",
            "-r",
            "1",
            f"127.0.0.1:{port}",
            oid,
        ],
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


@pytest.fixture
async def transport(snmpd: int) -> AsyncIterator[V2cTransport]:
    sockets = UdpSockets()
    yield V2cTransport(
        sockets, "snmpd", "127.0.0.1", snmpd, COMMUNITY.encode(), timeout_s=1, retries=1
    )
    sockets.close()


async def test_names_and_counters_agree_with_snmpbulkwalk(
    snmpd: int, transport: V2cTransport
) -> None:
    names_oid, in_oid, out_oid = (
        "1.3.6.1.2.1.31.1.1.1.1",
        "1.3.6.1.2.1.31.1.1.1.6",
        "1.3.6.1.2.1.31.1.1.1.10",
    )
    before = {oid: bulkwalk(snmpd, oid) for oid in (in_oid, out_oid)}
    ours = await walk_columns(
        transport, [ber.encode_oid(o) for o in (names_oid, in_oid, out_oid)], 10
    )
    after = {oid: bulkwalk(snmpd, oid) for oid in (in_oid, out_oid)}
    names = {index[0]: vb.raw.decode() for index, vb in ours[ber.encode_oid(names_oid)].items()}
    assert names == bulkwalk(snmpd, names_oid)
    assert "lo" in names.values()
    for oid in (in_oid, out_oid):
        counters = {index[0]: ber.value_of(vb) for index, vb in ours[ber.encode_oid(oid)].items()}
        assert set(counters) == set(before[oid]) == set(after[oid])
        for index, value in counters.items():
            # counters move (our own SNMP traffic crosses lo): ours lies between the two walks
            assert int(before[oid][index]) <= value <= int(after[oid][index]), (oid, index)


async def test_poller_reads_snmpd_like_a_switch(snmpd: int, transport: V2cTransport) -> None:
    poller = SnmpPoller()
    target = SnmpTarget("host", "snmpd", "core", transport)
    await poller.poll(target)
    time.sleep(1.1)  # let sysUpTime advance
    samples = await poller.poll(target)
    device = next(s for s in samples if s.measurement == "device")
    assert device.fields["up"] is True and device.fields["high_capacity_counters"] is True
    interfaces = {s.tags["ifname"]: s.fields for s in samples if s.measurement == "interface"}
    assert set(interfaces) == set(bulkwalk(snmpd, "1.3.6.1.2.1.31.1.1.1.1").values())
    # snmpd caches ifTable for a few seconds, so the rate may be 0, but it is a rate
    assert float(interfaces["lo"]["in_bps"]) >= 0 and interfaces["lo"]["oper_up"] is True  # type: ignore[arg-type]
    assert set(bulkwalk(snmpd, ber.oid_text(COLUMNS["oper"]))) == {
        int(i) for i in bulkwalk(snmpd, "1.3.6.1.2.1.2.2.1.1").values()
    }
