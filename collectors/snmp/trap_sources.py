"""Which inventory device sent a trap, never guessed.

By the datagram's source address when one device has it. Where several devices share that
address (switches behind one NAT, several agents on one host), or a relay forwarded the trap,
by what the trap says of its agent: the agent address (snmpTrapAddress.0, RFC 3584), then the
engine that sent an SNMPv3 trap (the engine id the poller discovered for one of them), then its
sysName.0 against the devices' ids. A trap that names none of the devices sharing its address
is attributed to no device ("ambiguous"), like a stranger's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from collectors.snmp import ber

SNMP_TRAP_ADDRESS = ber.encode_oid("1.3.6.1.6.3.18.1.3.0")
SYS_NAME = ber.encode_oid("1.3.6.1.2.1.1.5.0")


@dataclass(frozen=True)
class TrapSource:
    site: str
    device: str
    role: str


def _normal(address: str) -> str:
    """One spelling per address: "::ffff:127.0.0.11" and "127.0.0.11" are the same sender."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address  # a host name in the inventory matches only itself
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


class TrapSources:
    """The inventory's devices by address (several may share one)."""

    def __init__(self, by_address: Iterable[tuple[str, TrapSource]]) -> None:
        self._at: dict[str, list[TrapSource]] = {}
        # the device whose SNMPv3 engine has this id, as its polls found (the plugin sets it)
        self.device_of_engine: Callable[[bytes], str | None] = lambda engine_id: None
        for address, source in by_address:
            self._at.setdefault(_normal(address), []).append(source)

    @classmethod
    def of(cls, sources: Mapping[str, TrapSource] | TrapSources) -> TrapSources:
        return sources if isinstance(sources, TrapSources) else cls(sources.items())

    def find(
        self, sender: str, varbinds: Sequence[ber.VarBind], engine_id: bytes = b""
    ) -> tuple[TrapSource | None, str]:
        """The device, or None and why: "unknown_sender" or "ambiguous_sender"."""
        candidates = self._at.get(_normal(sender), [])
        if len(candidates) == 1:
            return candidates[0], ""
        agent = _agent_address(varbinds)
        if agent is not None and agent != _normal(sender):
            named = self._at.get(agent, [])
            if len(named) == 1:
                return named[0], ""
            candidates = named or candidates
        for name in (self.device_of_engine(engine_id) if engine_id else None, _sys_name(varbinds)):
            named = [c for c in candidates if name is not None and c.device == name]
            if len(named) == 1:
                return named[0], ""
        return None, "ambiguous_sender" if candidates else "unknown_sender"


def _agent_address(varbinds: Sequence[ber.VarBind]) -> str | None:
    for vb in varbinds:
        if vb.oid == SNMP_TRAP_ADDRESS and vb.tag == ber.IP_ADDRESS and len(vb.raw) == 4:
            return str(ipaddress.IPv4Address(vb.raw))
    return None


def _sys_name(varbinds: Sequence[ber.VarBind]) -> str | None:
    for vb in varbinds:
        if vb.oid == SYS_NAME and vb.tag == ber.OCTET_STRING:
            return vb.raw.decode("utf-8", errors="replace")
    return None
