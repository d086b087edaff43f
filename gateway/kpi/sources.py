"""From InfluxDB series to the timelines and values the KPIs are computed from.

Every timeline here is already cut to edumon's own coverage: the time edumon was running,
known from its heartbeat (`collector`, collector=edumon, target=writer, written every few
seconds and spooled like any sample). Outside it everything is unknown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.kpi.config import HealthyWifi
from gateway.kpi.queries import InfluxQuery, Series, quote_tag
from gateway.kpi.timeline import Timeline, all_up, any_up, combine, first_where_second


@dataclass(frozen=True)
class Window:
    """The report period [start_ns, end_ns) and how far around it samples are read."""

    start_ns: int
    end_ns: int
    max_gap_ns: int

    @property
    def read_from(self) -> int:
        return self.start_ns - self.max_gap_ns

    @property
    def read_to(self) -> int:
        return self.end_ns + self.max_gap_ns + 1


class Sources:
    def __init__(self, query: InfluxQuery, window: Window) -> None:
        self.query = query
        self.window = window
        self.coverage = Timeline()
        self._uplink_series: list[Series] | None = None

    async def _select(
        self, fields: str, measurement: str, where: str = "", by: str = ""
    ) -> list[Series]:
        w = self.window
        return await self.query.select(fields, measurement, w.read_from, w.read_to, where, by)

    def _timeline(self, points: list[tuple[int, bool]], *, down_holds: bool = False) -> Timeline:
        own = Timeline.from_samples(points, self.window.max_gap_ns, down_holds=down_holds)
        return combine([own, self.coverage], first_where_second)

    async def load_coverage(self) -> Timeline:
        series = await self._select(
            '"errors"', "collector", "\"collector\"='edumon' AND \"target\"='writer'"
        )
        points = sorted((t, True) for s in series for t, _ in s.points("errors"))
        self.coverage = Timeline.from_samples(points, self.window.max_gap_ns)
        return self.coverage

    async def uplinks(self, core_switches: dict[str, set[str]]) -> dict[str, Timeline]:
        """Per site: down when the core switch reports every uplink down or no IPv4 probe of
        the site answers; up when one of them says up and none says down."""
        devices = await self._select('"up"', "device", "\"role\"='core'", '"site", "device"')
        device_up = {
            (s.tags["site"], s.tags["device"]): self._timeline(s.points("up")) for s in devices
        }
        links: dict[tuple[str, str], list[Timeline]] = defaultdict(list)
        for s in await self.uplink_interfaces():
            key = (s.tags["site"], s.tags["device"])
            if s.tags["device"] in core_switches.get(key[0], set()):
                links[key].append(self._timeline(s.points("oper_up")))
        probes = await self.probes("ipv4")
        out = {}
        for site, switches in core_switches.items():
            per_switch = [
                combine(
                    [combine(links[(site, d)], any_up), device_up.get((site, d), Timeline())],
                    first_where_second,
                )
                for d in sorted(switches)
            ]
            link = combine(per_switch, any_up)
            out[site] = combine([link, probes.get(site, Timeline())], all_up)
        return out

    async def uplink_interfaces(self) -> list[Series]:
        if self._uplink_series is None:
            self._uplink_series = await self._select(
                '"oper_up", "in_util_pct", "out_util_pct", "speed_mbps"',
                "interface",
                "\"role\"='uplink'",
                '"site", "device", "ifname"',
            )
        return self._uplink_series

    async def probes(self, family: str) -> dict[str, Timeline]:
        """Per site: up when any probe of that address family answered."""
        series = await self._select(
            '"up"', "probe", f'"family"={quote_tag(family)}', '"site", "target", "method"'
        )
        per_site: dict[str, list[Timeline]] = defaultdict(list)
        for s in series:
            per_site[s.tags["site"]].append(self._timeline(s.points("up")))
        return {site: combine(timelines, any_up) for site, timelines in per_site.items()}

    async def exhibits(self) -> dict[tuple[str, str], Timeline]:
        """Per (site, exhibit): its `up` state; "offline" (the Last Will) holds until it speaks."""
        series = await self._select('"up"', "exhibit", by='"site", "exhibit"')
        return {
            (s.tags["site"], s.tags["exhibit"]): self._timeline(s.points("up"), down_holds=True)
            for s in series
        }

    async def wifi_rooms(self, limits: HealthyWifi) -> dict[tuple[str, str], Timeline]:
        """Per (site, room): healthy when every radio of every AP there is up and in limits."""
        series = await self._select(
            '"up", "channel_util_pct", "retry_pct", "noise_dbm"',
            "wifi_ap",
            by='"site", "ap", "room", "band"',
        )
        rooms: dict[tuple[str, str], list[Timeline]] = defaultdict(list)
        for s in series:
            points = [
                (row["time"], _healthy(row, limits)) for row in s.rows if row.get("up") is not None
            ]
            status_only = s.tags.get("band") == "all"
            rooms[(s.tags["site"], s.tags["room"])].append(
                self._timeline(points, down_holds=status_only)
            )
        return {room: combine(timelines, all_up) for room, timelines in rooms.items()}

    async def sensor_samples(self) -> dict[tuple[str, str], list[int]]:
        """Per (site, device): the times of its classroom-sensor (environment) samples."""
        series = await self._select('"temp_c"', "environment", by='"site", "device"')
        return {
            (s.tags["site"], s.tags["device"]): [t for t, _ in s.points("temp_c")] for s in series
        }

    async def alerts(self) -> list[Series]:
        w = self.window
        return await self.query.select('"firing", "value"', "alert", w.start_ns, w.end_ns, by="*")


def _healthy(row: dict[str, object], limits: HealthyWifi) -> bool:
    checks: Iterable[tuple[str, float]] = (
        ("channel_util_pct", limits.max_channel_util_pct),
        ("retry_pct", limits.max_retry_pct),
        ("noise_dbm", limits.max_noise_dbm),
    )
    if row.get("up") is not True:
        return False
    return all(
        not isinstance(v := row.get(name), int | float) or v <= limit for name, limit in checks
    )
