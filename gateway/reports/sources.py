"""From InfluxDB to the timelines and values the KPIs are computed from.

Reads are bucketed (`GROUP BY time(resolution_s) fill(none)`), so a month of 10-second probes
is a few thousand rows per series, not a quarter of a million:
- a state (`up`, `oper_up`) becomes one point per bucket that has samples, at the bucket's
  start: down when at least half of the bucket's samples are down (two counts, all and
  `= false`); a state change is thus placed to within half a bucket, and exactly when it
  falls on a bucket boundary;
- utilisation and Wi-Fi radio figures are the bucket's maximum;
- sensor samples are counted per bucket.
Those points then hold as gateway/reports/timeline.py says (up to max_sample_gap_s).

Every timeline is cut to edumon's own coverage: the time edumon was running, from its heartbeat
(`collector`, collector=edumon, target=writer, written every few seconds and spooled like any
sample). Outside it everything is unknown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from gateway.reports.queries import InfluxQuery, Series, one_of, quote_tag
from gateway.reports.timeline import Timeline, all_up, any_up, combine, first_where_second
from gateway.reports.wifi import FIELDS as WIFI_FIELDS
from gateway.reports.wifi import HOUR_S

Tags = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Window:
    """The report period [start_ns, end_ns), the bucket size, and how far around the period
    samples are read (one max gap each side, so the period's first and last intervals close)."""

    start_ns: int
    end_ns: int
    max_gap_ns: int
    resolution_s: int

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

    async def _buckets(self, fields: str, measurement: str, where: str, by: str) -> list[Series]:
        w = self.window
        return await self.query.select(
            fields, measurement, w.read_from, w.read_to, where, by, w.resolution_s
        )

    async def _states(
        self, field: str, measurement: str, where: str, by: str
    ) -> dict[Tags, list[tuple[int, bool]]]:
        """Per series: (bucket start, state) for every bucket with samples of `field`."""
        count = f'count("{field}") AS n'
        down_where = " AND ".join(filter(None, [where, f'"{field}" = false']))
        down = {
            (_key(s.tags), row["time"]): row["n"]
            for s in await self._buckets(count, measurement, down_where, by)
            for row in s.rows
        }
        return {
            _key(s.tags): [
                (row["time"], 2 * down.get((_key(s.tags), row["time"]), 0) < row["n"])
                for row in s.rows
            ]
            for s in await self._buckets(count, measurement, where, by)
        }

    def _timeline(self, points: list[tuple[int, bool]], *, down_holds: bool = False) -> Timeline:
        own = Timeline.from_samples(points, self.window.max_gap_ns, down_holds=down_holds)
        return combine([own, self.coverage], first_where_second)

    async def load_coverage(self) -> Timeline:
        series = await self._buckets(
            'count("errors") AS n',
            "collector",
            "\"collector\"='edumon' AND \"target\"='writer'",
            "",
        )
        points = sorted((row["time"], True) for s in series for row in s.rows)
        self.coverage = Timeline.from_samples(points, self.window.max_gap_ns)
        return self.coverage

    async def uplinks(self, core_switches: dict[str, set[str]]) -> dict[str, Timeline]:
        """Per site: down when its core switches report every uplink down or no IPv4 probe of
        the site answers; up when one of them says up and none says down."""
        devices = one_of("device", set().union(*core_switches.values()))
        device_up = await self._states("up", "device", devices, '"site", "device"')
        interfaces = await self._states(
            "oper_up", "interface", f"\"role\"='uplink' AND {devices}", '"site", "device", "ifname"'
        )
        links: dict[tuple[str, str], list[Timeline]] = defaultdict(list)
        for key, points in interfaces.items():
            tags = dict(key)
            links[(tags["site"], tags["device"])].append(self._timeline(points))
        probes = await self.probes("ipv4")
        out = {}
        for site, switches in core_switches.items():
            per_switch = []
            for device in sorted(switches):
                answering = self._timeline(
                    device_up.get(_key({"site": site, "device": device}), [])
                )
                link = combine(links[(site, device)], any_up)
                per_switch.append(combine([link, answering], first_where_second))
            out[site] = combine([combine(per_switch, any_up), probes.get(site, Timeline())], all_up)
        return out

    async def uplink_utilisation(self, devices: set[str]) -> list[Series]:
        """Per core-switch uplink: the bucket maxima of in/out utilisation, and its speed."""
        where = f"\"role\"='uplink' AND {one_of('device', devices)}"
        fields = 'max("in_util_pct") AS in_util_pct, max("out_util_pct") AS out_util_pct'
        fields += ', max("speed_mbps") AS speed_mbps'
        return await self._buckets(fields, "interface", where, '"site", "device", "ifname"')

    async def probes(self, family: str) -> dict[str, Timeline]:
        """Per site: up when any probe of that address family answered."""
        states = await self._states(
            "up", "probe", f'"family"={quote_tag(family)}', '"site", "target", "method"'
        )
        per_site: dict[str, list[Timeline]] = defaultdict(list)
        for key, points in states.items():
            per_site[dict(key)["site"]].append(self._timeline(points))
        return {site: combine(timelines, any_up) for site, timelines in per_site.items()}

    async def exhibits(self, sites: set[str]) -> list[Timeline]:
        """One timeline per exhibit of these sites; "offline" (the Last Will) holds until the
        exhibit reports again."""
        states = await self._states("up", "exhibit", one_of("site", sites), '"site", "exhibit"')
        return [self._timeline(points, down_holds=True) for points in states.values()]

    async def wifi_hours(self) -> list[Series]:
        """Per radio (site, room, ap, band): its hourly means of the healthy-Wi-Fi fields."""
        w = self.window
        fields = ", ".join(f'mean("{name}") AS {name}' for name in WIFI_FIELDS)
        by = '"site", "room", "ap", "band"'
        return await self.query.select(
            fields, "wifi_ap", w.start_ns, w.end_ns, "\"band\"!='all'", by, HOUR_S
        )

    async def sensor_counts(self) -> dict[tuple[str, str], list[tuple[int, int]]]:
        """Per (site, device): (bucket start, classroom-sensor samples in it)."""
        series = await self._buckets('count("temp_c") AS n', "environment", "", '"site", "device"')
        return {
            (s.tags["site"], s.tags["device"]): [(row["time"], row["n"]) for row in s.rows]
            for s in series
        }

    async def alerts(self) -> list[Series]:
        w = self.window
        return await self.query.select('"firing", "value"', "alert", w.start_ns, w.end_ns, by="*")


def _key(tags: dict[str, str]) -> Tags:
    return tuple(sorted(tags.items()))
