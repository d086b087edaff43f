"""SNMPv3 for one device: engine discovery, time synchronisation, recovery after agent reboots.

An agent that rebooted has new engine boots (and maybe a new engine id); it answers our
authenticated request with a notInTimeWindow or unknownEngineID report. We take the new
values from that report and send the request once more, so a reboot costs one round trip,
never a run of timeouts until edumon restarts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from collectors.snmp import ber
from collectors.snmp.client import SnmpError, UdpDevice, checked
from collectors.snmp.usm import UsmError, UsmUser
from collectors.snmp.v3 import (
    FLAG_REPORTABLE,
    NOT_IN_TIME_WINDOW,
    UNKNOWN_ENGINE_ID,
    V3Message,
    decode_v3,
    encode_v3,
    flags_for,
)

log = logging.getLogger(__name__)


@dataclass
class V3Transport(UdpDevice):
    user: UsmUser
    engine_id: bytes = b""
    boots: int = 0
    time_base: float = 0.0  # local monotonic clock minus the agent's engine time
    resyncs: int = 0

    async def _request(self, pdu: int, a: int, b: int, oids: Sequence[bytes]) -> list[ber.VarBind]:
        if not self.engine_id:
            await self._discover()
        varbinds = [ber.VarBind(oid, ber.NULL, b"") for oid in oids]
        for _ in range(2):  # the second time after taking the agent's new boots/time
            request_id = self.sockets.next_id()
            message = V3Message(
                request_id,
                flags_for(self.user) | FLAG_REPORTABLE,
                self.engine_id,
                self.boots,
                max(0, int(time.monotonic() - self.time_base)),
                self.user.name,
                pdu,
                request_id,
                a,
                b,
                varbinds,
                context_engine_id=self.engine_id,
            )
            answer = await self._exchange(request_id, encode_v3(message, self.user))
            if answer.pdu != ber.REPORT:
                return checked(
                    self.name, answer.error_status, answer.error_index, answer.varbinds, self.stats
                )
            report = answer.varbinds[0].oid if answer.varbinds else b""
            if report not in (NOT_IN_TIME_WINDOW, UNKNOWN_ENGINE_ID):
                what = ber.oid_text(report) if report else "(empty)"
                raise SnmpError(f"{self.name}: agent refused the request: report {what}")
            self.resyncs += 1
            log.info(
                "%s: agent engine changed (boots %d -> %d); resynchronised",
                self.name,
                self.boots,
                answer.boots,
            )
            self._synchronise(answer)
        raise SnmpError(f"{self.name}: cannot synchronise with the agent's engine time")

    async def _discover(self) -> None:
        """RFC 3414 4: an unauthenticated, reportable request reveals engine id, boots, time."""
        request_id = self.sockets.next_id()
        probe = V3Message(request_id, FLAG_REPORTABLE, b"", 0, 0, b"", ber.GET, request_id)
        answer = await self._exchange(request_id, encode_v3(probe, None))
        if answer.pdu != ber.REPORT or not answer.engine_id:
            raise SnmpError(f"{self.name}: engine discovery got no report")
        self._synchronise(answer)

    def _synchronise(self, report: V3Message) -> None:
        self.engine_id, self.boots = report.engine_id, report.boots
        self.time_base = time.monotonic() - report.time

    async def _exchange(self, request_id: int, wire: bytes) -> V3Message:
        data = (await self._send(request_id, wire)).data
        try:
            answer = decode_v3(data, lambda name: self.user if name == self.user.name else None)
        except (UsmError, ber.BerError) as error:
            self.stats.malformed += 1
            raise SnmpError(f"{self.name}: unusable SNMPv3 answer: {error}") from error
        # a report may bring a new engine id (discovery, a reconfigured agent); an answer must
        # come from the engine we synchronised with
        if answer.pdu != ber.REPORT and self.engine_id and answer.engine_id != self.engine_id:
            self.stats.malformed += 1
            raise SnmpError(f"{self.name}: answer from engine {answer.engine_id.hex()}, not ours")
        return answer
