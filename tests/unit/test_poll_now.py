"""Polls out of schedule (gateway/poll_now.py), asked by the topology for a suspect's
neighbour, on a clock the test moves: asks a moment apart share one poll; a device flapping its
Last Will makes its switch be polled at most once per window (asks within it deferred to one
poll at its end); a poll under way is not doubled (and a scheduled poll due meanwhile waits for
it: one poll of a target at a time); a cluster member that does not own the switch polls
nothing; the topology asks once per suspect (never for the `<id>/discovery` round)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from collectors.snmp.discovery.reader import discovery_job
from gateway.cluster.node import ClusterNode
from gateway.collector import Collector, PolledJob, PollSchedule
from gateway.intake_health import CollectorHealth
from gateway.metrics import Metrics
from gateway.poll_now import GATHER_S, WINDOW_MAX_S
from gateway.polling import PolledTargets
from gateway.sample import Sample
from gateway.topology.observations import Discovery, MacLocation, PoePort
from tests.unit.test_cluster_node import node, target_of
from tests.unit.test_topology import DUAL, City, switches

INTERVAL_S = 60.0


class CountingCollector:
    """A polled collector that answers at once, or holds its polls until `answer` is set."""

    name = "snmp"

    def __init__(self) -> None:
        self.polls: list[str] = []
        self.answer: asyncio.Event | None = None

    async def poll(self, target: str) -> list[Sample]:
        self.polls.append(target)
        if self.answer is not None:
            await self.answer.wait()
        return []


class Clock:
    """Monotonic seconds, and sleeps that end when the test moves the clock past them."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._moved = asyncio.Event()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        until = self.now + seconds
        while self.now < until:
            await self._moved.wait()

    async def advance(self, seconds: float) -> None:
        for _ in range(10):  # what was just started begins its sleep first
            await asyncio.sleep(0)
        self.now += seconds
        self._moved.set()
        self._moved = asyncio.Event()
        for _ in range(10):  # what was due runs
            await asyncio.sleep(0)


class Poller:
    """PolledTargets of `names` (each a switch and its discovery round), running."""

    def __init__(self, names: list[str], cluster: ClusterNode | None = None) -> None:
        self.collector = CountingCollector()
        self.clock = Clock()
        self.metrics = Metrics()
        self.emitted: list[Sample] = []
        jobs = [
            PolledJob(self.collector, job, PollSchedule(job, INTERVAL_S, 5.0))
            for name in names
            for job in (name, discovery_job(name))
        ]

        async def emit(samples: object, *, collector: str, durable: bool = False) -> None:
            assert isinstance(samples, list)
            self.emitted += samples

        self.targets = PolledTargets(
            Collector(polled=jobs),
            CollectorHealth("snmp"),
            emit,
            self.metrics,
            cluster,
            self.clock,
            self.clock.sleep,
        )
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Poller:
        self.task = asyncio.create_task(self.targets.run())
        await asyncio.sleep(0)  # running: its targets wait for their jittered first polls
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    def counted(self, outcome: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "edumon_polls_on_demand_total", {"collector": "snmp", "outcome": outcome}
        )
        return value or 0.0

    async def gathered(self) -> None:
        """The asks of the moment gathered, their poll run."""
        await self.clock.advance(GATHER_S)
        async with asyncio.timeout(5):
            while self.targets._on_demand._coming:  # noqa: ASYNC110 - the poll's task ends
                await asyncio.sleep(0.001)


async def test_asks_a_moment_apart_share_one_poll() -> None:
    """A crash: three devices behind one switch, their Last Wills 0.1 s apart."""
    async with Poller(["sw-1"]) as poller:
        assert poller.targets.poll_now("sw-1")
        await poller.clock.advance(0.1)
        assert not poller.targets.poll_now("sw-1")
        await poller.clock.advance(0.1)
        assert not poller.targets.poll_now("sw-1")
        assert poller.collector.polls == []  # gathering
        await poller.gathered()
        assert poller.collector.polls == ["sw-1"]
        assert (poller.counted("polled"), poller.counted("joined")) == (1, 2)
        # the poll writes its `collector` point like a scheduled one
        (own,) = [s for s in poller.emitted if s.measurement == "collector"]
        assert own.tags == {"collector": "snmp", "target": "sw-1"}


async def test_a_flapping_sender_gets_its_switch_polled_once_per_window() -> None:
    async with Poller(["sw-1"]) as poller:
        assert poller.targets.poll_now("sw-1")
        await poller.gathered()
        first = poller.clock.now
        for _ in range(20):  # the device's Last Will and its return, again and again
            await poller.clock.advance(1.0)
            poller.targets.poll_now("sw-1")
        assert poller.collector.polls == ["sw-1"]
        # the first ask in the window is deferred to its end, the others join it
        assert (poller.counted("deferred"), poller.counted("joined")) == (1, 19)
        await poller.clock.advance(first + WINDOW_MAX_S - poller.clock.now - 0.25)
        assert poller.collector.polls == ["sw-1"]
        await poller.clock.advance(0.25)  # the window is min(interval, 30 s) from the first
        assert poller.collector.polls == ["sw-1", "sw-1"]
        assert poller.counted("polled") == 2


async def test_the_window_is_the_interval_when_that_is_shorter() -> None:
    async with Poller(["sw-1"]) as poller:
        job = poller.targets.jobs["sw-1"]
        schedule = PollSchedule("sw-1", 10, 5)
        poller.targets.jobs["sw-1"] = PolledJob(job.collector, job.target, schedule)
        assert poller.targets.poll_now("sw-1")
        await poller.gathered()
        await poller.clock.advance(10 - GATHER_S)
        assert poller.targets.poll_now("sw-1")
        assert poller.counted("deferred") == 0  # due already: gathered like a first ask
        await poller.gathered()
        assert poller.collector.polls == ["sw-1", "sw-1"]


async def test_a_poll_under_way_is_not_doubled() -> None:
    async with Poller(["sw-1"]) as poller:
        poller.collector.answer = asyncio.Event()  # the switch takes its time to answer
        assert poller.targets.poll_now("sw-1")
        await poller.clock.advance(GATHER_S)
        assert poller.collector.polls == ["sw-1"]
        assert not poller.targets.poll_now("sw-1")  # its answer comes after this ask
        assert poller.counted("joined") == 1
        poller.collector.answer.set()
        await poller.gathered()
        # a scheduled poll under way: its answer comes after the ask, too
        poller.collector.answer = asyncio.Event()
        job = poller.targets.jobs["sw-1"]
        scheduler = poller.targets._scheduler
        scheduled = asyncio.create_task(
            scheduler.poll_once(job.collector, job.target, job.schedule)
        )
        await asyncio.sleep(0)
        await poller.clock.advance(WINDOW_MAX_S)
        assert not poller.targets.poll_now("sw-1")
        assert poller.counted("in_flight") == 1
        poller.collector.answer.set()
        await scheduled
        assert poller.collector.polls == ["sw-1", "sw-1"]


async def test_a_scheduled_poll_due_during_one_out_of_schedule_waits_for_it() -> None:
    """Two polls of one switch at once would rate counters against a base read in between."""
    async with Poller(["sw-1"]) as poller:
        poller.collector.answer = asyncio.Event()
        assert poller.targets.poll_now("sw-1")
        await poller.clock.advance(GATHER_S)
        job = poller.targets.jobs["sw-1"]
        scheduler = poller.targets._scheduler
        scheduled = asyncio.create_task(
            scheduler.poll_once(job.collector, job.target, job.schedule)
        )
        for _ in range(10):
            await asyncio.sleep(0)
        assert poller.collector.polls == ["sw-1"]  # the scheduled one has not started
        poller.collector.answer.set()
        await asyncio.wait_for(scheduled, 5)
        assert poller.collector.polls == ["sw-1", "sw-1"]


async def test_only_the_device_job_of_a_running_poller_is_polled() -> None:
    poller = Poller(["sw-1"])
    assert not poller.targets.poll_now("sw-1")  # not running: nothing to ask
    async with poller:
        assert not poller.targets.poll_now("sw-9")  # not polled here
        assert poller.targets.poll_now("sw-1")
        await poller.gathered()
    assert poller.collector.polls == ["sw-1"]
    assert poller.counted("polled") == 1


async def test_a_cluster_member_polls_only_the_switches_it_owns() -> None:
    members = ("a", "b")
    cluster = node("a")
    cluster.membership.members = frozenset(members)
    mine, theirs = target_of("a", members), target_of("b", members)
    async with Poller([mine, theirs], cluster) as poller:
        assert not poller.targets.poll_now(theirs)  # its owner polls it (and shares the answer)
        assert poller.targets.poll_now(mine)
        await poller.gathered()
        assert poller.collector.polls == [mine]
        assert (poller.counted("not_owner"), poller.counted("polled")) == (1, 1)
        (own,) = [s for s in poller.emitted if s.measurement == "collector"]
        assert own.tags == {"collector": "snmp", "target": mine, "member": "a"}
        # asked, then given away while its poll waited for the window's end: not polled
        await poller.clock.advance(1)
        assert poller.targets.poll_now(mine)
        cluster.membership.members = frozenset({"b"})
        await poller.clock.advance(WINDOW_MAX_S)
        await poller.gathered()
    assert poller.collector.polls == [mine]
    assert poller.counted("not_owner") == 2


def asks_recorded(city: City, poll_now: Callable[[str], bool]) -> list[str]:
    """The topology's asks to poll now, in order, each passed on to `poll_now`."""
    asked: list[str] = []

    def record(target: str) -> bool:
        asked.append(target)
        return poll_now(target)

    city.topology.poll_now = record
    return asked


async def test_the_topology_asks_the_switch_of_a_suspect_once_and_the_poller_bounds_a_flap(
    tmp_path: Path,
) -> None:
    """A school's exhibit sends its Last Will, comes back, and sends it again, ten times within
    the window: the topology asks its switch each time it becomes suspect, the poller polls
    it once; its answer ends the hold at once."""
    city = City(tmp_path)
    async with Poller(switches(city)) as poller:
        asked = asks_recorded(city, poller.targets.poll_now)
        city.poll(set(), switches(city))
        city.advance(2)
        tags = {"site": "school-01", "exhibit": "school-01-globe", "zone": "hall"}
        for _ in range(10):
            city.now += 1
            city.feed([Sample("exhibit", tags, {"up": False}, int(city.now * 1e9))])
            city.advance(1, step=1)  # the topology recomputes every second while it waits
            assert city.topology.held["school-01-globe"].kind == "suspect"
            city.feed([Sample("exhibit", tags, {"up": True}, int(city.now * 1e9))])
            await poller.clock.advance(GATHER_S)  # the poller's own clock
        assert asked == ["school-01-core"] * 10  # once per suspect, not once per second
        assert poller.collector.polls == ["school-01-core"]
        assert (poller.counted("polled"), poller.counted("deferred")) == (1, 1)
        assert poller.counted("joined") == 8
        # the switch answers (as its poll would): the exhibit, down again, is its own cause
        city.feed([Sample("exhibit", tags, {"up": False}, int(city.now * 1e9))])
        assert city.topology.held["school-01-globe"].kind == "suspect"
        city.now += 0.5
        city.poll(set(), ["school-01-core"])
        assert "school-01-globe" not in city.topology.held


async def test_a_school_down_before_its_aggregation_switch_asks_that_switch_and_the_root(
    tmp_path: Path,
) -> None:
    """The schools behind a failing aggregation switch stop answering before it is polled: the
    first one asks for agg-1 at once; agg-1, down too, asks its connected neighbours (the root,
    and the dual-homed school, live through agg-2): either's answer makes agg-1 the cause."""
    city = City(tmp_path)
    asked = asks_recorded(city, lambda _target: True)
    every = switches(city)
    city.poll(set(), every)
    city.advance(2)
    city.poll({"school-01-core"}, ["school-01-core"])
    assert asked == ["agg-1"]
    city.now += 1
    city.poll({"agg-1", "school-01-core"}, ["agg-1"])  # the asked poll finds it down
    assert asked == ["agg-1", "city-core", DUAL + "-core"]
    city.now += 1
    city.poll(set(), ["city-core"])
    assert city.topology.verdicts["agg-1"].kind == "cause"
    assert city.topology.held["school-01-core"].cause == "agg-1"
    assert "/discovery" not in "".join(asked)


async def test_a_leaf_on_a_known_poe_port_has_its_switch_and_the_port_read_at_once(
    tmp_path: Path,
) -> None:
    """The pendulum's MAC is behind vizium-sw's ge-0/0/5, which powers it. When it goes
    offline its own alert waits for its switch's answer and for the port's PoE state (a fault
    there would be the cause): both are asked for at once, not left to the switch's next poll
    and next discovery round (5 minutes in the city); each is asked for once."""
    city = City(tmp_path)
    async with Poller(switches(city)) as poller:
        asked = asks_recorded(city, poller.targets.poll_now)
        mac = MacLocation("02:00:00:00:00:01", "ge-0/0/5", 5, 10, "fdb")
        powered = PoePort("ge-0/0/5", True, "deliveringPower", 12.5, 3)

        def discovery_round() -> None:
            at = int(city.now * 1e9)
            job = discovery_job("vizium-sw")
            city.topology.observe_discovery(
                Discovery("vizium-sw", at, macs=(mac,), poe_ports=(powered,), job=job)
            )

        city.poll(set(), switches(city))
        discovery_round()
        city.advance(2)
        city.now += 1
        tags = {"site": "vizium", "exhibit": "pendulum", "zone": "mechanics"}
        city.feed([Sample("exhibit", tags, {"up": False}, int(city.now * 1e9))])
        city.advance(2, step=1)
        assert city.topology.held["pendulum"].kind == "suspect"
        await poller.gathered()
        assert sorted(poller.collector.polls) == ["vizium-sw", "vizium-sw/discovery"]
        city.now += 0.5
        city.poll(set(), ["vizium-sw"])  # the switch's answer: the port's state is still due
        assert city.topology.held["pendulum"].waits_for == ("vizium-sw/discovery",)
        discovery_round()  # the port delivers power: the pendulum itself is down
        city.advance(1, step=1)
        assert "pendulum" not in city.topology.held
        assert asked == ["vizium-sw", "vizium-sw/discovery"]
        assert any(page.startswith("ExhibitOffline:") for page in city.pages())
