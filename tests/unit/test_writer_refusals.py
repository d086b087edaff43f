"""The writer's handling of refused lines at its HTTP boundary, against a scripted server that
answers as influxd 1.x does: a partial write for max-values-per-tag (stores the other points,
names the first refused value, counts every dropped point) and "unable to parse '<line>'".
The same against the real influxd: tests/integration/test_hostile_tag_limit.py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from aiohttp import web

from gateway.sample import Sample
from gateway.storage.write_status import series_key
from gateway.storage.writer import SENDER_ROUNDS
from tests.unit.test_writer import FakeInflux, make_writer, serve, write_all

__all__ = ["serve"]  # the fixture, for the tests below


class TagLimitedInflux(FakeInflux):
    """influxd with max-values-per-tag reached for `tag` of `measurement`: only `known` values."""

    def __init__(self, measurement: str, tag: str, known: set[str]) -> None:
        super().__init__(lambda lines, n: web.Response(status=204))
        self.measurement, self.tag, self.known = measurement, tag, known

    async def handle(self, request: web.Request) -> web.Response:
        lines = [line for line in (await request.read()).split(b"\n") if line]
        self.requests.append(lines)
        refused = [line for line in lines if self._new_value(line) is not None]
        self.stored.extend(line for line in lines if line not in refused)
        if not refused:
            return web.Response(status=204)
        message = (
            "partial write: max-values-per-tag limit exceeded (20/20): "
            f'measurement="{self.measurement}" tag="{self.tag}" '
            f'value="{self._new_value(refused[0])}" dropped={len(refused)}'
        )
        return web.json_response({"error": message}, status=400)

    def _new_value(self, line: bytes) -> str | None:
        measurement, tags = series_key(line)
        value = tags.get(self.tag)
        if measurement != self.measurement or value is None or value in self.known:
            return None
        return value


def interfaces(device: str, names: list[str], first: int = 0) -> list[Sample]:
    return [
        Sample("interface", {"device": device, "ifname": name}, {"in": 1}, 1000 + first + n)
        for n, name in enumerate(names)
    ]


KNOWN = {f"eth{n}" for n in range(4)}


async def test_one_device_inventing_values_is_split_off_once_and_the_others_written(
    tmp_path: Path,
    serve,  # type: ignore[no-untyped-def]
) -> None:
    fake = TagLimitedInflux("interface", "ifname", KNOWN)
    writer = make_writer(tmp_path, await serve(fake))
    flood = interfaces("sw-flood", [f"new{n}" for n in range(50)])
    other = interfaces("sw-other", sorted(KNOWN), first=100)
    await write_all(writer, [*flood[:25], *other, *flood[25:]])

    # the batch; the other senders' lines; the flooding sender's lines alone, all refused
    assert [len(lines) for lines in fake.requests] == [54, 4, 49]
    assert fake.requests[1] == [line for line in fake.requests[0] if b"sw-other" in line]
    assert len(fake.stored) == 4 + 4  # stored by the partial write, and once more
    letters = writer.dead_letters.read()
    assert len(letters) == 50  # one per refused series
    assert all(letter["source"] == "influxdb" for letter in letters)
    assert all(letter["reason"].startswith("HTTP 400: ") for letter in letters)
    assert all(letter["reason"].endswith("(1 points of this series)") for letter in letters)
    assert sorted(letter["raw"] for letter in letters) == sorted(
        f"interface,device=sw-flood,ifname=new{n} in=1i {1000 + n}" for n in range(50)
    )
    assert writer.metrics.tag_limit_refused.labels("interface", "ifname")._value.get() == 50
    assert writer.metrics.dead_letters.labels(reason="rejected")._value.get() == 50
    assert writer.spool.pending_batches == 0


async def test_only_the_named_value_when_the_database_dropped_no_more(
    tmp_path: Path,
    serve,  # type: ignore[no-untyped-def]
) -> None:
    fake = TagLimitedInflux("interface", "ifname", KNOWN)
    writer = make_writer(tmp_path, await serve(fake))
    samples = interfaces("sw-1", ["eth0", "new", "eth1", "new"])
    await write_all(writer, samples)
    assert [len(lines) for lines in fake.requests] == [4, 2]  # the rest once more
    [letter] = writer.dead_letters.read()  # one series, two points
    assert letter["raw"].count("\n") == 1
    assert letter["reason"].endswith("(2 points of this series)")
    assert fake.stored.count(b"interface,device=sw-1,ifname=eth0 in=1i 1000") == 2


async def test_a_sender_mixing_new_and_known_values_is_resolved_value_by_value(
    tmp_path: Path,
    serve,  # type: ignore[no-untyped-def]
) -> None:
    fake = TagLimitedInflux("interface", "ifname", KNOWN)
    writer = make_writer(tmp_path, await serve(fake))
    await write_all(writer, interfaces("sw-1", ["new-a", "eth0", "new-b", "eth1", "new-c"]))
    # the batch, then the sender alone once per named value until only known ones are left
    assert [len(lines) for lines in fake.requests] == [5, 4, 3, 2]
    letters = writer.dead_letters.read()
    assert sorted(series_key(letter["raw"].encode())[1]["ifname"] for letter in letters) == [
        "new-a",
        "new-b",
        "new-c",
    ]
    assert fake.stored[-2:] == [line for line in fake.requests[0] if b"eth" in line]


async def test_a_mixing_sender_gets_a_bounded_number_of_rounds(
    tmp_path: Path,
    serve,  # type: ignore[no-untyped-def]
) -> None:
    fake = TagLimitedInflux("interface", "ifname", KNOWN)
    writer = make_writer(tmp_path, await serve(fake))
    names = [f"new{n}" for n in range(SENDER_ROUNDS + 5)]
    await write_all(writer, interfaces("sw-1", [*names, "eth0"]))
    # the batch, the sender alone SENDER_ROUNDS + 1 times, then its lines dead-lettered
    assert len(fake.requests) == 1 + SENDER_ROUNDS + 1
    letters = writer.dead_letters.read()
    assert len(letters) == len(names) + 1  # the known eth0 with the rest of the sender
    assert writer.spool.pending_batches == 0


async def test_a_line_named_unparsable_is_dead_lettered_and_the_rest_sent_once(
    tmp_path: Path,
    serve,  # type: ignore[no-untyped-def]
) -> None:
    def respond(lines: list[bytes], n: int) -> web.Response:
        bad = [line for line in lines if b"n=3i" in line]
        if bad:
            error = f"partial write: unable to parse '{bad[0].decode()}': bad dropped=1"
            return web.json_response({"error": error}, status=400)
        return web.Response(status=204)

    fake = FakeInflux(respond)
    writer = make_writer(tmp_path, await serve(fake))
    await write_all(writer, [Sample("m", {"k": "v"}, {"n": i}, 1000 + i) for i in range(8)])
    assert [len(lines) for lines in fake.requests] == [8, 7]  # no bisecting
    [letter] = writer.dead_letters.read()
    assert letter["raw"] == "m,k=v n=3i 1003"
    assert letter["source"] == "influxdb"
    assert json.loads(letter["reason"].removeprefix("HTTP 400: "))["error"].startswith("partial")
    assert writer.metrics.dead_letters.labels(reason="rejected")._value.get() == 1


async def test_a_post_joins_spooled_batches_into_one_valid_gzip_body(
    tmp_path: Path,
    serve,  # type: ignore[no-untyped-def]
) -> None:
    fake = FakeInflux(lambda lines, n: web.Response(status=204))
    writer = make_writer(tmp_path, await serve(fake))
    for first in (0, 2):
        await writer.accept([Sample("m", {}, {"n": i}, 1000 + i) for i in range(first, first + 2)])
    await write_all(writer, [])
    assert fake.requests == [[b"m n=%di %d" % (i, 1000 + i) for i in range(4)]]
    assert writer.metrics.value("samples_written_total") == (4.0,)


async def test_drain_says_false_when_the_time_is_up(tmp_path: Path) -> None:
    writer = make_writer(tmp_path, "http://127.0.0.1:9")  # discard port: refused
    await writer.accept([Sample("m", {}, {"n": 1}, 1)])
    assert await writer.drain(0.05) is False
    await writer.close()


class HeldInflux(FakeInflux):
    """Answers 204 once `answer` is set."""

    def __init__(self) -> None:
        super().__init__(lambda lines, n: web.Response(status=204))
        self.answer = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        await self.answer.wait()
        return await super().handle(request)


async def test_a_cancelled_run_leaves_its_post_unacknowledged_for_the_next(
    tmp_path: Path,
    serve,  # type: ignore[no-untyped-def]
) -> None:
    fake = HeldInflux()
    writer = make_writer(tmp_path, await serve(fake))
    task = asyncio.create_task(writer.run())
    await writer.accept([Sample("m", {}, {"n": 1}, 1)])
    await asyncio.sleep(0.3)  # the POST waits for its answer
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    assert writer.spool.pending_batches == 1
    fake.answer.set()
    await write_all(writer, [])  # a new run hands the batch out again
    assert fake.stored == [b"m n=1i 1"]
