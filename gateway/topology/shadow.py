"""One page per root cause: which failed elements are causes, and which nodes are behind them.

From the roots (the city core), the live nodes reachable through live nodes are connected. A
node that stopped answering is
- a `cause` when a connected neighbour answered after it stopped (its own failure), or when it
  is a root, or after `settle_s` without such evidence;
- `suspect` while a connected neighbour has not answered since it stopped (the neighbour may
  be failing in the same poll round: it may be the cause); it names those neighbours, which
  the topology asks to be polled at once;
- `shadowed` when no neighbour is connected: every path to a root goes through a failed
  element, and it is reported behind the nearest cause.
A node with a second live path (the ring, a dual-homed school) stays connected. Loops and
unknown (unpolled) nodes are fine: the search visits each node once; an unpolled node counts
as live and as having answered.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Literal

Kind = Literal["cause", "suspect", "shadowed"]


@dataclass(frozen=True)
class NodeState:
    up: bool
    last_answer: float  # the latest time it answered (0: never)
    down_since: float | None
    seen: float = 0.0  # when this was observed (the newest wins across a cluster's members)


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    cause: str  # the failed element it is behind (itself for a cause or a suspect)
    # the polls that end a suspect's wait: its neighbours that have not answered since it went
    # down, and a leaf's switch's discovery job when the leaf's PoE port is known
    waits_for: tuple[str, ...] = ()


def verdicts(
    graph: Mapping[str, Collection[str]],
    roots: Collection[str],
    states: Mapping[str, NodeState],
    now: float,
    settle_s: float,
) -> dict[str, Verdict]:
    """A verdict for every node that is down; nothing when no root is configured."""
    if not roots:
        return {}

    def live(node: str) -> bool:
        state = states.get(node)
        return state is None or state.up

    connected = _reach([r for r in roots if r in graph and live(r)], graph, live)
    result: dict[str, Verdict] = {}
    for node, state in states.items():
        if state.up or node not in graph:
            continue
        since = state.down_since or now
        near = [n for n in graph[node] if n in connected]
        if node in roots:
            result[node] = Verdict("cause", node)
        elif near:
            answered = any(n not in states or states[n].last_answer >= since for n in near)
            if answered or now - since >= settle_s:
                result[node] = Verdict("cause", node)
            else:
                result[node] = Verdict("suspect", node, tuple(sorted(near)))
    # the rest of the failed nodes are behind the nearest cause (or suspect)
    queue = deque((n, n) for n in sorted(result))
    seen = set(result)
    while queue:
        node, cause = queue.popleft()
        for other in sorted(graph.get(node, ())):
            if other in seen or other in connected:
                continue
            seen.add(other)
            if other in states and not states[other].up:
                result[other] = Verdict("shadowed", cause)
            queue.append((other, cause))
    for node, state in states.items():  # failed with no path to any root at all
        if not state.up and node in graph and node not in result:
            result[node] = Verdict("cause", node)
    return result


def _reach(
    start: list[str], graph: Mapping[str, Collection[str]], passable: Callable[[str], bool]
) -> set[str]:
    seen = set(start)
    queue = deque(start)
    while queue:
        for other in graph.get(queue.popleft(), ()):
            if other not in seen and passable(other):
                seen.add(other)
                queue.append(other)
    return seen
