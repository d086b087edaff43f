"""snmpsim serving tests/fixtures/snmprec for tests: one agent per fixture file, reached with
the file's name as community. Test modules use it as a plugin (`pytest_plugins`) for the
fixtures `snmpsim` (the server, per module) and `agents` (transports to its agents)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from collectors.snmp.client import UdpSockets, V2cTransport
from gateway.devstack.snmpsim import SnmpSim
from tests.unavailable import require

FIXTURES = Path(__file__).parent / "fixtures" / "snmprec"


@dataclass
class Agents:
    server: SnmpSim
    sockets: UdpSockets
    communities = sorted(p.stem for p in FIXTURES.glob("*.snmprec"))

    def transport(self, community: str) -> V2cTransport:
        return V2cTransport(
            self.sockets,
            community,
            self.server.host,
            self.server.port,
            community.encode(),
            timeout_s=3,
            retries=1,
        )


@pytest.fixture(scope="module")
def snmpsim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnmpSim]:
    require(SnmpSim)
    with SnmpSim(tmp_path_factory.mktemp("snmpsim"), FIXTURES) as server:
        yield server


@pytest.fixture
async def agents(snmpsim: SnmpSim) -> AsyncIterator[Agents]:
    sockets = UdpSockets()
    yield Agents(snmpsim, sockets)
    sockets.close()
