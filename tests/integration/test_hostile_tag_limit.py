"""A real influxd whose max-values-per-tag is reached: the partial write's refused series are
dead-lettered at once, one record per series with its count (no bisecting, no POST per refused
value), every other line of the batch is stored, and batches behind it keep flowing: one device
flooding new tag values does not hold up another's data."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.devstack.servers import InfluxDB1
from gateway.sample import Sample
from gateway.storage.influx_http import WriteResponse
from tests.integration.test_writer_influxdb import make_writer
from tests.unavailable import require

pytestmark = pytest.mark.integration
LIMIT = 20
T0 = 1_700_000_000_000_000_000


class LimitedInfluxDB(InfluxDB1):
    """influxd with a small max-values-per-tag (production's default is 100,000)."""

    def command(self) -> list[str]:
        command = super().command()
        config = self.data_dir / "influxdb.conf"
        limit = f"[data]\n  max-values-per-tag = {LIMIT}\n"
        config.write_text(config.read_text().replace("[data]\n", limit))
        return command


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LimitedInfluxDB]:
    require(InfluxDB1)
    with LimitedInfluxDB(tmp_path_factory.mktemp("influx-limited")) as server:
        server.create_database("limited")
        yield server


def radios(bands: list[str], first: int) -> list[Sample]:
    return [
        Sample("wifi_ap", {"ap": "ap-1", "band": band}, {"clients": n}, T0 + first + n)
        for n, band in enumerate(bands)
    ]


async def test_refused_values_are_dead_lettered_and_the_rest_is_stored(
    limited: LimitedInfluxDB, tmp_path: Path
) -> None:
    writer = make_writer(tmp_path, limited.url, "limited")
    posts: list[WriteResponse] = []
    post = writer.http.post

    async def counted(body: bytes, *, gzipped: bool) -> WriteResponse:
        posts.append(response := await post(body, gzipped=gzipped))
        return response

    writer.http.post = counted  # type: ignore[method-assign,assignment]
    known = [f"known-{n}" for n in range(LIMIT)]
    task = asyncio.create_task(writer.run())
    await writer.accept(radios(known, 0))  # the tag is full from here on
    assert await writer.drain(20)
    # 3 refused new values in a batch of 2,000 points of known values, then a good batch
    mixed = [known[n % LIMIT] for n in range(2000)]
    mixed[100], mixed[900], mixed[901], mixed[1500] = "new-a", "new-b", "new-b", "new-c"
    await writer.accept(radios(mixed, 10_000))
    await writer.accept(radios(known, 20_000))
    assert await writer.drain(30), writer.health.detail
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await writer.close()

    letters = writer.dead_letters.read()  # one per series, with its points and their count
    refused = sorted((letter["raw"].count("\n") + 1, letter["reason"]) for letter in letters)
    assert [count for count, _ in refused] == [1, 1, 2]
    assert all("max-values-per-tag" in reason for _, reason in refused)
    assert all(reason.endswith(f"({count} points of this series)") for count, reason in refused)
    bands = sorted(letter["raw"].split(",band=")[1].split(" ")[0] for letter in letters)
    assert bands == ["new-a", "new-b", "new-c"]
    assert limited.count("wifi_ap", "clients", db="limited") == LIMIT + 1996 + LIMIT
    # the first batch; the mixed one with one POST per refused value (ap-1 mixes new bands with
    # known ones: named one at a time) and the rest once; the good batch
    assert len(posts) <= 1 + (1 + 3 + 1) + 1
    assert writer.metrics.tag_limit_refused.labels("wifi_ap", "band")._value.get() == 4


def interfaces(device: str, names: list[str], at: int) -> list[Sample]:
    return [
        Sample("interface", {"device": device, "ifname": name}, {"in_bps": 1.0}, at)
        for name in names
    ]


async def test_a_device_flooding_new_tag_values_does_not_hold_up_another(
    limited: LimitedInfluxDB, tmp_path: Path
) -> None:
    """sw-flood renames its 2,000 interfaces every round (each name refused by the full tag);
    sw-other's points of each round are in the database within 10 s of being accepted."""
    limited.create_database("flood")
    writer = make_writer(tmp_path, limited.url, "flood")
    task = asyncio.create_task(writer.run())
    known = [f"eth{n}" for n in range(LIMIT)]
    await writer.accept(interfaces("sw-other", known, T0))  # the tag is full from here on
    assert await writer.drain(20)

    def other_points() -> int:
        query = "SELECT count(in_bps) FROM interface WHERE device = 'sw-other'"
        series = limited.query(query, db="flood")["results"][0].get("series")
        return int(series[0]["values"][0][1]) if series else 0

    latencies = []
    for round_ in range(1, 6):
        at = T0 + round_ * 10**9
        flood = [f"r{round_}-if{n}" for n in range(2000)]
        await writer.accept(interfaces("sw-flood", flood, at))
        await writer.accept(interfaces("sw-other", known, at))
        accepted = time.monotonic()
        while await asyncio.to_thread(other_points) < LIMIT * (round_ + 1):
            assert time.monotonic() - accepted < 10, writer.health.detail
            await asyncio.sleep(0.2)
        latencies.append(time.monotonic() - accepted)
    assert await writer.drain(20), writer.health.detail
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await writer.close()

    assert max(latencies) < 10
    refused = writer.metrics.tag_limit_refused.labels("interface", "ifname")._value.get()
    assert refused == 5 * 2000
    letters = writer.dead_letters.read()
    assert len(letters) == 5 * 2000  # one per refused series: each new name is one
    assert {letter["raw"].split(",")[1] for letter in letters} == {"device=sw-flood"}
    assert writer.health.status == "ok", writer.health.detail
