"""A real influxd whose max-values-per-tag is reached: the partial write's refused lines are
dead-lettered at once (no bisecting), every other line of the batch is stored, and batches
behind it keep flowing."""

from __future__ import annotations

import asyncio
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

    letters = writer.dead_letters.read()
    refused = sorted(letter["raw"].split(",band=")[1].split(" ")[0] for letter in letters)
    assert refused == ["new-a", "new-b", "new-b", "new-c"]
    assert all("max-values-per-tag" in letter["reason"] for letter in letters)
    assert limited.count("wifi_ap", "clients", db="limited") == LIMIT + 1996 + LIMIT
    # one POST per refused value and one more, where bisecting took ~log2(2000) per value
    assert len(posts) <= 1 + (1 + 3 + 1) + 1
