"""edumon's SNMP plugin opened on a config, its discovery jobs polled by the test (as the
scheduler would), every round handed to the gateway's topology model through `observe`."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.collector import Collector, CollectorContext, CollectorError, PolledJob
from gateway.config import EdumonConfig
from gateway.metrics import Metrics
from gateway.plugins import PLUGINS
from gateway.sample import Sample
from gateway.topology.model import TopologyModel
from gateway.topology.observations import Discovery
from gateway.topology.service import inventory_nodes


@dataclass
class DiscoveryRounds:
    config: EdumonConfig
    model: TopologyModel = field(init=False)
    seen: dict[str, Discovery] = field(default_factory=dict)  # each switch's latest round
    collector: Collector = field(init=False)
    jobs: list[PolledJob] = field(init=False)

    def __post_init__(self) -> None:
        self.model = TopologyModel(inventory_nodes(self.config))
        (snmp,) = [p for p in PLUGINS if p.name == "snmp"]
        context = CollectorContext(self.config, Metrics(), observe=self._observe)
        self.collector = snmp.open(context)
        self.jobs = [
            job for job in self.collector.polled if job.schedule.target_name.endswith("/discovery")
        ]

    def _observe(self, discovery: Discovery) -> None:
        self.seen[discovery.device] = discovery
        self.model.apply(discovery)

    async def round(self) -> list[Sample]:
        """Every switch's discovery once; a switch that does not answer has no round."""
        samples = []
        for job in self.jobs:
            try:
                samples += await job.collector.poll(job.target)
            except CollectorError:
                continue
        return samples

    def links(self, *, both_ends: bool = False) -> set[frozenset[tuple[str, str | None]]]:
        """The model's links as /topology shows them, each with both ends' ports (only those
        both ends' latest rounds report, with `both_ends`)."""
        return {
            frozenset({(k["a"], k["a_ifname"]), (k["b"], k["b_ifname"])})
            for k in self.model.snapshot()["links"]
            if not both_ends or set(k["reporters"]) == {k["a"], k["b"]}
        }

    def close(self) -> None:
        self.collector.close()
