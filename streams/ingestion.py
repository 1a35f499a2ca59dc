"""The ingestion service: input topics → validation → lake (+ dead letters) → trend counts → commit.

A batch stage (streams.batch_stage: the consume, commit, rebalance and stop loop) that reads the
input topics in raw batches. Faust's own stream path hands events over one at a time through its
conductor and a task per message, about 100 µs each here: a Faust agent, even with `take()`,
moves some 8,000 events/s on this machine, while validating, landing and counting an event in
batches costs about 20 µs of CPU (see docs/streams.md). Partitions are shared by every worker in
the consumer group ``<app id>-ingest``.

Per batch (buffered until `streams_batch_events` records or `streams_flush_s` seconds):

1. validate each partition's records with one `now` (streams.validated_events);
2. send the dead letters (asynchronously, awaited before step 6);
3. build the lake tables column-wise and count trend terms (streams.lake_files, .trend_counts);
4. write the lake files and trend-count files, atomically, on a thread pool;
5. publish the trend increments to the live table;
6. commit each partition's next offset: only now is the batch durable everywhere.

Steps 1–3 use the CPU (`prepare`); 4–5 (`land`) and 6 mostly wait, so they run in the background
while the next batch is fetched and validated (one batch in flight at most, committed in order).

A record that passes validation but that a later step cannot take (the Arrow conversion in 3,
the lake writer in 4) never stalls its partition (`streams.batch_stage.isolate_failures`): the
failing batch is split down to the record, which goes to the dead-letter topic as a
`processing_error` with the exception, and the rest lands; the offsets move past it, so a
restart does not meet it again. Trend counts are derived data: a count that fails is logged and
skipped for that batch, never retried into a stall.

A crash anywhere before 6 replays the batch from the last commit: lake files are rewritten or
duplicated (readers deduplicate by `event_id`), trend counts skip what they counted. On a
rebalance the revoked partitions' buffers are landed and committed before they are given up, and
their trend-count state is dropped; on SIGTERM the worker lands and commits what it buffered,
then leaves the group.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Container
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from kafka import KafkaAdminClient

from glamcast.core import topics
from glamcast.core.events import DeadLetter, Rejection, encode_event
from glamcast.core.settings import Settings
from glamcast.platform import lake
from glamcast.platform.broker import admin_client
from glamcast.platform.erasure import ErasedPeople
from streams import metrics
from streams.batch_stage import RECORD_ERRORS, BatchStage, Records, isolate_failures
from streams.lake_files import LakeFile, PreparedBatch, count_landed, prepare_batch, write_lake_file
from streams.trend_counts import Increment, LiveTrends, TrendCounter
from streams.validated_events import (
    ValidatedBatch,
    dead_letter,
    dead_letter_value,
    validate_records,
)

log = logging.getLogger(__name__)

#: Attempts to deliver a batch's dead letters before the worker gives up (and stops, uncommitted).
DEAD_LETTER_ATTEMPTS = 5
#: Threads writing lake files (Arrow encoding and fsync release the GIL; fsyncs overlap).
WRITER_THREADS = 8


def ingest_group(settings: Settings) -> str:
    """The consumer group the workers share the input partitions in."""
    return f"{settings.streams_app_id}-ingest"


def committed_offsets(
    settings: Settings, admin: KafkaAdminClient | None = None, group: str | None = None
) -> dict[tuple[str, int], int]:
    """The workers' committed offsets, ``{(topic, partition): next offset}`` (for monitoring),
    of the lake sink's group (`ingest_group`) or of `group`.

    Pass an `admin` client to poll repeatedly without reconnecting each time.
    """
    group = group or ingest_group(settings)
    client = admin or admin_client(settings)
    try:
        groups = client.list_group_offsets(group)
    finally:
        if admin is None:
            client.close()
    return {
        (tp.topic, tp.partition): meta.offset
        for tp, meta in groups.get(group, {}).items()
        if meta.offset >= 0
    }


def input_topics(settings: Settings) -> list[str]:
    """The topics the lake sink lands, as named on the broker: the input topics and the
    preference topic (the explicit preferences' history; the topic keeps only the latest)."""
    return [settings.topic_name(name) for name in (*topics.INPUT_TOPICS, topics.PREFERENCE)]


class _PhaseClock:
    """Seconds spent in each phase of a batch, for the log line of each batch."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.phases: list[tuple[str, float]] = []

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.phases.append((phase, now - self.last))
        self.last = now

    def total(self) -> float:
        return self.last - self.started

    def __str__(self) -> str:
        return ", ".join(f"{phase} {seconds * 1000:.0f} ms" for phase, seconds in self.phases)


def poison_letter(
    stage: str, topic: str, partition: int, offset: int, raw: bytes | None,
    error: BaseException, now: datetime,
) -> DeadLetter:
    """The dead letter of a record that `stage` could not process (`processing_error`)."""
    metrics.POISON.labels(stage, topic).inc()
    message = f"{stage}: {type(error).__name__}: {str(error)[:500]}"
    return dead_letter(topic, partition, offset, raw, Rejection("processing_error", message), now)


@dataclass
class _Batch:
    """A batch after the CPU stage, waiting to be written, published and committed."""

    records: int
    validated: list[ValidatedBatch]
    prepared: list[PreparedBatch]
    counts_files: list[LakeFile]
    letters: list[DeadLetter]  # rejected by validation, and records no step could process
    dead_letters: list[asyncio.Future]  # their deliveries, in the same order
    increments: list[Increment]
    offsets: dict[TopicPartition, int]
    clock: _PhaseClock
    now: datetime


class IngestionService(BatchStage[_Batch]):
    """Validated ingestion of every input topic into the lake, with at-least-once commits."""

    name = "ingest"

    def __init__(
        self, app: faust.App, settings: Settings, live: LiveTrends | None = None, **kwargs: Any
    ) -> None:
        super().__init__(
            app,
            settings,
            group=ingest_group(settings),
            topics=input_topics(settings),
            consumer_options={
                "max_partition_fetch_bytes": 4 * 1024 * 1024,
                "fetch_max_bytes": 64 * 1024 * 1024,
            },
            **kwargs,
        )
        self.live = live
        self.root = settings.lake_root
        self.dlq_topic = settings.topic_name(topics.DLQ)
        self.trends = TrendCounter(self.root)
        self.erased = ErasedPeople(settings)  # whose events are dropped (the right to erasure)
        self._buffers: dict[TopicPartition, list[tuple[int, bytes | None]]] = {}
        self._buffered = 0
        self._oldest: float | None = None
        self._writers = ThreadPoolExecutor(
            max_workers=WRITER_THREADS, thread_name_prefix="lake-writer"
        )

    # --- lifecycle ----------------------------------------------------------------------------

    async def on_start(self) -> None:
        removed = await asyncio.to_thread(lake.remove_temp_files, self.root)
        if removed:
            log.info("removed %d temp files left in the lake by a killed writer", removed)
        await asyncio.to_thread(self.erased.start)  # every erasure so far, before any batch
        await super().on_start()

    async def on_stop(self) -> None:
        """Land and commit what is buffered, leave the group, then stop the lake writers."""
        try:
            await super().on_stop()
        finally:
            self._writers.shutdown(wait=True)
            self.erased.close()

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Drop the revoked partitions' buffers (landed already) and their trend-count state."""
        for tp in revoked:
            self._take(tp)  # fetched during the landing: the next owner reads them again
        self.trends.forget((tp.topic, tp.partition) for tp in revoked)

    # --- one batch ------------------------------------------------------------------------------

    def add(self, records: Records) -> None:
        for tp, fetched in records.items():
            self._buffers.setdefault(tp, []).extend((r.offset, r.value) for r in fetched)
            self._buffered += len(fetched)
            if self._oldest is None:
                self._oldest = time.monotonic()
        metrics.BUFFERED.set(self._buffered)

    def due(self) -> bool:
        """`streams_batch_events` records buffered, or the oldest for `streams_flush_s`."""
        return self._buffered >= self.settings.streams_batch_events or (
            self._oldest is not None
            and time.monotonic() - self._oldest >= self.settings.streams_flush_s
        )

    def _take(self, tp: TopicPartition) -> list[tuple[int, bytes | None]]:
        """Remove and return a partition's buffer (records fetched later start a new one)."""
        records = self._buffers.pop(tp, None) or []
        self._buffered -= len(records)
        if not self._buffers:
            self._buffered, self._oldest = 0, None
        metrics.BUFFERED.set(self._buffered)
        return records

    async def prepare(self, partitions: Container[TopicPartition], *, drain: bool) -> _Batch | None:
        """The CPU stage: validate, send dead letters, build lake tables, count trend terms."""
        buffered = [tp for tp in self._buffers if tp in partitions]
        work = [(tp, records) for tp in buffered if (records := self._take(tp))]
        if not work:
            return None
        clock = _PhaseClock()
        now = datetime.now(UTC)
        letters: list[DeadLetter] = []
        parts: list[tuple[ValidatedBatch, PreparedBatch]] = []
        for tp, records in work:

            async def attempt(
                chunk: list[tuple[int, bytes | None]], tp: TopicPartition = tp
            ) -> tuple[ValidatedBatch, PreparedBatch]:
                validated = validate_records(
                    tp.topic, tp.partition, chunk, settings=self.settings, now=now
                )
                self._drop_erased(validated)
                return validated, prepare_batch(validated)

            def reject(
                record: tuple[int, bytes | None], error: BaseException, tp: TopicPartition = tp
            ) -> None:
                offset, raw = record
                letters.append(
                    poison_letter("ingest", tp.topic, tp.partition, offset, raw, error, now)
                )

            parts += await isolate_failures(records, attempt, reject)
        clock.lap("validate, arrow tables")
        validated = [part[0] for part in parts]
        prepared = [part[1] for part in parts]
        letters = [letter for batch in validated for letter in batch.dead_letters] + letters
        dead_letters = await self._send_dead_letters(letters)
        increments: list[Increment] = []
        counts_files: list[LakeFile] = []
        for batch, lake_batch in parts:
            try:
                counted, files = self.trends.count(
                    lake_batch.dataset,
                    batch.topic,
                    batch.partition,
                    lake_batch.table,
                    batch.last_offset,
                )
            except RECORD_ERRORS:
                log.exception("trend counts of %s[%d] skipped", batch.topic, batch.partition)
                continue
            increments += counted
            counts_files += files
        clock.lap("trend counts")
        offsets = {tp: records[-1][0] + 1 for tp, records in work}
        records = sum(len(records) for _, records in work)
        return _Batch(
            records, validated, prepared, counts_files, letters, dead_letters, increments,
            offsets, clock, now,
        )

    def _drop_erased(self, batch: ValidatedBatch) -> None:
        """Drop the events of erased people (`glamcast.platform.erasure`): replayed or still
        queued in an input topic, they never reach the lake again; their offsets are committed."""
        batch.events, batch.offsets, dropped = self.erased.drop(batch.events, batch.offsets)
        if dropped:
            metrics.ERASED_DROPPED.labels(batch.topic).inc(dropped)

    async def _write(self, files: list[LakeFile]) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._writers, write_lake_file, self.root, file) for file in files)
        )

    async def land(self, batch: _Batch) -> dict[TopicPartition, int]:
        """The waiting stage: write the files, await dead letters, publish the live increments."""
        clock = batch.clock
        lake_files = [file for prepared in batch.prepared for file in prepared.files]
        try:
            await self._write(lake_files)
        except RECORD_ERRORS as exc:
            log.warning("writing a batch failed (%s: %s); isolating the record", type(exc).__name__, exc)
            await self._land_isolated(batch)
        await self._write(batch.counts_files)
        count_landed(batch.prepared)
        clock.lap(f"write {len(lake_files) + len(batch.counts_files)} files")
        await self._await_dead_letters(batch.dead_letters, batch.letters)
        if self.live is not None and batch.increments:
            await self.live.publish(batch.increments)
        clock.lap("dead letters and live increments")
        return batch.offsets

    async def _land_isolated(self, batch: _Batch) -> None:
        """Write each partition's events in halves down to the ones the writer refuses, which
        join the batch's dead letters (their originals re-encoded from the validated events)."""
        prepared: list[PreparedBatch] = []
        letters: list[DeadLetter] = []
        for validated in batch.validated:
            rows = list(zip(validated.events, validated.offsets, strict=True))

            async def attempt(chunk, validated: ValidatedBatch = validated) -> PreparedBatch:
                part = ValidatedBatch(
                    validated.topic, validated.base_topic, validated.partition,
                    events=[event for event, _ in chunk], offsets=[offset for _, offset in chunk],
                )
                lake_batch = prepare_batch(part)
                await self._write(lake_batch.files)
                return lake_batch

            def reject(row, error: BaseException, validated: ValidatedBatch = validated) -> None:
                event, offset = row
                letters.append(poison_letter(
                    "ingest", validated.topic, validated.partition, offset, encode_event(event),
                    error, batch.now,
                ))

            prepared += await isolate_failures(rows, attempt, reject)
        batch.prepared = prepared
        batch.letters += letters
        batch.dead_letters += await self._send_dead_letters(letters)

    def after_commit(
        self, batch: _Batch, offsets: dict[TopicPartition, int], committed: bool
    ) -> None:
        if committed:
            for tp, offset in offsets.items():
                metrics.COMMITTED.labels(tp.topic, str(tp.partition)).set(offset)
        clock = batch.clock
        clock.lap("commit")
        metrics.BATCH_RECORDS.observe(batch.records)
        metrics.BATCH_SECONDS.observe(clock.total())
        log.info(
            "landed %d records from %d partitions in %.3f s (%s)",
            batch.records,
            len(offsets),
            clock.total(),
            clock,
        )

    async def _send_dead_letters(self, letters: list[DeadLetter]) -> list[asyncio.Future]:
        producer = self.app.producer
        return [
            await producer.send(
                self.dlq_topic,
                letter.source_topic.encode(),
                dead_letter_value(letter),
                partition=None,
                timestamp=None,
                headers=None,
            )
            for letter in letters
        ]

    async def _await_dead_letters(
        self, pending: list[asyncio.Future], letters: list[DeadLetter]
    ) -> None:
        """Wait until the broker has every dead letter; resend failed ones a few times."""
        results = await asyncio.gather(*pending, return_exceptions=True)
        failed = [
            letter
            for letter, result in zip(letters, results, strict=True)
            if isinstance(result, BaseException)
        ]
        producer = self.app.producer
        for attempt in range(1, DEAD_LETTER_ATTEMPTS + 1):
            if not failed:
                return
            log.warning("resending %d dead letters (attempt %d)", len(failed), attempt)
            await asyncio.sleep(min(2.0, 0.2 * 2**attempt))
            still_failed = []
            for letter in failed:
                try:
                    await producer.send_and_wait(
                        self.dlq_topic,
                        letter.source_topic.encode(),
                        dead_letter_value(letter),
                        partition=None,
                        timestamp=None,
                        headers=None,
                    )
                except KafkaError as exc:
                    log.warning("dead letter not delivered: %r", exc)
                    still_failed.append(letter)
            failed = still_failed
        if failed:
            raise RuntimeError(f"could not deliver {len(failed)} dead letters to {self.dlq_topic}")
