"""The ingestion service: input topics → validation → lake (+ dead letters) → trend counts → commit.

A Faust service (started and stopped with the worker, beside its agents and web server) that
reads the input topics with its own aiokafka consumer in raw batches (`getmany`), because the
Faust stream machinery costs tens of microseconds per event (a Faust agent, even with `take()`,
moves about 8,000 events/s here; see bench/stream_throughput.py) while the work itself is ~15 µs
per event. Partitions are shared by every worker in the consumer group ``<app id>-ingest``.

Per batch (buffered until `streams_batch_events` records or `streams_flush_s` seconds):

1. validate each partition's records with one `now` (streams.validated_events);
2. send the dead letters (asynchronously, awaited before step 5);
3. write the valid events to the lake, one atomic file per partition and date (streams.lake_files);
4. count trend terms into the lake's `trend_counts` (streams.trend_counts);
5. commit each partition's next offset: only now is the batch durable everywhere.

A crash anywhere before 5 replays the batch from the last commit: lake files are rewritten or
duplicated (readers deduplicate by `event_id`), trend counts skip what they counted. On a
rebalance the revoked partitions' buffers are landed and committed before they are given up;
on SIGTERM the worker lands and commits what it buffered, then leaves the group.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import OffsetAndMetadata
from mode import Service

from glamcast import lake, topics
from glamcast.broker import bootstrap_servers
from glamcast.settings import Settings
from streams import metrics
from streams.lake_files import land_batch
from streams.trend_counts import LiveTrends, TrendCounter
from streams.validated_events import ValidatedBatch, dead_letter_value, validate_records

log = logging.getLogger(__name__)

#: Attempts to deliver a batch's dead letters before the worker gives up (and stops, uncommitted).
DEAD_LETTER_ATTEMPTS = 5


def ingest_group(settings: Settings) -> str:
    """The consumer group the workers share the input partitions in."""
    return f"{settings.streams_app_id}-ingest"


def input_topics(settings: Settings) -> list[str]:
    """The input topics as named on the broker."""
    return [settings.topic_name(name) for name in topics.INPUT_TOPICS]


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: IngestionService) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self.service.on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        log.info("ingest partitions assigned: %s", _describe(assigned))


def _describe(partitions: Iterable[TopicPartition]) -> str:
    by_topic: dict[str, list[int]] = {}
    for tp in partitions:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    return ", ".join(f"{name}{sorted(parts)}" for name, parts in sorted(by_topic.items())) or "none"


class IngestionService(Service):
    """Validated ingestion of every input topic into the lake, with at-least-once commits."""

    def __init__(self, app: faust.App, settings: Settings, live: LiveTrends | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app
        self.settings = settings
        self.live = live
        self.root = settings.lake_root
        self.dlq_topic = settings.topic_name(topics.DLQ)
        self.trends = TrendCounter(self.root)
        self._consumer: AIOKafkaConsumer | None = None
        self._buffers: dict[TopicPartition, list[tuple[int, bytes | None]]] = {}
        self._buffered = 0
        self._oldest: float | None = None
        self._lock = asyncio.Lock()
        self._consuming_done = asyncio.Event()

    # --- lifecycle ----------------------------------------------------------------------------

    async def on_start(self) -> None:
        settings = self.settings
        removed = await asyncio.to_thread(lake.remove_temp_files, self.root)
        if removed:
            log.info("removed %d temp files left in the lake by a killed writer", removed)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers(settings),
            group_id=ingest_group(settings),
            client_id=f"{settings.streams_app_id}-ingest",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=max(500, settings.session_timeout_ms // 6),
            rebalance_timeout_ms=settings.rebalance_timeout,
            max_poll_interval_ms=max(300_000, settings.rebalance_timeout),
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )
        consumer.subscribe(input_topics(settings), listener=_Rebalance(self))
        await consumer.start()
        self._consumer = consumer

    @Service.task
    async def _consume(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        flush_s = self.settings.streams_flush_s
        batch_events = self.settings.streams_batch_events
        try:
            while not self.should_stop:
                fetched = await consumer.getmany(timeout_ms=100)
                assignment = consumer.assignment()
                for tp, records in fetched.items():
                    if tp not in assignment or not records:
                        continue  # revoked while it was being fetched
                    self._buffers.setdefault(tp, []).extend((r.offset, r.value) for r in records)
                    self._buffered += len(records)
                    if self._oldest is None:
                        self._oldest = time.monotonic()
                if self._buffered >= batch_events or (
                    self._oldest is not None and time.monotonic() - self._oldest >= flush_s
                ):
                    async with self._lock:
                        await self._flush(list(self._buffers))
        finally:
            self._consuming_done.set()

    async def on_stop(self) -> None:
        """Land and commit what is buffered, then leave the group (the others take over)."""
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        try:
            await asyncio.wait_for(self._consuming_done.wait(), timeout=10)
        except TimeoutError:
            log.warning("ingest loop did not stop within 10 s; landing what it buffered")
        try:
            async with self._lock:
                await self._flush(list(self._buffers), consumer=consumer)
        finally:
            await consumer.stop()

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Land and commit the revoked partitions' buffers before another worker takes them."""
        if revoked:
            log.info("ingest partitions revoked: %s", _describe(revoked))
        async with self._lock:
            await self._flush([tp for tp in self._buffers if tp in revoked])
            for tp in revoked:
                self._take(tp)  # fetched during the flush: the next owner reads them again
            self.trends.forget((tp.topic, tp.partition) for tp in revoked)

    # --- one batch ------------------------------------------------------------------------------

    def _take(self, tp: TopicPartition) -> list[tuple[int, bytes | None]]:
        """Remove and return a partition's buffer (records fetched later start a new one)."""
        records = self._buffers.pop(tp, None) or []
        self._buffered -= len(records)
        if not self._buffers:
            self._buffered, self._oldest = 0, None
        return records

    async def _flush(self, partitions: list[TopicPartition], consumer: AIOKafkaConsumer | None = None) -> None:
        """Validate, land, count and commit the buffers of `partitions` (holding the lock)."""
        consumer = consumer or self._consumer
        if consumer is None:
            return
        work = [(tp, records) for tp in partitions if (records := self._take(tp))]
        if not work:
            return
        started = time.perf_counter()
        now = datetime.now(UTC)
        batches = [
            validate_records(tp.topic, tp.partition, records, settings=self.settings, now=now)
            for tp, records in work
        ]
        pending = [future for batch in batches for future in await self._send_dead_letters(batch)]
        increments = []
        for batch in batches:
            landed = land_batch(self.root, batch)
            increments += self.trends.count(landed.dataset, batch.topic, batch.partition, landed.table,
                                            batch.last_offset)
        await self._await_dead_letters(pending, batches)
        if self.live is not None and increments:
            await self.live.publish(increments)
        offsets = {tp: OffsetAndMetadata(batch.last_offset + 1, "") for (tp, _), batch in zip(work, batches, strict=True)}
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group moved on (this worker lost the partitions): whoever owns them now re-reads
            # from the last commit; the lake dedups and trend counts skip what was counted.
            log.warning("commit after landing failed (%s); the batch will be re-read", exc)
        else:
            for tp, meta in offsets.items():
                metrics.COMMITTED.labels(tp.topic, str(tp.partition)).set(meta.offset)
        records = sum(len(records) for _, records in work)
        metrics.BATCH_RECORDS.observe(records)
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        log.debug("landed %d records from %d partitions in %.3f s", records, len(work),
                  time.perf_counter() - started)

    async def _send_dead_letters(self, batch: ValidatedBatch) -> list[asyncio.Future]:
        producer = self.app.producer
        return [
            await producer.send(self.dlq_topic, batch.topic.encode(), dead_letter_value(letter),
                                partition=None, timestamp=None, headers=None)
            for letter in batch.dead_letters
        ]

    async def _await_dead_letters(self, pending: list[asyncio.Future], batches: list[ValidatedBatch]) -> None:
        """Wait until the broker has every dead letter; resend failed ones a few times."""
        results = await asyncio.gather(*pending, return_exceptions=True)
        if not any(isinstance(result, BaseException) for result in results):
            return
        letters = [letter for batch in batches for letter in batch.dead_letters]
        failed = [letter for letter, result in zip(letters, results, strict=True) if isinstance(result, BaseException)]
        producer = self.app.producer
        for attempt in range(1, DEAD_LETTER_ATTEMPTS + 1):
            log.warning("resending %d dead letters (attempt %d)", len(failed), attempt)
            await asyncio.sleep(min(2.0, 0.2 * 2**attempt))
            try:
                for letter in failed:
                    await producer.send_and_wait(self.dlq_topic, letter.source_topic.encode(),
                                                 dead_letter_value(letter), partition=None,
                                                 timestamp=None, headers=None)
                return
            except KafkaError as exc:
                log.warning("dead letters not delivered: %r", exc)
        raise RuntimeError(f"could not deliver {len(failed)} dead letters to {self.dlq_topic}")
