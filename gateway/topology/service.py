"""The topology inside the service: learns from discovery rounds and the config, follows which
nodes answer (their `up` samples, as they pass the pipeline ahead of the alert engine), and
holds the alerts of every device behind a failed element in the engine (`hold_device`), so a
failed aggregation switch is one page, not one per school behind it.

A suspect (down while a neighbour towards the root has not answered since) has that neighbour
polled at once through `poll_now` (handed in by the service: the collector runner's, bounded
there), so the hold lasts one poll of the neighbour rather than up to its interval.

It writes `link` points (for the city map) and `port_feed` points (the PoE state of each
port that feeds an inventory device; PoePortFault watches them), persists what it learned in
the state directory (topology.json, 0600) and serves `/topology`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.alerts.engine import AlertEngine
from gateway.collector import CollectorEmit
from gateway.config import EdumonConfig
from gateway.sample import FieldValue, Sample
from gateway.topology.model import Attachment, InventoryNode, SharedLink, TopologyModel
from gateway.topology.observations import Discovery, PoePort
from gateway.topology.shadow import NodeState, Verdict, verdicts

log = logging.getLogger(__name__)

_FAULTS = ("fault", "otherFault")


def _poe_fault(port: PoePort) -> bool:
    """The port feeding a device failed it: a PoE fault, or an enabled port not delivering power
    (a port an operator disabled is not a fault: the device's own alert pages)."""
    return port.detection in _FAULTS or (
        port.admin_up is not False and port.detection != "deliveringPower"
    )


def inventory_nodes(config: EdumonConfig) -> list[InventoryNode]:
    return [
        InventoryNode(
            device.id,
            site.id,
            device.kind,
            getattr(device, "role", None),
            device.mac,
            getattr(device, "address", None),
        )
        for site, device in config.devices()
    ]


class Topology:
    def __init__(
        self, config: EdumonConfig, engine: AlertEngine, device_tags: Mapping[str, str]
    ) -> None:
        self.engine = engine
        self.device_tags = device_tags
        self.model = TopologyModel(inventory_nodes(config), config.topology.max_unknown_nodes)
        self.path = Path(config.service.state_dir) / "topology.json"
        self.states: dict[str, NodeState] = {}
        self.ports: dict[tuple[str, str], Mapping[str, FieldValue]] = {}  # link ends' latest
        self.verdicts: dict[str, Verdict] = {}
        self.held: dict[str, Verdict] = {}
        self.remote: dict[str, NodeState] = {}  # other cluster members' (cluster_share.py)
        self.remote_links: list[SharedLink] = []  # learned by other members' discovery
        self.remote_attachments: dict[str, Attachment] = {}  # placed by other members'
        self.view: dict[str, NodeState] = {}  # own and remote, as of the last recompute
        self._feeds: list[Sample] = []
        self._suspects = False  # a node or device waits for a neighbour's answer
        # polls a switch out of its schedule (True: this instance will); set by the service
        self.poll_now: Callable[[str], bool] = lambda _device: False
        self._restore()
        self.reconfigure(config)

    def reconfigure(self, config: EdumonConfig) -> None:
        """The config (at start, and at each reload): roots and settings, the inventory, its
        `links:` and the devices that hang off their site's core."""
        self.settings = config.topology
        self.reports = config.reports
        self.school_sites = {s.id for s in config.sites if s.kind == "school"}
        self.model.set_inventory(inventory_nodes(config))
        for device in [d for d in self.states if d not in self.model.inventory]:
            del self.states[device]
        for _site, device in config.devices():
            for link in device.links:
                self.model.add_manual(device.id, link.peer, link.ifname, link.peer_ifname)
        self._attach_to_site_cores(config)
        self._dirty = True

    def _attach_to_site_cores(self, config: EdumonConfig) -> None:
        """A device no MAC or link places hangs off its site's core switch."""
        for site in config.sites:
            cores = [d.id for d in site.devices if getattr(d, "role", None) == "core"]
            for device in site.devices:
                if cores and device.kind != "switch" and device.id not in self.model.attachments:
                    linked = next((k for k in device.links), None)
                    if linked is not None:
                        attachment = Attachment(linked.peer, linked.peer_ifname, "manual", 0.0)
                    else:
                        attachment = Attachment(cores[0], None, "site", 0.0)
                    self.model.attach(device.id, attachment)
                elif (
                    device.kind == "switch"
                    and cores
                    and device.id not in cores
                    and not any(True for _ in self.model.neighbours(device.id))
                ):
                    self.model.add_manual(device.id, cores[0], None, None, "site")

    # ----------------------------------------------------------------- intake
    def observe(self, samples: Sequence[Sample]) -> None:
        """The pipeline subscriber (ahead of the alert engine): who answers, link ports."""
        now = self.engine.clock()
        changed = False
        watched: set[tuple[str, str]] | None = None  # the ports kept, once a call (a poll)
        for sample in samples:
            if sample.measurement == "interface":
                if watched is None:
                    watched = self._watched_ports()
                key = (sample.tags.get("device", ""), sample.tags.get("ifname", ""))
                if key in watched:
                    self.ports[key] = sample.fields
                continue
            tag = self.device_tags.get(sample.measurement)
            up = sample.fields.get("up")
            if tag is None or not isinstance(up, bool):
                continue
            device = sample.tags.get(tag, "")
            if device not in self.model.inventory:
                continue
            before = self.states.get(device)
            if up:
                self.states[device] = NodeState(True, now, None, now)
            else:
                since = before.down_since if before and not before.up else now
                answer = before.last_answer if before else 0
                self.states[device] = NodeState(False, answer, since, now)
            # an answer matters beyond a change while a suspect waits for its neighbours'
            changed = changed or before is None or before.up != up or (up and self._suspects)
        if changed:
            self.recompute(now)

    def observe_discovery(self, discovery: Discovery) -> None:
        """A collector's `observe`: one switch's discovery round."""
        self.model.apply(discovery, self._answered_since, self.engine.clock())
        self._dirty = True
        for device, attachment in self.model.attachments.items():
            if attachment.switch == discovery.device and attachment.ifname is not None:
                feed = self._feed_sample(device, attachment, discovery.time_ns)
                if feed is not None:
                    self._feeds.append(feed)
        self.recompute(self.engine.clock())

    def _watched_ports(self) -> set[tuple[str, str]]:
        """(switch, ifname) of each link's ends and of each port feeding a device."""
        ends = {
            (node, ifname)
            for link in self.model.links
            for node in link.ends()
            if (ifname := link.ifname_at(node)) is not None
        }
        return ends | {
            (a.switch, a.ifname) for a in self.model.attachments.values() if a.ifname is not None
        }

    def _feed_sample(self, device: str, attachment: Attachment, time_ns: int) -> Sample | None:
        port = self.model.poe_of(device)
        node = self.model.inventory[device]
        if port is None or attachment.ifname is None:
            return None
        fault = _poe_fault(port)
        tags = {
            "site": node.site,
            "device": attachment.switch,
            "ifname": attachment.ifname,
            "feeds": device,
            "feeds_kind": node.kind,
        }
        # an exhibit's fault pages while the science centre is open, any other a warning
        page = fault and node.kind == "exhibit" and self._open(time_ns)
        fields: dict[str, FieldValue] = {
            "poe_fault": fault,
            "poe_fault_page": page,
            "poe_fault_warning": fault and not page,
            "poe_status": port.detection,
        }
        if port.power_w is not None:
            fields["power_w"] = port.power_w
        return Sample("port_feed", tags, fields, time_ns)

    def _open(self, time_ns: int) -> bool:
        """Whether the science centre is open then (reports.opening_hours)."""
        local = datetime.fromtimestamp(time_ns / 1e9, self.reports.zone)
        window = self.reports.opening_window(local.date())
        return window is not None and window[0] <= local < window[1]

    # ---------------------------------------------------------------- verdicts
    def recompute(self, now: float) -> None:
        self.view = self.merged_states()
        if self.model.forget_vanished(self._answered_since):
            self._dirty = True
        graph = self.model.adjacency(self.remote_links)
        roots = self.settings.roots
        attachments = self.attachments()
        nodes = {d: s for d, s in self.view.items() if d not in attachments}
        self.verdicts = verdicts(graph, roots, nodes, now, self.settings.settle_s)
        wanted = dict(self.verdicts) if roots else {}
        for device, attachment in attachments.items():
            verdict = self._leaf_verdict(device, attachment, now)
            if verdict is not None:
                wanted[device] = verdict
        held = {d: v for d, v in wanted.items() if v.kind != "cause"}
        self._suspects = any(v.kind == "suspect" for v in held.values())
        # a new suspect (or one now waiting for other polls) asks for them at once, not at their
        # next scheduled time; a poll asked for before is not asked again
        asked = {
            n
            for d, v in held.items()
            for n in v.waits_for
            if d not in self.held or n not in self.held[d].waits_for
        }
        for neighbour in sorted(asked):
            if self.poll_now(neighbour):
                log.debug("topology: polling %s now (a node behind it went down)", neighbour)
        for device in held.keys() - self.held.keys():
            self.engine.hold_device(device)
        for device in self.held.keys() - held.keys():
            state = self.view.get(device)
            recovered = state is None or state.up or self.held[device].kind == "suspect"
            grace = 0.0 if recovered else self.settings.recovery_grace_s
            self.engine.release_device(device, now + grace)
        self.held = held

    def _answered_since(self, node: str, since: float) -> bool:
        """Whether a node answered after `since` (one nothing polls cannot say otherwise)."""
        state = self.view.get(node)
        return state is None or (state.up and state.last_answer > since)

    def local_states(self) -> dict[str, NodeState]:
        """What this instance's own polls and intakes saw."""
        return dict(self.states)

    def set_remote_states(self, states: dict[str, NodeState]) -> None:
        self.remote = states

    def set_remote_wiring(
        self, links: list[SharedLink], attachments: dict[str, Attachment]
    ) -> None:
        """A cluster member's discovery reads only the switches it owns, so each member knows
        part of the wiring: the others' learned links join its graph, and their placements
        of devices stand where this member knows no better than the device's site."""
        self.remote_links = links
        inventory = self.model.inventory
        self.remote_attachments = {
            d: a for d, a in attachments.items() if d in inventory and inventory[d].kind != "switch"
        }

    def attachments(self) -> dict[str, Attachment]:
        """Where each device is plugged in: this member's placement, else another member's
        learned one, else its site's core."""
        merged = dict(self.model.attachments)
        for device, remote in self.remote_attachments.items():
            own = merged.get(device)
            if own is None or own.learned == "site":
                merged[device] = remote
        return merged

    def merged_states(self) -> dict[str, NodeState]:
        """Own and other members' observations; the newest of a device wins."""
        merged = dict(self.states)
        for device, state in self.remote.items():
            if device in self.model.inventory and (
                device not in merged or merged[device].seen < state.seen
            ):
                merged[device] = state
        return merged

    def _leaf_verdict(self, device: str, attachment: Attachment, now: float) -> Verdict | None:
        upstream = self.verdicts.get(attachment.switch)
        if upstream is not None:
            if upstream.kind == "suspect":
                return Verdict("suspect", upstream.cause)
            return Verdict("shadowed", upstream.cause)
        port = self.model.poe_of(device)
        if port is not None and _poe_fault(port):
            return Verdict("shadowed", f"{attachment.switch}:{attachment.ifname}")
        state = self.view.get(device)
        if state is None or state.up or state.down_since is None:
            return None
        if now - state.down_since >= self.settings.settle_s:
            return None
        switch = self.view.get(attachment.switch)
        answered = switch is None or switch.last_answer >= state.down_since
        discovered = port is None or self.model.discovered_at.get(attachment.switch, 0) >= (
            state.down_since
        )
        if answered and discovered:
            return None
        waits: tuple[str, ...] = () if answered else (attachment.switch,)
        if not discovered and (job := self.model.discovery_jobs.get(attachment.switch)):
            waits += (job,)  # the port's PoE state, read at once too
        return Verdict("suspect", attachment.switch, waits)

    # ----------------------------------------------------------------- reading
    def behind(self, cause: str) -> tuple[list[str], set[str]]:
        """The devices shadowed behind a failed element, and the schools they are at."""
        devices = sorted(d for d, v in self.held.items() if v.cause == cause and d != cause)
        sites = {self.model.inventory[d].site for d in devices}
        cause_site = self.model.inventory[cause].site if cause in self.model.inventory else None
        return devices, {s for s in sites if s in self.school_sites and s != cause_site}

    def annotations(self, device: str | None) -> dict[str, str]:
        """What an alert about `device` carries: the schools and devices behind it when it is
        a failed element; its switch port, the port's state and its PoE when known."""
        if device is None:
            return {}
        notes: dict[str, str] = {}
        devices, schools = self.behind(device)
        if devices:
            notes["schools_behind"] = str(len(schools))
            notes["devices_behind"] = str(len(devices))
            notes["sites_behind"] = ", ".join(sorted(schools)[:30])
        attachment = self.attachments().get(device)
        if attachment is not None and attachment.ifname is not None:
            notes["switch"], notes["port"] = attachment.switch, attachment.ifname
            oper = self.ports.get((attachment.switch, attachment.ifname), {}).get("oper_up")
            notes["port_oper"] = "unknown" if oper is None else "up" if oper else "down"
            port = self.model.poe_of(device)
            if port is not None:
                notes["poe_status"] = port.detection
                if port.power_w is not None:
                    notes["poe_power_w"] = f"{port.power_w:g}"
        return notes

    def failed(self) -> list[dict[str, Any]]:
        """Each failed element with what is shadowed behind it (for /status)."""
        causes = sorted({v.cause for v in self.held.values()} | self._causes())
        result = []
        for cause in causes:
            devices, schools = self.behind(cause)
            verdict = self.verdicts.get(cause)
            result.append(
                {
                    "element": cause,
                    "kind": verdict.kind if verdict else "poe",
                    "schools_behind": len(schools),
                    "devices_behind": len(devices),
                    "shadowed": devices[:200],
                    **self._port_of(devices[0] if verdict is None and devices else None),
                }
            )
        return result

    def _port_of(self, device: str | None) -> dict[str, str]:
        """A PoE element's switch, port and PoE state (those of the device it feeds)."""
        notes = self.annotations(device)
        return {k: notes[k] for k in ("switch", "port", "port_oper", "poe_status") if k in notes}

    def _causes(self) -> set[str]:
        return {d for d, v in self.verdicts.items() if v.kind == "cause"}

    def snapshot(self) -> dict[str, Any]:
        return {
            **self.model.snapshot(),
            "roots": list(self.settings.roots),
            "member_links": [
                {"a": a, "a_ifname": a_if, "b": b, "b_ifname": b_if}
                for a, a_if, b, b_if in self.remote_links
            ],
            "failed": self.failed(),
            "poe": {
                switch: {"nominal_w": b.nominal_w, "consumption_w": b.consumption_w}
                for switch, b in sorted(self.model.budgets.items())
            },
        }

    # --------------------------------------------------------------------- run
    async def run(self, emit: CollectorEmit) -> None:
        next_links = 0.0
        try:
            while True:
                await asyncio.sleep(1.0)
                now = self.engine.clock()
                self.recompute(now)
                samples, self._feeds = self._feeds, []
                if now >= next_links:
                    next_links = now + self.settings.link_interval_s
                    samples += self.link_samples(now)
                if samples:
                    await emit(samples, collector="topology")
                if self._dirty:
                    self.save()
        finally:
            self.save()

    def link_samples(self, now: float) -> list[Sample]:
        samples = []
        for link in self.model.links:
            node = self.model.inventory.get(link.a)
            if node is None:
                continue
            port = self.ports.get((link.a, link.a_ifname or ""), {})
            ends_up = all(self.view.get(n, NodeState(True, 0, None)).up for n in link.ends())
            fields: dict[str, FieldValue] = {"up": bool(port.get("oper_up", ends_up))}
            for name, source in (
                ("speed_mbps", "speed_mbps"),
                ("in_util_pct", "in_util_pct"),
                ("out_util_pct", "out_util_pct"),
            ):
                if isinstance(port.get(source), int | float):
                    fields[name] = port[source]
            tags = {"site": node.site, "device": link.a, "peer": link.b}
            # a port name that is not known (a `links:` entry without one) is left out
            if link.a_ifname:
                tags["ifname"] = link.a_ifname
            if link.b_ifname:
                tags["peer_ifname"] = link.b_ifname
            samples.append(Sample("link", tags, fields, int(now * 1e9)))
        return samples

    # ------------------------------------------------------------- persistence
    def save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temp = self.path.with_suffix(".tmp")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(self.model.snapshot(), file)
            os.replace(temp, self.path)
            self._dirty = False
        except OSError as error:
            log.error("cannot save the topology to %s: %s", self.path, error.strerror or error)

    def _restore(self) -> None:
        try:
            self.model.restore(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.error("topology state %s unreadable (%s); starting without it", self.path, error)
