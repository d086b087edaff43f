"""What the broker keeps for edumon between connections: its subscriptions and its session.

- The topics subscribed last are kept in the state directory, per client id: on start, the
  ones the config no longer names are unsubscribed (otherwise they stay in the persistent
  session for its expiry and deliver duplicates, or topics nobody reads).
- A subscription granted below QoS 1 (or refused, or answered with the wrong number of codes)
  is an error naming the topic: delivery would silently become at-most-once.
- A CONNACK without the session edumon had (`session_present` false once the broker knew
  edumon) means the broker lost what was queued meanwhile: said, counted and alerted on.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from paho.mqtt.reasoncodes import ReasonCode

from gateway.mqtt_client import ConnAck, MqttClient, MqttError

log = logging.getLogger(__name__)

SESSION_LOST = "the broker lost edumon's session: messages queued while edumon was away are gone"


class SubscriptionState:
    """The topics subscribed last, in `<state_dir>/mqtt/<client id>.json` (none kept without
    a state directory)."""

    def __init__(self, state_dir: Path | None, client_id: str) -> None:
        self.path = state_dir / "mqtt" / f"{client_id}.json" if state_dir is not None else None

    def load(self) -> list[str] | None:
        """The topics subscribed last; None when edumon never subscribed with this client id."""
        if self.path is None or not self.path.exists():
            return None
        try:
            topics = json.loads(self.path.read_text())
        except (OSError, ValueError) as error:
            log.warning("%s unreadable (%s): stale subscriptions are not removed", self.path, error)
            return None
        return [str(topic) for topic in topics] if isinstance(topics, list) else None

    def save(self, topics: Sequence[str]) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(list(topics)))
        os.replace(temporary, self.path)


def check_connack(connack: ConnAck, *, expected_session: bool) -> bool:
    """Whether the broker lost the session edumon expected; refuses a broker that allows
    QoS 0 only (MQTT 5 Maximum QoS)."""
    if connack.maximum_qos < 1:
        raise MqttError(
            "the broker allows QoS 0 only (Maximum QoS in its CONNACK): edumon needs QoS 1"
        )
    return expected_session and not connack.session_present


def check_grants(topics: Sequence[str], codes: Sequence[ReasonCode]) -> None:
    """Every topic subscribed at QoS 1 or more, or an MqttError naming the ones that are not."""
    if len(codes) != len(topics):
        raise MqttError(f"the broker answered {len(codes)} codes for {len(topics)} topics")
    problems = []
    for topic, code in zip(topics, codes, strict=True):
        if code.is_failure:
            problems.append(f"{topic}: refused ({code.getName()})")
        elif code.value < 1:
            problems.append(f"{topic}: granted QoS 0 only (edumon needs QoS 1)")
    if problems:
        raise MqttError(f"subscription refused: {'; '.join(problems)}")


async def subscribe(
    client: MqttClient, state: SubscriptionState, topics: Sequence[str]
) -> list[str]:
    """Unsubscribe the topics subscribed last and no longer wanted, subscribe `topics`, and
    keep them as the last ones; returns the stale topics removed."""
    stale = [topic for topic in state.load() or [] if topic not in topics]
    if stale:
        await client.unsubscribe(stale)
        log.info("unsubscribed from %s (no longer in the config)", ", ".join(stale))
    check_grants(topics, await client.subscribe(list(topics)))
    state.save(topics)
    return stale
