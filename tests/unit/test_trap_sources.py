"""A trap's device: by its source address; where devices share one, by the agent address or
the sysName.0 the trap carries; otherwise no device at all (never a guess)."""

from __future__ import annotations

import ipaddress

from collectors.snmp import ber
from collectors.snmp.trap_sources import SNMP_TRAP_ADDRESS, SYS_NAME, TrapSource, TrapSources

CORE = TrapSource("vsk-1", "vsk-1-core", "core")
ACCESS = TrapSource("vsk-1", "vsk-1-access-1", "access")
VIZIUM = TrapSource("vizium", "vizium-core", "core")
SOURCES = TrapSources(
    [("127.0.0.101", CORE), ("::1", ACCESS), ("::1", VIZIUM), ("127.0.0.5", VIZIUM)]
)


def sys_name(name: str) -> ber.VarBind:
    return ber.VarBind(SYS_NAME, ber.OCTET_STRING, name.encode())


def agent(address: str) -> ber.VarBind:
    return ber.VarBind(SNMP_TRAP_ADDRESS, ber.IP_ADDRESS, ipaddress.IPv4Address(address).packed)


def test_one_device_at_the_address_is_the_sender() -> None:
    assert SOURCES.find("127.0.0.101", []) == (CORE, "")
    assert SOURCES.find("::ffff:127.0.0.101", []) == (CORE, "")


def test_a_shared_address_is_told_apart_by_sys_name_never_guessed() -> None:
    assert SOURCES.find("::1", [sys_name("vizium-core")]) == (VIZIUM, "")
    assert SOURCES.find("::1", [sys_name("vsk-1-access-1")]) == (ACCESS, "")
    assert SOURCES.find("::1", []) == (None, "ambiguous_sender")
    assert SOURCES.find("::1", [sys_name("vsk-1-core")]) == (None, "ambiguous_sender")


def test_a_relayed_trap_is_attributed_by_its_agent_address() -> None:
    assert SOURCES.find("10.0.0.9", [agent("127.0.0.101")]) == (CORE, "")
    assert SOURCES.find("10.0.0.9", [agent("10.9.9.9")]) == (None, "unknown_sender")
    assert SOURCES.find("10.0.0.9", []) == (None, "unknown_sender")


def test_an_snmpv3_trap_is_told_apart_by_its_engine() -> None:
    sources = TrapSources([("::1", ACCESS), ("::1", VIZIUM)])
    engines = {b"engine-of-vizium": "vizium-core"}
    sources.device_of_engine = engines.get
    assert sources.find("::1", [], b"engine-of-vizium") == (VIZIUM, "")
    assert sources.find("::1", [], b"an-engine-no-poll-found") == (None, "ambiguous_sender")
