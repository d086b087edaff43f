"""Every bound on what a sender can make edumon hold, set in one table, and how full each is.

A cache or queue that a device, a trap sender or an HTTP client can grow takes its limit from
`LIMITS` (a config setting may override a default, e.g. `snmp.max_interfaces_per_device`) and
reports through `Bounds.watch`, so `/metrics` shows for every bound

    edumon_bound_limit{bound="..."}        the limit
    edumon_bound_used{bound="..."}         entries held now
    edumon_bound_refused_total{bound="..."} entries refused or dropped because it was full

Bounds kept elsewhere with their own metrics: the alert engine's instances
(gateway/alerts/bounds.py), the pipeline queue (`pipeline.max_queued_samples`), the spool
(`spool.max_bytes`), dead-letter files (gateway/deadletter.py), the MQTT in-flight window
(the broker's `max_inflight_messages`; MQTT 5: edumon's Receive Maximum).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

LIMITS: dict[str, int] = {
    # SNMPv3 localized keys kept (engines x users), only of messages that authenticated
    "snmp_usm_keys": 1_024,
    # password-to-key results kept (configured passwords; Reeder key extension per engine)
    "snmp_usm_password_keys": 1_024,
    # trap sample batches waiting for the pipeline; the oldest is dropped past it
    "snmp_trap_queue": 20_000,
    # engines whose boots/time the trap receiver keeps (persisted in the state directory)
    "snmp_trap_engines": 10_000,
    # message ids of the trap time window remembered against replays
    "snmp_trap_messages": 100_000,
    # ifIndexes per device that traps may name before the poller knows them
    "snmp_trap_unmapped_if_indexes": 256,
    # interface names per device (default of `snmp.max_interfaces_per_device`)
    "snmp_interfaces_per_device": 1_000,
    # MQTT messages received and not yet durable, per consumer (default of `mqtt.max_batch`);
    # past it the socket is not read (the broker holds the rest back)
    "mqtt_batch": 5_000,
    # the largest MQTT packet taken (default of `mqtt.max_packet_size`); a larger one is refused
    "mqtt_packet_bytes": 2**20,
    # HTTP connections open at once (default of `service.http.max_connections`)
    "http_connections": 256,
    # successful HTTP basic-auth checks remembered (bcrypt is slow on purpose)
    "http_auth_cache": 64,
}


class _Watched(NamedTuple):
    limit: int
    used: Callable[[], int]
    refused: Callable[[], int]


class Bounds(Collector):
    """The bounds of one service instance, read when `/metrics` is scraped."""

    def __init__(self) -> None:
        self._watched: dict[str, _Watched] = {}

    def watch(
        self,
        name: str,
        used: Callable[[], int],
        refused: Callable[[], int] = lambda: 0,
        limit: int | None = None,
    ) -> None:
        """Export bound `name` (its limit is LIMITS[name] unless given)."""
        self._watched[name] = _Watched(LIMITS[name] if limit is None else limit, used, refused)

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        limit = GaugeMetricFamily("edumon_bound_limit", "The bound's limit", labels=["bound"])
        used = GaugeMetricFamily("edumon_bound_used", "Entries held now", labels=["bound"])
        refused = CounterMetricFamily(
            "edumon_bound_refused",
            "Entries refused or dropped because the bound was reached",
            labels=["bound"],
        )
        for name, watched in sorted(self._watched.items()):
            limit.add_metric([name], watched.limit)
            used.add_metric([name], watched.used())
            refused.add_metric([name], watched.refused())
        yield limit
        yield used
        yield refused
