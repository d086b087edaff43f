"""LoRaWAN intake: one MQTT message in, Samples out; bad input counted and dead-lettered.

The MQTT subscription is wired in by the service; this class only sees (topic, body). It picks
the parser by topic prefix (`application/` ChirpStack v4, `v3/` The Things Stack v3), drops
duplicates (counted, not dead-lettered), and never raises: what it refuses is counted and
dead-lettered with the raw message (gateway/intake_refusals.py). An uplink's time must be
within `service.timestamps`.

The `gateway` tag is the only tag value that comes from the network rather than the inventory:
at most `max_gateways` distinct ids become series; an uplink whose best gateway would be one
more is dead-lettered (`too_many_gateways`) instead of creating it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from collectors.lorawan.codecs import Fields, PayloadError
from collectors.lorawan.samples import SensorInfo, UnknownDevice, samples_for, sensor_info
from collectors.lorawan.tracking import UplinkTracker, best_gateway
from collectors.lorawan.uplink import Uplink, UplinkError, parse_chirpstack_v4, parse_tts_v3
from gateway.collector import BadInput
from gateway.deadletter import DeadLetterFile
from gateway.intake_refusals import Refusals, TimestampWindow
from gateway.sample import Sample

log = logging.getLogger(__name__)
SOURCE = "lorawan"
DUPLICATE = "duplicate"
MAX_GATEWAYS = 1000


class LorawanIntake:
    def __init__(
        self,
        inventory: Mapping[str, SensorInfo],
        dead_letters: DeadLetterFile,
        tracker: UplinkTracker | None = None,
        *,
        max_gateways: int = MAX_GATEWAYS,
        vendor: Mapping[str, Callable[[Uplink], Awaitable[Fields]]] | None = None,
        window: TimestampWindow | None = None,
    ) -> None:
        self.inventory = {eui.lower(): info for eui, info in inventory.items()}
        self.dead_letters = dead_letters
        self.refusals = Refusals(SOURCE, dead_letters, window)
        self.tracker = tracker or UplinkTracker()
        self.counts = self.refusals.counts  # rejected messages per reason kind, and duplicates
        self.accepted = 0
        self.max_gateways = max_gateways
        self.gateways: set[str] = set()  # the gateway tag values written so far
        self.vendor = vendor or {}  # decoders of the vendor-codec profiles, awaited

    async def handle(self, topic: str, body: bytes) -> list[Sample]:
        """Samples of one message; [] for a duplicate or bad input (counted, dead-lettered).
        A vendor codec's decode is awaited (it runs in its worker process)."""
        try:
            uplink = self._parse(topic, body)
            self.refusals.window.check_ns(uplink.received_ns)
            info = sensor_info(uplink, self.inventory)
            self._admit_gateway(uplink)
            track = self.tracker.accept(uplink)
            if track is None:
                self.refusals.count(DUPLICATE)
                return []
            decode = self.vendor.get(info.profile)
            fields = await decode(uplink) if decode else None
            samples = samples_for(uplink, track, {uplink.dev_eui: info}, fields)
        except BadInput as error:
            return self.refusals.refuse(topic, body, str(error), error.kind)
        except (UplinkError, PayloadError, UnknownDevice) as error:
            return self.refusals.refuse(topic, body, f"{error.kind}: {error}", error.kind)
        except Exception as error:  # never let one message stop the stream
            log.exception("lorawan intake bug on topic %r", topic[:120])
            reason = f"internal_error: {type(error).__name__}: {error}"
            return self.refusals.refuse(topic, body, reason, "internal_error")
        self.accepted += 1
        return samples

    def _admit_gateway(self, uplink: Uplink) -> None:
        best = best_gateway(uplink.gateways)
        if best is None or best.gateway_id in self.gateways:
            return
        if len(self.gateways) >= self.max_gateways:
            raise UplinkError(
                f"gateway {best.gateway_id!r:.40} would be gateway number "
                f"{self.max_gateways + 1}; at most {self.max_gateways} become series",
                "too_many_gateways",
            )
        self.gateways.add(best.gateway_id)

    @staticmethod
    def _parse(topic: str, body: bytes) -> Uplink:
        if topic.startswith("application/"):
            return parse_chirpstack_v4(topic, body)
        if topic.startswith("v3/"):
            return parse_tts_v3(topic, body)
        raise UplinkError(f"unknown topic {topic!r:.120}", "unknown_topic")
