"""The writer: Sample batches -> spool (durable first) -> database, never losing a point.

`accept` encodes a batch, dead-letters what line protocol cannot hold, and appends the rest to
the spool with fsync. `run` sends spooled batches in order with bounded concurrency and only
acknowledges a batch once every line of it is stored or dead-lettered with the server's reason.

Spooled batches can be small and many (MQTT acks wait for them: one every ~20 ms), so a POST
carries every unsent batch up to `max_post_points`, and a POST smaller than that starts no
sooner than `post_interval_s` after the previous one: a few POSTs and cursor saves a second,
not one per batch (they were a fifth of the CPU per message in bench/mqtt.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import logging
import random
import time
from collections import Counter, defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aiohttp

from gateway.deadletter import DeadLetterFile
from gateway.metrics import Metrics
from gateway.sample import Sample
from gateway.storage.influx_http import InfluxHttp, WriteResponse
from gateway.storage.lineprotocol import LineEncoder
from gateway.storage.spool import Record, Spool
from gateway.storage.write_status import (
    Outcome,
    TagLimit,
    classify,
    lines_named_in_error,
    series_of,
    split_lines,
)

log = logging.getLogger(__name__)
# (line protocol, gzipped, points, None or, for one sender's lines held back after a refusal
# for max-values-per-tag, how many more of its refused values may be named one at a time)
_Chunk = tuple[bytes, bool, int, int | None]
# a sender whose batch mixes new tag values with known ones: its values refused one POST each
# at most this many times, then its remaining lines are dead-lettered together
SENDER_ROUNDS = 8


@dataclass(frozen=True)
class RetryPolicy:
    initial_delay_s: float = 0.5
    max_delay_s: float = 30.0
    # auth and missing-database errors need a human; retry them at the slow end
    operator_delay_s: float = 10.0

    def delay(self, attempt: int, retry_after_s: float | None) -> float:
        """Full-jitter exponential backoff, never shorter than a (capped) Retry-After."""
        backoff = random.uniform(0, min(self.max_delay_s, self.initial_delay_s * 2**attempt))
        if retry_after_s is not None:
            backoff = max(backoff, min(retry_after_s, self.max_delay_s))
        return backoff


@dataclass
class WriterHealth:
    status: str = "ok"  # ok | degraded | error
    detail: str = "no write attempted yet"
    since: float = 0.0
    last_success: float | None = None


class InfluxWriter:
    def __init__(
        self,
        http: InfluxHttp,
        spool: Spool,
        dead_letters: DeadLetterFile,
        metrics: Metrics,
        *,
        max_in_flight: int = 2,
        max_post_points: int = 5000,
        post_interval_s: float = 0.2,
        retry: RetryPolicy | None = None,
        behind_after_s: float = 2.0,
    ) -> None:
        """`behind_after_s`: health says "behind" once the oldest unsent point is older (the
        service passes two of the pipeline's batch intervals)."""
        self.http = http
        self.spool = spool
        self.dead_letters = dead_letters
        self.metrics = metrics
        self.retry = retry or RetryPolicy()
        self.max_post_points = max_post_points
        self.post_interval_s = post_interval_s
        self._last_post = -post_interval_s
        self._delivery = WriterHealth(since=time.time())
        self._encoder = LineEncoder()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._appended = asyncio.Event()
        self._acked = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._evicted_reported: Counter[str] = Counter()
        self.behind_after_s = behind_after_s
        # when each unacknowledged spooled batch was appended, oldest first (those found in the
        # spool at start count from then); acks and evictions take the oldest first
        self._appended_at = deque([time.monotonic()] * spool.pending_batches)
        metrics.spool_oldest_age.set_function(self.backlog_age_s)
        self._update_spool_gauges()

    @property
    def health(self) -> WriterHealth:
        """How delivery to the database goes, unless the state disk fails (spool or dead
        letters, e.g. full): then `error` with the reason, since nothing new is durable."""
        disk = self.spool.disk_error or self.dead_letters.error
        if disk is not None:
            return dataclasses.replace(self._delivery, status="error", detail=disk)
        age = self.backlog_age_s()
        if age <= self.behind_after_s:
            return self._delivery
        behind = (
            f"behind: the oldest unsent point is {age:.0f} s old, "
            f"{self.spool.pending_points} points pending"
        )
        if self._delivery.status == "ok":
            return dataclasses.replace(self._delivery, status="degraded", detail=behind)
        return dataclasses.replace(self._delivery, detail=f"{behind}; {self._delivery.detail}")

    def backlog_age_s(self) -> float:
        """Seconds since the oldest batch not yet acknowledged by the database was spooled."""
        while len(self._appended_at) > self.spool.pending_batches:
            self._appended_at.popleft()
        return time.monotonic() - self._appended_at[0] if self._appended_at else 0.0

    # ------------------------------------------------------------------ accept
    async def accept(
        self,
        samples: Sequence[Sample],
        *,
        held: bool = True,
        sources: Mapping[str, int] | None = None,
    ) -> None:
        """Make a batch durable. Returns once it is fsynced in the spool, or (not `held`: no
        source waits to acknowledge it) once the spool at its cap dropped it, counted under
        `sources` (samples per collector)."""
        payload, count, rejected = self._encoder.encode_batch(samples)
        for sample, error in rejected:
            self.dead_letters.add(source="encoder", reason=str(error), raw=repr(sample))
            self.metrics.dead_letters.labels(reason="encode").inc()
        if count:
            dropped = self.spool.stats.evicted_batches
            await self.spool.append(
                gzip.compress(payload, compresslevel=1), count, held=held, sources=sources
            )
            if self.spool.stats.evicted_batches == dropped:  # spooled, not dropped at the cap
                self._appended_at.append(time.monotonic())
            self.metrics.samples_spooled.inc(count)
            self._update_spool_gauges()
            self._appended.set()

    # -------------------------------------------------------------------- send
    async def run(self) -> None:
        """Send spooled batches forever, oldest first, at most `max_in_flight` POSTs at a time."""
        try:
            while True:
                await self._slots.acquire()
                records = await self._next_post()
                task = asyncio.create_task(self._deliver_records(records))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
        finally:
            for task in self._in_flight:
                task.cancel()
            await asyncio.gather(*self._in_flight, return_exceptions=True)
            self.spool.rewind()

    async def _next_post(self) -> list[Record]:
        """The spooled batches of the next POST: all unsent ones up to `max_post_points`; fewer
        wait for company until `post_interval_s` after the previous POST started."""
        loop = asyncio.get_running_loop()
        records: list[Record] = []
        points = 0
        while True:
            while points < self.max_post_points and (record := self.spool.next_unread()):
                records.append(record)
                points += record.points
            due = self._last_post + self.post_interval_s
            if records and (points >= self.max_post_points or loop.time() >= due):
                self._last_post = loop.time()
                return records
            self._appended.clear()
            try:
                async with asyncio.timeout_at(due if records else None):
                    await self._appended.wait()
            except TimeoutError:
                pass

    async def drain(self, timeout_s: float) -> bool:
        """Wait until everything spooled is acknowledged, or the timeout; True when drained."""
        try:
            async with asyncio.timeout(timeout_s):
                while self.spool.pending_batches:
                    self._acked.clear()
                    await self._acked.wait()
        except TimeoutError:
            return False
        return True

    async def _deliver_records(self, records: list[Record]) -> None:
        try:
            if len(records) == 1:
                payload = records[0].payload
            else:  # one gzip member: not every server reads concatenated ones
                joined = b"".join(gzip.decompress(record.payload) for record in records)
                payload = gzip.compress(joined, compresslevel=1)
            await self._deliver(payload, sum(record.points for record in records))
            self.spool.ack(*records)
            self._update_spool_gauges()
            self._acked.set()
        finally:
            self._slots.release()

    async def _deliver(self, spooled: bytes, points: int) -> None:
        """Until every line is stored or dead-lettered: split on 413, bisect on 400, split by
        sender on a refusal for max-values-per-tag.

        The spooled batch is sent as it is (gzip); it is only decompressed when it must be split.
        """
        pending: list[_Chunk] = [(spooled, True, points, None)]
        while pending:
            chunk, gzipped, chunk_points, rounds = pending.pop()
            response = await self._post_until_decided(chunk, gzipped)
            outcome = classify(response.status)
            if outcome is Outcome.STORED:
                self.metrics.samples_written.inc(chunk_points)
                continue
            chunk_lines = split_lines(gzip.decompress(chunk) if gzipped else chunk)
            reason = f"HTTP {response.status}: {response.body.strip()}"
            if len(chunk_lines) == 1:
                self._dead_letter(chunk_lines[0], reason, outcome)
                continue
            limit = TagLimit.of(response.body) if outcome is Outcome.REJECTED else None
            if limit is not None and (named := limit.named(chunk_lines)):
                pending.extend(self._over_limit(chunk_lines, named, limit, reason, rounds))
                continue
            named = []
            if outcome is Outcome.REJECTED:
                named = lines_named_in_error(response.body, chunk_lines)
            for line in named:
                self._dead_letter(line, reason, outcome)
            rest = [line for line in chunk_lines if line not in named]
            if named:
                if rest:
                    pending.append(_chunk(rest))
                continue
            half = len(rest) // 2
            pending.append(_chunk(rest[half:]))
            pending.append(_chunk(rest[:half]))

    def _over_limit(
        self,
        lines: list[bytes],
        named: list[bytes],
        limit: TagLimit,
        reason: str,
        rounds: int | None,
    ) -> list[_Chunk]:
        """A partial write refused for max-values-per-tag: dead-letter what it refused and
        return what to send next (last first), without one POST per refused value for all
        the data (that held up every batch behind one device inventing values).

        The database stored the other points, names only the first value it refused and says
        how many points it dropped. When it dropped only the named ones, the rest is sent once
        more (influxd 1.6 also loses a point it does not count as dropped; a point written
        twice is stored once). Otherwise the batch is split once by series: the lines of the
        sender that invented the value (same measurement and other tags) are held back and
        every other sender's lines are sent at once. The sender's lines are then sent alone:
        all of them refused, all are dead-lettered; a mix of new and known values is resolved
        one named value at a time, at most SENDER_ROUNDS times, then dead-lettered together.
        """
        dropped = limit.dropped if limit.dropped is not None else len(named)
        if rounds is not None and (dropped >= len(lines) or rounds == 0):
            self._dead_letter_series(lines, limit, reason)  # the sender's lines, all refused
            return []
        self._dead_letter_series(named, limit, reason)
        refused = set(named)
        rest = [line for line in lines if line not in refused]
        if not rest:
            return []
        if dropped <= len(named):
            return [_chunk(rest)]
        if rounds is not None:
            return [_chunk(rest, rounds - 1)]
        sender = set(limit.same_senders(rest, named))
        others = [line for line in rest if line not in sender]
        held = _chunk([line for line in rest if line in sender], SENDER_ROUNDS)
        return [held, _chunk(others)] if others else [held]

    def _dead_letter_series(self, lines: list[bytes], limit: TagLimit, reason: str) -> None:
        """One dead letter per series, with its lines and their count."""
        by_series: defaultdict[str, list[bytes]] = defaultdict(list)
        for line in lines:
            by_series[series_of(line)].append(line)
        for series_lines in by_series.values():
            self.dead_letters.add(
                source="influxdb",
                reason=f"{reason} ({len(series_lines)} points of this series)",
                raw=b"\n".join(series_lines),
            )
        self.metrics.dead_letters.labels(reason=Outcome.REJECTED.value).inc(len(lines))
        self.metrics.tag_limit_refused.labels(limit.measurement, limit.tag).inc(len(lines))

    def _dead_letter(self, line: bytes, reason: str, outcome: Outcome) -> None:
        self.dead_letters.add(source="influxdb", reason=reason, raw=line)
        self.metrics.dead_letters.labels(reason=outcome.value).inc()

    async def _post_until_decided(self, body: bytes, gzipped: bool) -> WriteResponse:
        """Post until the answer is stored, rejected or too large; retry everything else."""
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                response = await self.http.post(body, gzipped=gzipped)
            except (aiohttp.ClientError, TimeoutError) as error:
                response = WriteResponse(0, f"{type(error).__name__}: {error}", None)
                outcome = Outcome.RETRY
            else:
                self.metrics.write_latency.observe(time.perf_counter() - started)
                outcome = classify(response.status)
            if outcome in (Outcome.STORED, Outcome.REJECTED, Outcome.TOO_LARGE):
                self._set_health("ok", "writing")
                if outcome is not Outcome.STORED:
                    self.metrics.write_failures.labels(outcome=outcome.value).inc()
                return response
            self.metrics.write_failures.labels(outcome=outcome.value).inc()
            delay = self.retry.delay(attempt, response.retry_after_s)
            if outcome in (Outcome.AUTH, Outcome.NOT_FOUND):
                delay = max(delay, self.retry.operator_delay_s)
            self._report_failure(outcome, response)
            attempt += 1
            await asyncio.sleep(delay)

    def _report_failure(self, outcome: Outcome, response: WriteResponse) -> None:
        target = self.http.target.describe()
        pending = self.spool.pending_points
        if outcome is Outcome.AUTH:
            detail = (
                f"database {target} refused our credentials (HTTP {response.status}); "
                f"check the influxdb credentials; {pending} points kept in the spool"
            )
            self._set_health("error", detail)
        elif outcome is Outcome.NOT_FOUND:
            detail = (
                f"database {target} answered 404 ({response.body.strip()}); create the "
                f"database/bucket or fix the config; {pending} points kept in the spool"
            )
            self._set_health("error", detail)
        else:
            status = f"HTTP {response.status}" if response.status else response.body
            detail = f"database {target} unavailable ({status}); spooling, {pending} points pending"
            self._set_health("degraded", detail)

    def _set_health(self, status: str, detail: str) -> None:
        health = self._delivery
        if status == "ok":
            health.last_success = time.time()
        if status != health.status:
            level = logging.INFO if status == "ok" else logging.ERROR
            log.log(level, "writer %s: %s", status, detail if status != "ok" else "writing again")
            health.since = time.time()
        health.status = status
        health.detail = detail

    def _update_spool_gauges(self) -> None:
        self.metrics.spool_bytes.set(self.spool.size_bytes)
        self.metrics.spool_points.set(self.spool.pending_points)
        for source, points in self.spool.stats.evicted_by_source.items():
            if points > self._evicted_reported[source]:
                self.metrics.spool_evicted.labels(source=source).inc(
                    points - self._evicted_reported[source]
                )
                self._evicted_reported[source] = points

    async def close(self) -> None:
        await self.http.close()


def _chunk(lines: list[bytes], rounds: int | None = None) -> _Chunk:
    return b"\n".join(lines) + b"\n", False, len(lines), rounds
