"""Which Wi-Fi profile a controller uses: its `wifi.profile` when set; else, among the profiles
with an alternative of `match` that holds (wifi_model.py), the user's before the shipped ones,
then the one that also checked a subtree being present, the longest sysObjectID prefix, one
that also checked sysDescr. A `present` subtree is asked (one GETBULK of one varbind) only
when the rest of its alternative holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from collectors.snmp import ber
from collectors.snmp.client import SnmpTransport
from collectors.snmp.profiles import identity_match
from collectors.snmp.wifi_model import WifiMatch, WifiProfile

Identity = tuple[str, str]  # sysObjectID, sysDescr


@dataclass(frozen=True)
class Chosen:
    profile: WifiProfile
    why: str


async def choose(
    profiles: Sequence[WifiProfile],
    transport: SnmpTransport,
    identity: Identity,
    forced: str | None = None,
) -> Chosen | None:
    if forced is not None:
        named = [p for p in profiles if p.name == forced]
        return Chosen(named[0], f"set in the config (wifi.profile: {forced})") if named else None
    best: tuple[tuple[int, int, int, int], Chosen] | None = None
    for profile in profiles:
        for alternative in profile.match:
            found = await _holds(alternative, transport, identity)
            if found is None:
                continue
            rank = (int(profile._user), *found[0])
            if best is None or rank > best[0]:
                where = f" ({profile._file})" if profile._user else ""
                best = (rank, Chosen(profile, f"{profile.name}{where}: {found[1]}"))
    return None if best is None else best[1]


async def _holds(
    match: WifiMatch, transport: SnmpTransport, identity: Identity
) -> tuple[tuple[int, int, int], str] | None:
    found = identity_match(match, *identity)
    if found is None:
        return None
    length, reasons = found
    if match.present is not None:
        if not await present(transport, match.present):
            return None
        reasons.append(f"the agent answers under {match.present}")
    rank = (int(match.present is not None), length, int(match.sysdescr is not None))
    return rank, "; ".join(reasons)


async def present(transport: SnmpTransport, subtree: str) -> bool:
    """Whether the agent has any object inside the subtree (its next object is in it)."""
    prefix = ber.encode_oid(subtree)
    varbinds = await transport.bulk([prefix], 1)
    return bool(varbinds) and (
        varbinds[0].oid.startswith(prefix)
        and len(varbinds[0].oid) > len(prefix)
        and varbinds[0].tag not in ber.EXCEPTIONS
    )
