"""An agent whose GETBULK answers step back (a simulated switch with the `walk_backwards`
fault, over real UDP): each poll asks each column once and stops it there, the stops are
counted and logged once for the device, and polls after the first cost the same."""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import Sequence

import pytest

from collectors.snmp import ber
from collectors.snmp.client import UdpSockets, V2cTransport
from collectors.snmp.poller import SnmpPoller, SnmpTarget
from gateway.collector import CollectorError
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.switch import SimSwitch

pytestmark = pytest.mark.integration
COMMUNITY = b"test-only-community"


class Recording(V2cTransport):
    """The real v2c transport, remembering the OIDs each GETBULK asked for."""

    asked: list[bytes]

    async def bulk(self, oids: Sequence[bytes], max_repetitions: int) -> list[ber.VarBind]:
        self.asked.extend(oids)
        return await super().bulk(oids, max_repetitions)


async def test_a_backwards_walking_agent_costs_one_request_per_column_and_poll(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    switch = SimSwitch("loops", seed=4, boot=time.time() - 3600)
    switch.faults.walk_backwards = True
    fleet = SnmpFleet([(switch, "127.0.0.1", 0)], COMMUNITY)
    await fleet.start()
    sockets = UdpSockets()
    host, port = fleet.addresses["loops"]
    transport = Recording(sockets, "loops", host, port, COMMUNITY, timeout_s=2, retries=0)
    poller = SnmpPoller()
    requests_per_poll = []
    try:
        for _ in range(3):
            transport.asked = []
            before = fleet.stats.requests
            # what the stopped columns leave may not make a whole poll
            with contextlib.suppress(CollectorError):
                await poller.poll(SnmpTarget("vsk-1", "loops", "access", transport))
            requests_per_poll.append(fleet.stats.requests - before)
            asked = Counter(transport.asked)
            assert max(asked.values()) == 1  # no column asked twice: no walk went on
    finally:
        fleet.close()
        sockets.close()
    print(f"requests per poll: {requests_per_poll}; {transport.stats}")
    assert len(set(requests_per_poll[1:])) == 1 and requests_per_poll[1] < 30, requests_per_poll
    assert transport.stats.not_increasing >= 3 * 5
    warnings = [r for r in caplog.records if "do not increase" in r.getMessage()]
    assert len(warnings) == 1 and "loops" in warnings[0].getMessage()
