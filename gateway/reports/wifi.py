"""Healthy classroom Wi-Fi, by the hour (the definition the report states in plain words):

- an hour of a radio is healthy when the radio's averages over that hour are within
  `reports.healthy_wifi` (channel utilisation, retries, noise floor);
- an hour of a classroom is healthy when every radio seen in the room in the period reported
  in that hour and all of them were healthy (an access point that is off makes its room's
  hours unhealthy);
- the hours counted for a school are those in which any radio of the school reported (while
  edumon or the school's network was down nothing is known, and nothing is counted);
- a classroom has healthy Wi-Fi in the period when at least `min_healthy_share_pct` of the
  school's counted hours were healthy in it.

Hourly averages make the figure independent of how often the access points report: a few
busy minutes in a lesson do not make an hour unhealthy, an hour-long congestion does.
"""

from __future__ import annotations

from collections import defaultdict

from gateway.reports.config import HealthyWifi
from gateway.reports.queries import Series

HOUR_S = 3600
FIELDS = ("channel_util_pct", "retry_pct", "noise_dbm")
Room = tuple[str, str]  # site, room


def healthy_hour(row: dict[str, object], limits: HealthyWifi) -> bool:
    maxima = (limits.max_channel_util_pct, limits.max_retry_pct, limits.max_noise_dbm)
    return all(
        not isinstance(value := row.get(name), int | float) or value <= limit
        for name, limit in zip(FIELDS, maxima, strict=True)
    )


def healthy_rooms(series: list[Series], limits: HealthyWifi) -> dict[str, tuple[int, int]]:
    """Per school: (classrooms with healthy Wi-Fi, classrooms with any Wi-Fi data), from
    hourly means per radio (tags site, room, ap, band)."""
    radios: dict[Room, set[tuple[str, str]]] = defaultdict(set)
    healthy: dict[Room, dict[int, set[tuple[str, str]]]] = defaultdict(lambda: defaultdict(set))
    counted: dict[str, set[int]] = defaultdict(set)
    for s in series:
        room, radio = (s.tags["site"], s.tags["room"]), (s.tags["ap"], s.tags["band"])
        radios[room].add(radio)
        for row in s.rows:
            counted[room[0]].add(row["time"])
            if healthy_hour(row, limits):
                healthy[room][row["time"]].add(radio)
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for room, seen in radios.items():
        hours = counted[room[0]]
        good = sum(1 for t in hours if healthy[room].get(t, set()) >= seen)
        tally[room[0]][0] += 100 * good >= limits.min_healthy_share_pct * len(hours)
        tally[room[0]][1] += 1
    return {site: (good, rooms) for site, (good, rooms) in tally.items()}
