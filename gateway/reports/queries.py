"""InfluxQL reads for the KPI report: the raw points of each series it needs, by series.

Only InfluxQL over `/query` (the storage contract: InfluxDB 1.x, 2.x through DBRP, 3.x), with
`epoch=ns` so times come back as integers. The window asked for runs one `max_sample_gap_s`
past the period on both sides, so the samples that bound the period's first and last
intervals are there (see gateway/reports/timeline.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from gateway.storage.influx_http import InfluxTarget


class QueryError(RuntimeError):
    """InfluxDB did not answer a query, or answered with an error (the message says which)."""


@dataclass(frozen=True)
class Series:
    """One series of a result: its tags and its rows as {column: value}, time in ns."""

    tags: dict[str, str]
    rows: list[dict[str, Any]]

    def points(self, column: str) -> list[tuple[int, Any]]:
        """(time_ns, value) of the rows where `column` has a value, in time order."""
        return [(row["time"], row[column]) for row in self.rows if row.get(column) is not None]


def quote_tag(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def one_of(tag: str, values: Iterable[str]) -> str:
    """`("tag"='a' OR "tag"='b')`; a condition that matches nothing when there are none."""
    terms = [f'"{tag}"={quote_tag(v)}' for v in sorted(values)]
    return "(" + (" OR ".join(terms) if terms else "time < 0") + ")"


class InfluxQuery:
    """Runs InfluxQL SELECTs; one session for the whole report."""

    def __init__(self, target: InfluxTarget) -> None:
        self.target = target
        self._session: aiohttp.ClientSession | None = None

    async def select(
        self,
        fields: str,
        measurement: str,
        start_ns: int,
        end_ns: int,
        where: str = "",
        by: str = "",
        every_s: int | None = None,
    ) -> list[Series]:
        """`SELECT fields FROM measurement WHERE time in [start, end) [AND where] [GROUP BY]`,
        in buckets of `every_s` (empty buckets left out) when it is given."""
        condition = f"time >= {start_ns} AND time < {end_ns}" + (f" AND {where}" if where else "")
        groups = ([f"time({every_s}s)"] if every_s else []) + ([by] if by else [])
        group = f" GROUP BY {', '.join(groups)}" if groups else ""
        fill = " fill(none)" if every_s else ""
        return await self.query(
            f'SELECT {fields} FROM "{measurement}" WHERE {condition}{group}{fill}'
        )

    async def query(self, statement: str) -> list[Series]:
        target = self.target
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=target.timeout_s * 6)
            )
        params = {"db": target.database, "q": statement, "epoch": "ns"}
        if target.retention_policy:
            params["rp"] = target.retention_policy
        url = target.url.rstrip("/") + "/query"
        try:
            async with self._session.get(
                url, params=params, headers=target.authorization(), auth=target.auth()
            ) as response:
                body = await response.text()
                if response.status != 200:
                    raise QueryError(f"{target.describe()}: HTTP {response.status}: {body[:300]}")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise QueryError(f"{target.describe()}: no answer to a query: {error!r}") from error
        return _series(json.loads(body), statement)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _series(answer: dict[str, Any], statement: str) -> list[Series]:
    out = []
    for result in answer.get("results", []):
        if "error" in result:
            raise QueryError(f"{statement[:200]}: {result['error']}")
        for series in result.get("series", []):
            columns = series["columns"]
            rows = [dict(zip(columns, values, strict=True)) for values in series["values"]]
            out.append(Series(dict(series.get("tags") or {}), rows))
    return out
