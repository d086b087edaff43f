"""Rendezvous (highest-random-weight) hashing: each target goes to the member with the highest
hash of (member, target). A member joining takes only the targets it now wins; a member leaving
gives only its own targets away, each to its runner-up. Every instance computes the same answer
from the same member list, so nothing but the list has to be agreed on."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable


def weight(member: str, target: str) -> int:
    digest = hashlib.blake2b(f"{member}\0{target}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(target: str, members: Collection[str]) -> str | None:
    """The member that owns `target`; None when there is no member. Ties (practically never)
    go to the smaller name, so the answer never depends on the order of `members`."""
    if not members:
        return None
    return max(members, key=lambda member: (weight(member, target), _reverse(member)))


def assignment(targets: Iterable[str], members: Collection[str]) -> dict[str, str | None]:
    return {target: owner(target, members) for target in targets}


def _reverse(name: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in name)
