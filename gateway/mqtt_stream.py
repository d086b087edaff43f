"""The stream of an MQTT-based collector: one durable consumer on the config's broker, with
the collector's topics (as shared subscriptions when `mqtt.shared_group` is set), its
handler, dead letters and intake counters. Each message is journaled around its handler, so
one whose handling killed edumon twice is dead-lettered as `poison`
(gateway/inflight_journal.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gateway.collector import Collector, Stream, Totals
from gateway.config import EdumonConfig
from gateway.deadletter import DeadLetterFile
from gateway.inflight_journal import InflightJournal
from gateway.limits import Bounds
from gateway.mqtt_consumer import Handler, MqttConsumer
from gateway.mqtt_settings import broker_address, settings_from_config, shared


def mqtt_collector(
    config: EdumonConfig,
    name: str,
    *,
    topics: Sequence[str],
    handler: Handler,
    dead_letters: DeadLetterFile,
    intake_totals: Callable[[], Totals],
    silence_s: float | None,
    measurements: tuple[str, ...],
    client_suffix: str | None = None,
    bounds: Bounds | None = None,
) -> Collector:
    """`client_suffix` (default: `name`) makes the consumer's client id and session its own;
    `bounds` shows its batch and packet-size bounds in /metrics."""
    journal = InflightJournal.in_state_dir(config.service.state_dir, name)
    consumer = MqttConsumer(
        name,
        settings_from_config(config, client_suffix or name),
        shared(config, topics),
        journal.guard(handler, dead_letters),
        dead_letters,
    )

    if bounds is not None:
        settings = consumer.settings
        bounds.watch(f"mqtt_batch:{name}", consumer.unacked, limit=settings.max_batch)
        bounds.watch(
            f"mqtt_packet_bytes:{name}",
            lambda: consumer.largest_payload,
            lambda: consumer.stats.oversize,
            limit=settings.max_packet_size,
        )

    def totals() -> Totals:
        return {**intake_totals(), ("dead_lettered", "poison"): journal.poisoned}

    stream = Stream(
        name,
        broker_address(config),
        lambda emit, health: consumer.run(emit, health, totals),
        silence_s=silence_s,
        measurements=measurements,
    )
    return Collector(streams=[stream])
