"""The topology and its shadowing with the shipped rules and a fake clock: a city of 22 schools
behind two aggregation switches (one school dual-homed), an exhibit's PoE port fault, a switch
at 92 % of its PoE budget; and the model's bad input (self-neighbours, loops, a MAC behind two
ports, a neighbour that vanishes and returns, the unknown-node bound)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gateway.alerts.engine import AlertEngine, Transition
from gateway.alerts.rules import load_rules
from gateway.collector import device_tags
from gateway.config import load_config
from gateway.plugins import PLUGINS
from gateway.sample import Sample
from gateway.topology.model import InventoryNode, TopologyModel
from gateway.topology.observations import Discovery, MacLocation, Neighbour, PoePort
from gateway.topology.service import Topology
from gateway.topology.shadow import NodeState, verdicts

SCHOOLS = 22
DUAL = "school-00"  # behind both aggregation switches
ENVIRON = {"T_COMMUNITY": "test-only"}
TUESDAY_NOON = 1_796_126_400.0  # 2026-12-01 12:00 UTC: the science centre is open (10-18)


def city_yaml(tmp_path: Path) -> Path:
    switch = "{kind: switch, id: %s, role: core, address: 127.0.0.1, credentials: v2%s}"
    sites = [
        "  - id: city\n    name: City ring\n    kind: science_centre\n    devices:\n"
        + "".join(
            f"      - {switch % (name, links)}\n"
            for name, links in (
                ("city-core", ""),
                ("agg-1", ", links: [{peer: city-core}]"),
                ("agg-2", ", links: [{peer: city-core}]"),
            )
        )
    ]
    for n in range(SCHOOLS):
        school = f"school-{n:02d}"
        agg = "agg-1" if n < SCHOOLS // 2 else "agg-2"
        links = "[{peer: agg-1}, {peer: agg-2}]" if school == DUAL else f"[{{peer: {agg}}}]"
        sites.append(
            f"  - id: {school}\n    name: School {n}\n    devices:\n"
            f"      - {switch % (school + '-core', ', links: ' + links)}\n"
            f"      - {{kind: access_point, id: {school}-ap, room: '1'}}\n"
        )
        if n == 1:
            sites[-1] += f"      - {{kind: exhibit, id: {school}-globe, zone: hall}}\n"
    sites.append(
        "  - id: vizium\n    name: VIZIUM\n    kind: science_centre\n    devices:\n"
        f"      - {switch % ('vizium-sw', ', links: [{peer: agg-2}]')}\n"
        "      - {kind: exhibit, id: pendulum, zone: mechanics, mac: '02:00:00:00:00:01'}\n"
    )
    path = tmp_path / "edumon.yaml"
    path.write_text(
        f"service: {{state_dir: {tmp_path / 'state'}}}\n"
        "credentials: {snmp: {v2: {version: 2c, community_env: T_COMMUNITY}}}\n"
        "topology: {roots: [city-core], settle_s: 120, recovery_grace_s: 60}\n"
        "sites:\n" + "".join(sites)
    )
    return path


class City:
    def __init__(self, tmp_path: Path, config_path: Path | None = None) -> None:
        self.now = TUESDAY_NOON
        config = load_config(config_path or city_yaml(tmp_path), PLUGINS, ENVIRON)
        self.fired: list[Transition] = []
        tags = device_tags(PLUGINS)
        self.engine = AlertEngine(
            load_rules(), clock=lambda: self.now, on_transition=self.fired.append, device_tags=tags
        )
        self.topology = Topology(config, self.engine, tags)
        self.sites = {d.id: s.id for s, d in config.devices()}

    def pages(self) -> list[str]:
        return [
            f"{t.instance.rule}:{sorted(t.instance.labels.values())}"
            for t in self.fired
            if t.state == "firing" and self.engine.rules[t.instance.rule].severity == "page"
        ]

    def feed(self, samples: list[Sample]) -> None:
        self.topology.observe(samples)  # ahead of the engine, as in the service
        self.engine.observe(samples)

    def poll(self, down: set[str], switches: list[str]) -> None:
        """One poll round: each switch's `device` point (in this order)."""
        for device in switches:
            tags = {"site": self.sites[device], "device": device, "role": "core"}
            self.feed([Sample("device", tags, {"up": device not in down}, int(self.now * 1e9))])

    def advance(self, seconds: float, step: float = 2.0) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now += step
            self.topology.recompute(self.now)
            self.engine.tick()


def leaves(city: City, schools: set[str], *, up: bool) -> list[Sample]:
    """The APs of these schools, and the exhibit of school-01, reporting `up`."""
    time_ns = int(city.now * 1e9)
    aps = [
        Sample("wifi_ap", {"site": city.sites[s], "ap": s.replace("core", "ap"), "room": "1"},
               {"up": up}, time_ns)
        for s in schools
    ]  # fmt: skip
    tags = {"site": "school-01", "exhibit": "school-01-globe", "zone": "hall"}
    return [*aps, Sample("exhibit", tags, {"up": up}, time_ns)]


def switches(city: City) -> list[str]:
    return [d for d in city.topology.model.inventory if d.endswith(("core", "sw")) or "agg" in d]


def test_one_page_for_an_aggregation_switch_and_none_for_the_schools_behind_it(
    tmp_path: Path,
) -> None:
    city = City(tmp_path)
    every = switches(city)
    behind = {f"school-{n:02d}-core" for n in range(1, SCHOOLS // 2)}
    city.poll(set(), every)
    city.advance(2)
    # the schools are polled before their aggregation switch: they stop answering first
    failed = {"agg-1"} | behind
    order = sorted(every, key=lambda d: d.startswith("agg"))
    for _ in range(150):  # 5 minutes of 2 s polls
        city.poll(failed, order)
        city.advance(2)
        city.feed(leaves(city, behind, up=False))
    assert city.pages() == ["CoreSwitchUnreachable:['agg-1', 'city']"]
    notes = city.topology.annotations("agg-1")
    assert notes["schools_behind"] == str(len(behind)) == "10"
    assert notes["devices_behind"] == str(2 * len(behind) + 1)
    assert DUAL + "-core" not in city.topology.held and DUAL + "-ap" not in city.topology.held
    failed_elements = {e["element"]: e for e in city.topology.failed()}
    assert failed_elements["agg-1"]["schools_behind"] == 10
    assert {"school-01-ap", "school-01-globe"} <= set(failed_elements["agg-1"]["shadowed"])
    # recovery: the aggregation switch and the schools answer again, the APs report up
    for _ in range(60):
        city.poll(set(), every)
        city.feed(leaves(city, behind, up=True))
        city.advance(2)
    assert city.pages() == ["CoreSwitchUnreachable:['agg-1', 'city']"]
    assert [t.instance.rule for t in city.fired if t.state == "firing"] == ["CoreSwitchUnreachable"]
    assert not city.topology.held


def chain_yaml(tmp_path: Path) -> Path:
    """city-core - agg-1 - school-a-core (and an exhibit at the school), no `links:`: the
    topology learns them from LLDP."""
    switch = "{kind: switch, id: %s, role: core, address: 127.0.0.1, credentials: v2}"
    path = tmp_path / "chain.yaml"
    path.write_text(
        f"service: {{state_dir: {tmp_path / 'state'}}}\n"
        "credentials: {snmp: {v2: {version: 2c, community_env: T_COMMUNITY}}}\n"
        "topology: {roots: [city-core], settle_s: 120, recovery_grace_s: 60}\n"
        "sites:\n"
        f"  - {{id: city, name: City, kind: science_centre, devices: [{switch % 'city-core'},"
        f" {switch % 'agg-1'}]}}\n"
        f"  - {{id: school-a, name: School A, devices: [{switch % 'school-a-core'},"
        " {kind: exhibit, id: globe, zone: hall, mac: '02:00:00:00:0a:01'}]}\n"
    )
    return path


def lldp_round(topology: Topology, now: float, switch: str, *peers: str) -> None:
    """One discovery round of `switch`, its LLDP neighbours `peers` (by sysName)."""
    neighbours = tuple(
        Neighbour(f"p{i}", i, f"chassis-{peer}", "local", "up1", "interfaceName", "", peer, (),
                  "lldp")
        for i, peer in enumerate(peers)
    )  # fmt: skip
    topology.observe_discovery(Discovery(switch, int(now * 1e9), neighbours))


def test_a_switch_its_neighbours_lose_before_a_poll_finds_it_down_still_shadows(
    tmp_path: Path,
) -> None:
    """agg-1 never reports its links (no LLDP-MIB); when it fails, the city core's entry for it
    goes with the link, and the core's round can come before agg-1's failed poll. The link
    stays while agg-1 is silent: the school behind it is shadowed, one page."""
    city = City(tmp_path, chain_yaml(tmp_path))
    chain = ["school-a-core", "city-core", "agg-1"]  # the school is polled first
    lldp_round(city.topology, city.now, "city-core", "agg-1")
    lldp_round(city.topology, city.now, "school-a-core", "agg-1")
    city.poll(set(), chain)
    city.advance(2)
    lldp_round(
        city.topology, city.now, "city-core"
    )  # agg-1 failed: the core's next round has lost it
    for _ in range(60):
        city.poll({"agg-1", "school-a-core"}, chain)
        city.advance(2)
    assert city.pages() == ["CoreSwitchUnreachable:['agg-1', 'city']"]
    assert city.topology.verdicts["school-a-core"].cause == "agg-1"
    # agg-1 answers again while the core still does not report it: the link was removed
    city.poll(set(), chain)
    city.advance(2)
    assert not [k for k in city.topology.model.links if "city-core" in k.ends()]
    lldp_round(city.topology, city.now, "city-core", "agg-1")  # reported again: back
    assert [k for k in city.topology.model.links if "city-core" in k.ends()]


def test_a_school_still_down_after_recovery_pages_after_the_grace(tmp_path: Path) -> None:
    city = City(tmp_path)
    every = switches(city)
    city.poll(set(), every)
    for _ in range(10):
        city.poll({"agg-1", "school-01-core"}, every)
        city.advance(2)
    assert city.pages() == ["CoreSwitchUnreachable:['agg-1', 'city']"]
    for _ in range(20):  # 40 s < recovery_grace_s: school-01 still held
        city.poll({"school-01-core"}, every)
        city.advance(2)
    assert len(city.pages()) == 1
    for _ in range(20):
        city.poll({"school-01-core"}, every)
        city.advance(2)
    assert city.pages()[-1] == "CoreSwitchUnreachable:['school-01', 'school-01-core']"


def test_poe_fault_pages_once_and_holds_the_exhibit_behind_it(tmp_path: Path) -> None:
    city = City(tmp_path)
    faults(city)
    assert city.pages() == ["PoePortFault:['ge-0/0/5', 'pendulum', 'vizium', 'vizium-sw']"]
    notes = city.topology.annotations("pendulum")
    assert notes == {
        "switch": "vizium-sw",
        "port": "ge-0/0/5",
        "port_oper": "unknown",
        "poe_status": "fault",
        "poe_power_w": "0",
    }
    (element,) = city.topology.failed()
    assert element["element"] == "vizium-sw:ge-0/0/5" and element["poe_status"] == "fault"
    assert element["shadowed"] == ["pendulum"]


def test_poe_fault_while_the_science_centre_is_closed_is_a_warning(tmp_path: Path) -> None:
    city = City(tmp_path)
    city.now -= 86400  # Monday: closed
    faults(city)
    assert city.pages() == []
    (warning,) = [t.instance for t in city.fired if t.state == "firing"]
    assert city.engine.rules[warning.rule].alert == "PoePortFault"
    assert city.engine.rules[warning.rule].severity == "warning"
    assert "pendulum" in city.topology.held


def test_a_port_an_operator_disabled_holds_nothing(tmp_path: Path) -> None:
    city = City(tmp_path)
    faults(city, PoePort("ge-0/0/5", False, "disabled", 0.0, None))
    city.poll(set(), switches(city))  # its switch answers: the switch is not the cause either
    city.advance(2)
    assert not [t for t in city.fired if city.engine.rules[t.instance.rule].alert == "PoePortFault"]
    assert "pendulum" not in city.topology.held


def faults(city: City, failed: PoePort | None = None) -> None:
    """The pendulum's port delivers power, then faults (or turns `failed`); the pendulum goes
    offline."""
    city.poll(set(), switches(city))
    ns = int(city.now * 1e9)
    mac = MacLocation("02:00:00:00:00:01", "ge-0/0/5", 5, 10, "fdb")
    healthy = PoePort("ge-0/0/5", True, "deliveringPower", 12.5, 3)
    city.topology.observe_discovery(Discovery("vizium-sw", ns, macs=(mac,), poe_ports=(healthy,)))
    city.feed(city.topology._feeds)
    city.advance(2)
    fault = failed or PoePort("ge-0/0/5", True, "fault", 0.0, 3)
    city.topology.observe_discovery(
        Discovery("vizium-sw", int(city.now * 1e9), macs=(mac,), poe_ports=(fault,))
    )
    feeds, city.topology._feeds = city.topology._feeds, []
    city.feed(feeds)
    exhibit = Sample(
        "exhibit",
        {"site": "vizium", "exhibit": "pendulum", "zone": "mechanics"},
        {"up": False},
        int(city.now * 1e9),
    )
    city.feed([exhibit])
    city.advance(60)


def test_poe_budget_at_92_percent_for_ten_minutes(tmp_path: Path) -> None:
    city = City(tmp_path)
    tags = {"site": "vizium", "device": "vizium-sw"}
    fired = []
    for _ in range(11 * 6):
        city.feed(
            [
                Sample(
                    "poe",
                    tags,
                    {"budget_w": 370.0, "power_w": 340.4, "used_pct": 92.0},
                    int(city.now * 1e9),
                )
            ]
        )
        city.advance(10, step=10)
        fired = [t.instance.rule for t in city.fired if t.state == "firing"]
        if city.now - TUESDAY_NOON < 595:
            assert fired == []
    assert fired == ["PoeBudgetHigh"]


def test_bad_neighbour_tables_keep_the_model_consistent_and_bounded(tmp_path: Path) -> None:
    inventory = [
        InventoryNode("a", "s", "switch", mac="aa:aa:aa:aa:aa:aa"),
        InventoryNode("b", "s", "switch", address="10.0.0.2"),
        InventoryNode("c", "s", "switch"),
        InventoryNode("ap", "s", "access_point", mac="02:00:00:00:00:09"),
    ]
    model = TopologyModel(inventory, max_unknown=3)

    def n(
        local: str, chassis: str, port: str, name: str = "", addr: tuple[str, ...] = ()
    ) -> Neighbour:
        return Neighbour(
            local, None, chassis, "macAddress", port, "interfaceName", "", name, addr, "lldp"
        )

    model.apply(
        Discovery(
            "a",
            1,
            neighbours=(
                n("p1", "aa:aa:aa:aa:aa:aa", "p1"),  # itself
                n("p2", "x", "q1", addr=("10.0.0.2",)),  # b by address
                n("p3", "y", "q1", name="c.city.lv"),  # c by sysName
                *(n(f"u{i}", f"unknown-{i}", "e0") for i in range(10)),
            ),
        )
    )
    assert model.counts.refused_self == 1
    assert len(model.unknown) == 3 and model.counts.unknown_evicted == 7
    model.apply(
        Discovery(
            "b", 2, neighbours=(n("q1", "aa:aa:aa:aa:aa:aa", "p2"), n("q2", "z", "r1", name="c"))
        )
    )
    model.apply(Discovery("c", 3, neighbours=(n("r1", "w", "q2", name="b"),)))
    pairs = sorted(tuple(sorted(k.ends())) for k in model.links if "unknown" not in k.a + k.b)
    assert pairs == [("a", "b"), ("a", "c"), ("b", "c")]  # a loop, each link once
    # the MAC behind the trunk p2 and the edge port p9: the edge port
    model.apply(
        Discovery(
            "a",
            4,
            neighbours=(n("p2", "x", "q1", addr=("10.0.0.2",)),),
            macs=(MacLocation("02:00:00:00:00:09", "p9", 9, 1, "fdb"),),
        )
    )
    model.apply(
        Discovery(
            "b",
            5,
            neighbours=(n("q1", "aa:aa:aa:aa:aa:aa", "p2"),),
            macs=(MacLocation("02:00:00:00:00:09", "q1", 1, 1, "fdb"),),
        )
    )
    assert (model.attachments["ap"].switch, model.attachments["ap"].ifname) == ("a", "p9")
    # a vanished neighbour: gone once neither end reports it; back when reported again
    assert not [k for k in model.links if {"a", "c"} == set(k.ends())]
    assert model.unknown == {}
    model.apply(Discovery("c", 6, neighbours=(n("r9", "aa:aa:aa:aa:aa:aa", "p3"),)))
    (back,) = [k for k in model.links if {"a", "c"} == set(k.ends())]
    assert (back.ifname_at("c"), back.ifname_at("a")) == ("r9", "p3")
    # b fails: a's entry for it ages out, the link stays (the path goes through a failed node)
    model.apply(Discovery("a", 6), answered=lambda node, _since: node != "b")
    assert [k for k in model.links if {"a", "b"} == set(k.ends())]
    graph = model.adjacency()
    states = {"a": NodeState(True, 9, None), "b": NodeState(False, 1, 5.0)}
    assert verdicts(graph, ["a"], states, 10.0, 60)["b"].kind == "cause"


def test_the_state_file_is_private_and_restored(tmp_path: Path) -> None:
    city = City(tmp_path)
    mac = MacLocation("02:00:00:00:00:01", "ge-0/0/5", 5, 10, "fdb")
    city.topology.observe_discovery(Discovery("vizium-sw", 1, macs=(mac,)))
    city.topology.save()
    path = tmp_path / "state" / "topology.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = City(tmp_path)
    assert again.topology.model.attachments["pendulum"].ifname == "ge-0/0/5"


def test_a_reload_keeps_what_was_learned_for_the_devices_that_stay(tmp_path: Path) -> None:
    city = City(tmp_path)
    mac = MacLocation("02:00:00:00:00:01", "ge-0/0/5", 5, 10, "fdb")
    city.topology.observe_discovery(Discovery("vizium-sw", 1, macs=(mac,)))
    path = city_yaml(tmp_path)
    text = path.read_text().replace(", links: [{peer: agg-2}]", ", links: [{peer: agg-1}]")
    text = text.replace("      - {kind: access_point, id: school-03-ap, room: '1'}\n", "")
    path.write_text(text)
    city.topology.reconfigure(load_config(path, PLUGINS, ENVIRON))
    model = city.topology.model
    assert model.attachments["pendulum"].ifname == "ge-0/0/5"  # learned: kept
    assert set(model.neighbours("vizium-sw")) == {"agg-1"}  # the config's link: replaced
    assert "school-03-ap" not in model.inventory and "school-03-ap" not in model.attachments
