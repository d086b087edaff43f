"""The stream of an MQTT-based collector: one durable consumer on the config's broker, with
the collector's topics (as shared subscriptions when `mqtt.shared_group` is set), its
handler, dead letters and intake counters."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gateway.collector import Collector, Stream, Totals
from gateway.config import EdumonConfig
from gateway.deadletter import DeadLetterFile
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
) -> Collector:
    """`client_suffix` (default: `name`) makes the consumer's client id and session its own."""
    consumer = MqttConsumer(
        name,
        settings_from_config(config, client_suffix or name),
        shared(config, topics),
        handler,
        dead_letters,
    )
    stream = Stream(
        name,
        broker_address(config),
        lambda emit, health: consumer.run(emit, health, intake_totals),
        silence_s=silence_s,
        measurements=measurements,
    )
    return Collector(streams=[stream])
