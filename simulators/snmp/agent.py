"""The fleet: many simulated switches in one process, one UDP port each (IPv4 or IPv6).

Answers SNMPv2c and SNMPv3 (USM: engine discovery, time window, SHA/SHA-2 + AES) GET, GETNEXT
and GETBULK like a real agent (wrong community or credentials: silence), applies
each switch's faults (delay, silence, truncated bulk responses, noSuch*, malformed answers),
and sends SNMPv2 traps (linkDown/linkUp/coldStart, with the switch's sysName.0) from each
switch's own address to a configured receiver.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from collectors.snmp import ber
from collectors.snmp.usm import UsmError, UsmUser
from collectors.snmp.v3 import (
    FLAG_AUTH,
    FLAG_PRIV,
    NOT_IN_TIME_WINDOW,
    TIME_WINDOW_S,
    UNKNOWN_ENGINE_ID,
    UNKNOWN_USER,
    V3Message,
    decode_v3,
    encode_v3,
    flags_for,
    is_v3,
)
from simulators.snmp.switch import IF_TABLE, SimSwitch

if TYPE_CHECKING:
    from simulators.snmp.city import CityNetwork

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 65000
MAX_VARBINDS = 2000
SYS_UPTIME_0 = ber.encode_oid("1.3.6.1.2.1.1.3.0")
SNMP_TRAP_OID_0 = ber.encode_oid("1.3.6.1.6.3.1.1.4.1.0")
SYS_NAME_0 = ber.encode_oid("1.3.6.1.2.1.1.5.0")
TRAP_OIDS = {
    "coldStart": "1.3.6.1.6.3.1.1.5.1",
    "warmStart": "1.3.6.1.6.3.1.1.5.2",
    "linkDown": "1.3.6.1.6.3.1.1.5.3",
    "linkUp": "1.3.6.1.6.3.1.1.5.4",
}


@dataclass
class AgentStats:
    requests: int = 0
    wrong_community: int = 0
    auth_failures: int = 0
    reports: int = 0


class SwitchAgent(asyncio.DatagramProtocol):
    def __init__(self, fleet: SnmpFleet, switch: SimSwitch) -> None:
        self.fleet = fleet
        self.switch = switch
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        stats = self.fleet.stats
        stats.requests += 1
        if self.fleet.heard is not None:
            self.fleet.heard.append((time.time(), self.switch.name, int(addr[1])))
        faults = self.switch.faults
        if faults.silent:
            return
        try:
            response = self._v3(data) if is_v3(data) else self._v2c(data)
        except ber.BerError:
            return
        except UsmError:
            stats.auth_failures += 1
            return
        if response is None or self.transport is None:
            return
        if faults.malformed:
            response = response[: len(response) // 2] + b"\xff\x00garbage"
        if faults.delay_s:
            asyncio.get_running_loop().call_later(
                faults.delay_s, self.transport.sendto, response, addr
            )
        else:
            self.transport.sendto(response, addr)

    def _v2c(self, data: bytes) -> bytes | None:
        request = ber.decode_message(data)
        if request.community != self.fleet.community:
            self.fleet.stats.wrong_community += 1
            return None
        now = self.fleet.clock()
        varbinds = self.respond(
            request.pdu, request.error_status, request.error_index, request.varbinds, now
        )
        if varbinds is None:
            return None
        return ber.encode_message(
            request.community, ber.RESPONSE, request.request_id, 0, 0, varbinds
        )

    def _v3(self, data: bytes) -> bytes | None:
        """USM: reports for discovery, unknown users and stale engine time; else the answer."""
        users = self.fleet.users
        request = decode_v3(data, users.get)
        switch, now = self.switch, self.fleet.clock()
        engine = (switch.engine_id, switch.engine_boots, switch.engine_time(now))
        user = users.get(request.user)
        if request.engine_id != switch.engine_id:
            return self._report(request, UNKNOWN_ENGINE_ID, engine, None)
        if user is None:
            return self._report(request, UNKNOWN_USER, engine, None)
        in_window = request.boots == engine[1] and abs(request.time - engine[2]) <= TIME_WINDOW_S
        if request.flags & FLAG_AUTH and not in_window:
            return self._report(request, NOT_IN_TIME_WINDOW, engine, user)
        varbinds = self.respond(
            request.pdu, request.error_status, request.error_index, request.varbinds, now
        )
        if varbinds is None:
            return None
        answer = V3Message(
            request.msg_id,
            request.flags & (FLAG_AUTH | FLAG_PRIV),
            *engine,
            request.user,
            ber.RESPONSE,
            request.request_id,
            0,
            0,
            varbinds,
            context_engine_id=switch.engine_id,
        )
        return encode_v3(answer, user)

    def _report(
        self,
        request: V3Message,
        counter: bytes,
        engine: tuple[bytes, int, int],
        user: UsmUser | None,
    ) -> bytes:
        self.fleet.stats.reports += 1
        varbind = ber.VarBind(counter, ber.COUNTER32, ber.encode_unsigned(self.fleet.stats.reports))
        flags = FLAG_AUTH if user is not None and user.auth_protocol else 0  # never encrypted
        report = V3Message(
            request.msg_id,
            flags,
            *engine,
            request.user if user else b"",
            ber.REPORT,
            request.request_id,
            0,
            0,
            [varbind],
            context_engine_id=engine[0],
        )
        return encode_v3(report, user)

    def respond(
        self, pdu: int, a: int, b: int, requested: list[ber.VarBind], now: float
    ) -> list[ber.VarBind] | None:
        switch = self.switch
        if pdu == ber.GET:
            return [switch.get(vb.oid, now) for vb in requested]
        if pdu == ber.GET_NEXT:
            return [self._next(switch.next_position(vb.oid), vb.oid, now)[1] for vb in requested]
        if pdu == ber.GET_BULK:
            return self._bulk(a, b, requested, now)
        return None

    def _next(self, position: int, asked: bytes, now: float) -> tuple[int, ber.VarBind]:
        """The first visible OID at or after `position` (and that position), or endOfMibView."""
        switch = self.switch
        while position < len(switch.view.oids) and switch.hidden(position):
            position += 1
        if position >= len(switch.view.oids):
            return position, ber.VarBind(asked, ber.END_OF_MIB_VIEW, b"")
        return position, switch.at(position, now)

    def _bulk(
        self, non_repeaters: int, max_repetitions: int, requested: list[ber.VarBind], now: float
    ) -> list[ber.VarBind]:
        non_repeaters = max(0, min(non_repeaters, len(requested)))
        limit = min(MAX_VARBINDS, self.switch.faults.truncate_bulk or MAX_VARBINDS)
        out = [
            self._next(self.switch.next_position(vb.oid), vb.oid, now)[1]
            for vb in requested[:non_repeaters]
        ]
        cursors = [(self.switch.next_position(vb.oid), vb.oid) for vb in requested[non_repeaters:]]
        size = sum(len(vb.oid) + len(vb.raw) + 6 for vb in out)
        for repetition in range(max(0, max_repetitions)):
            # past the view every repeater answers endOfMibView (RFC 3416 4.2.3), once: a
            # request that starts there gets one each, not an empty answer
            if not cursors or (
                repetition and all(c[0] >= len(self.switch.view.oids) for c in cursors)
            ):
                break
            for i, (position, asked) in enumerate(cursors):
                found, varbind = self._next(position, asked, now)
                # walk_backwards: every other repetition goes back to the one before it
                back = self.switch.faults.walk_backwards and repetition % 2
                cursors[i] = (found - 1 if back else found + 1, varbind.oid)
                size += len(varbind.oid) + len(varbind.raw) + 6
                if len(out) >= limit or size > MAX_RESPONSE_BYTES:
                    return out
                out.append(varbind)
        return out


class SnmpFleet:
    """Serves `switches` on their (host, port); `clock` is the agents' notion of now."""

    def __init__(
        self,
        switches: list[tuple[SimSwitch, str, int]],
        community: bytes,
        *,
        clock: Callable[[], float] = time.time,
        trap_receiver: tuple[str, int] | None = None,
        users: Sequence[UsmUser] = (),
    ) -> None:
        self.switches = switches
        self.community = community
        self.clock = clock
        self.trap_receiver = trap_receiver
        self.users = {user.name: user for user in users}  # SNMPv3 users every switch accepts
        self.trap_user: UsmUser | None = None  # send SNMPv3 traps as this user, else v2c
        self.stats = AgentStats()
        # (time, switch, the asker's port) of every request, while a test records them
        self.heard: list[tuple[float, str, int]] | None = None
        self.agents: dict[str, SwitchAgent] = {}
        self.addresses: dict[
            str, tuple[str, int]
        ] = {}  # where each agent listens (port 0 resolved)
        self.city: CityNetwork | None = None  # the wiring and its faults, when it has one

    def __getitem__(self, name: str) -> SimSwitch:
        return self.agents[name].switch

    async def start(self) -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < len(self.switches) + 256:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, len(self.switches) + 1024), hard))
        loop = asyncio.get_running_loop()
        for switch, host, port in self.switches:
            transport, agent = await loop.create_datagram_endpoint(
                functools.partial(SwitchAgent, self, switch), local_addr=(host, port)
            )
            self.agents[switch.name] = agent
            self.addresses[switch.name] = (host, transport.get_extra_info("sockname")[1])
        log.info("SNMP fleet: %d switches answering", len(self.agents))

    def close(self) -> None:
        for agent in self.agents.values():
            if agent.transport is not None:
                agent.transport.close()

    # ------------------------------------------------------------------- traps
    def flap(self, name: str, port: int, *, up: bool) -> None:
        """Take a link down or up, and send the linkDown/linkUp trap."""
        switch, now = self[name], self.clock()
        if up:
            switch.link_up(port, now)
        else:
            switch.link_down(port, now)
        status = ber.encode_integer(1 if up else 2)
        self.send_trap(
            name,
            "linkUp" if up else "linkDown",
            [
                ber.VarBind(
                    ber.encode_oid((*IF_TABLE, 1, port)), ber.INTEGER, ber.encode_integer(port)
                ),
                ber.VarBind(
                    ber.encode_oid((*IF_TABLE, 7, port)), ber.INTEGER, ber.encode_integer(1)
                ),
                ber.VarBind(ber.encode_oid((*IF_TABLE, 8, port)), ber.INTEGER, status),
            ],
        )

    def reboot(self, name: str) -> None:
        self[name].reboot(self.clock())
        self.send_trap(name, "coldStart", [])

    def send_trap(self, name: str, trap: str, varbinds: list[ber.VarBind]) -> None:
        agent = self.agents[name]
        if self.trap_receiver is None or agent.transport is None:
            return
        head = [
            ber.VarBind(
                SYS_UPTIME_0,
                ber.TIMETICKS,
                ber.encode_unsigned(agent.switch.uptime_ticks(self.clock())),
            ),
            ber.VarBind(SNMP_TRAP_OID_0, ber.OBJECT_ID, ber.encode_oid(TRAP_OIDS[trap])),
        ]
        # its sysName, as many switches add: tells apart switches that share an address
        varbinds = [*varbinds, ber.VarBind(SYS_NAME_0, ber.OCTET_STRING, name.encode())]
        request_id = int(self.clock() * 1000) % 2**31
        if self.trap_user is None:
            message = ber.encode_message(
                self.community, ber.TRAP_V2, request_id, 0, 0, head + varbinds
            )
        else:  # an SNMPv3 trap: the sending switch's engine is authoritative
            switch = agent.switch
            message = encode_v3(
                V3Message(
                    request_id,
                    flags_for(self.trap_user),
                    switch.engine_id,
                    switch.engine_boots,
                    switch.engine_time(self.clock()),
                    self.trap_user.name,
                    ber.TRAP_V2,
                    request_id,
                    0,
                    0,
                    head + varbinds,
                    context_engine_id=switch.engine_id,
                ),
                self.trap_user,
            )
        agent.transport.sendto(message, self.trap_receiver)
