"""While a stream is down (its broker unreachable, its login refused, or silent while devices
are expected) the alert rules of the measurements behind it are held: the outage is one
IntakeDown alert, not an AccessPointDown per access point. When it is back they get a full
window (`alerts.intake_recovery_grace_s`), as after edumon's own restart."""

from __future__ import annotations

import logging

from gateway.alerts.holds import AlertHolds
from gateway.collector import Stream
from gateway.intake_health import CollectorHealth

log = logging.getLogger(__name__)


class StreamHolds:
    def __init__(self, alerts: AlertHolds, recovery_grace_s: float) -> None:
        self.alerts = alerts
        self.recovery_grace_s = recovery_grace_s
        self._down: set[str] = set()

    def note(self, stream: Stream, health: CollectorHealth) -> bool:
        """Hold or release on a change; whether the stream went down or came back since the
        last look."""
        if not health.up and stream.name not in self._down:
            self._down.add(stream.name)
            log.error("%s is down (%s): its devices' alerts are held", stream.name, health.detail)
            self.alerts.hold(stream.name, stream.measurements)
            return True
        if health.up and stream.name in self._down:
            self._down.discard(stream.name)
            grace = self.recovery_grace_s
            log.info("%s is back; its devices' alerts resume in %.0f s", stream.name, grace)
            self.alerts.release(stream.name, grace)
            return True
        return False
