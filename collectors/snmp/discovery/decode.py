"""Decoding what LLDP-MIB and CISCO-CDP-MIB carry: chassis and port IDs in every subtype,
MACs, and management addresses (RFC 2922 / IEEE 802.1AB LldpChassisIdSubtype and
LldpPortIdSubtype; IANA address families)."""

from __future__ import annotations

import ipaddress

CHASSIS_SUBTYPES = {
    1: "chassisComponent",
    2: "interfaceAlias",
    3: "portComponent",
    4: "macAddress",
    5: "networkAddress",
    6: "interfaceName",
    7: "local",
}
PORT_SUBTYPES = {
    1: "interfaceAlias",
    2: "portComponent",
    3: "macAddress",
    4: "networkAddress",
    5: "interfaceName",
    6: "agentCircuitId",
    7: "local",
}
MAX_TEXT = 255  # octets of an ID or name kept; the rest of a longer one is cut


def mac_text(raw: bytes) -> str | None:
    """Six octets as aa:bb:cc:dd:ee:ff; also a MAC some agents send as text; else None."""
    if len(raw) == 6:
        return ":".join(f"{b:02x}" for b in raw)
    spelled = raw.decode("ascii", "replace").strip().lower().replace("-", ":").replace(".", "")
    digits = spelled.replace(":", "")
    if len(digits) == 12 and all(c in "0123456789abcdef" for c in digits):
        return ":".join(digits[i : i + 2] for i in range(0, 12, 2))
    return None


def address_text(family: int, raw: bytes) -> str | None:
    """An address of an IANA family (1 IPv4, 2 IPv6) or InetAddressType (1 ipv4, 2 ipv6)."""
    try:
        if family == 1 and len(raw) == 4:
            return str(ipaddress.IPv4Address(raw))
        if family == 2 and len(raw) == 16:
            return str(ipaddress.IPv6Address(raw))
    except ValueError:
        return None
    return None


def printable(raw: bytes) -> str:
    """A name or ID as text: UTF-8 when printable (NULs and blanks trimmed), else hex."""
    raw = raw[:MAX_TEXT].rstrip(b"\x00")
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw.hex(":")
    return text if text.isprintable() else raw.hex(":")


def identifier(subtype: int, raw: bytes, names: dict[int, str]) -> tuple[str, str]:
    """(text, subtype name) of a chassis or port ID: a MAC as aa:bb:.., a network address as
    its text (first octet the IANA family), anything else as printable text."""
    kind = names.get(subtype, f"unknown{subtype}")
    if kind == "macAddress" and (mac := mac_text(raw)) is not None:
        return mac, kind
    if kind == "networkAddress" and raw and (text := address_text(raw[0], raw[1:])):
        return text, kind
    return printable(raw), kind
