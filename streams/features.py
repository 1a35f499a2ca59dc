"""The feature stage: try-on events → windowed user and product aggregates → Feast push sources.

A Faust service beside the ingestion service, with its own consumer group
``<app id>-features`` on the try-on topic (so it neither slows nor changes the lake sink). It
keeps, per user and per product, the events of the last 7 days before the key's latest event
(deduplicated by `event_id`), and every `features_flush_s` seconds recomputes the touched keys'
windows (`glamcast.features.user_activity_features`, `product_popularity_features`) and pushes
one DataFrame per push source with ``PushMode.ONLINE_AND_OFFLINE``: one online write and one
offline append per flush, whatever the event rate. Offsets are committed after the push
(at least once; a replayed event is deduplicated by `event_id` while its key's state is kept).

The state lives in memory: a worker that restarts, or takes over partitions, starts from the
events it reads from then on, so its first pushes for a key cover only those events until the
key's windows have refilled (see docs/features.md).

`register_features(app, settings)` adds the service when `features_enabled(settings)`: the
setting `streams_features`, or, when unset, once the Feast repository has been applied.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import faust
import pandas as pd
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import OffsetAndMetadata
from mode import Service
from prometheus_client import Counter, Histogram

from glamcast import topics
from glamcast.broker import bootstrap_servers
from glamcast.features import (
    EVENT_COLUMNS,
    LONGEST_WINDOW,
    PRODUCT_COL,
    PRODUCT_POPULARITY_PUSH_SOURCE,
    USER_ACTIVITY_PUSH_SOURCE,
    USER_COL,
    feast_dir,
    feature_store,
    product_popularity_features,
    push_features,
    user_activity_features,
)
from glamcast.settings import Profile, Settings
from streams.validated_events import validate_records

log = logging.getLogger(__name__)

PUSHED_ROWS = Counter(
    "glamcast_features_pushed_rows", "Feature rows pushed to Feast.", ["push_source"]
)
PUSH_SECONDS = Histogram(
    "glamcast_features_push_seconds",
    "Time to aggregate and push one flush of features (online and offline).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

#: Keys touched before a flush is forced, whatever `features_flush_s` says.
MAX_TOUCHED = 20_000
_TS = EVENT_COLUMNS.index("ts")


def features_group(settings: Settings) -> str:
    """The consumer group of the feature stage."""
    return f"{settings.streams_app_id}-features"


def features_enabled(settings: Settings) -> bool:
    """Whether workers run the feature stage (see `Settings.streams_features`)."""
    if settings.streams_features is not None:
        return settings.streams_features
    if settings.profile is Profile.LOCAL:
        return (feast_dir(settings) / "registry.db").exists()
    return True


def event_row(event: Any) -> tuple:
    """A validated try-on event → a tuple in `EVENT_COLUMNS` order."""
    face = event.face
    return (
        event.event_id,
        event.ts,
        event.user_id,
        event.product_id,
        str(event.action),
        str(event.category),
        event.shade_hex,
        str(event.finish),
        event.dwell_ms,
        None if face is None or face.skin_tone is None else face.skin_tone,
        None if face is None or face.undertone is None else str(face.undertone),
    )


class WindowState:
    """Per-key events of the longest window before the key's latest event, by `event_id`."""

    def __init__(self, key_index: int) -> None:
        self.key_index = key_index
        self.events: dict[str, dict[str, tuple]] = {}
        self.touched: set[str] = set()

    def add(self, row: tuple) -> None:
        key = row[self.key_index]
        self.events.setdefault(key, {})[row[0]] = row
        self.touched.add(key)

    def take_touched(self) -> list[tuple]:
        """The events of the keys touched since the last call (pruned to the window)."""
        rows: list[tuple] = []
        for key in self.touched:
            events = self.events[key]
            latest = max(row[_TS] for row in events.values())
            cutoff = latest - LONGEST_WINDOW
            stale = [event_id for event_id, row in events.items() if row[_TS] <= cutoff]
            for event_id in stale:
                del events[event_id]
            rows.extend(events.values())
        self.touched = set()
        return rows


def _frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=list(EVENT_COLUMNS))
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["face_skin_tone"] = frame["face_skin_tone"].astype("Int64")
    return frame


def aggregate_and_push(
    store: Any, user_rows: list[tuple], product_rows: list[tuple]
) -> tuple[int, int]:
    """Recompute the touched keys' features and push them (blocking; run off the event loop)."""
    users = user_activity_features(_frame(user_rows)) if user_rows else None
    products = product_popularity_features(_frame(product_rows)) if product_rows else None
    if users is not None:
        push_features(store, USER_ACTIVITY_PUSH_SOURCE, users)
        PUSHED_ROWS.labels(USER_ACTIVITY_PUSH_SOURCE).inc(len(users))
    if products is not None:
        push_features(store, PRODUCT_POPULARITY_PUSH_SOURCE, products)
        PUSHED_ROWS.labels(PRODUCT_POPULARITY_PUSH_SOURCE).inc(len(products))
    return (0 if users is None else len(users)), (0 if products is None else len(products))


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: FeaturesService) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self.service.flush()

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        log.info("feature partitions assigned: %s", sorted(tp.partition for tp in assigned))


class FeaturesService(Service):
    """Windowed user and product features from the try-on topic, pushed to Feast in batches."""

    def __init__(self, app: faust.App, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app
        self.settings = settings
        self.users = WindowState(EVENT_COLUMNS.index(USER_COL))
        self.products = WindowState(EVENT_COLUMNS.index(PRODUCT_COL))
        self._pending: dict[TopicPartition, int] = {}  # next offset to commit after the push
        self._oldest: float | None = None
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self._store: Any = None
        self._consuming_done = asyncio.Event()

    async def on_start(self) -> None:
        settings = self.settings
        self._store = await asyncio.to_thread(feature_store, settings)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers(settings),
            group_id=features_group(settings),
            client_id=f"{settings.streams_app_id}-features",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=max(500, settings.session_timeout_ms // 6),
            rebalance_timeout_ms=settings.rebalance_timeout,
            max_poll_interval_ms=max(300_000, settings.rebalance_timeout),
        )
        consumer.subscribe([settings.topic_name(topics.TRYON)], listener=_Rebalance(self))
        await consumer.start()
        self._consumer = consumer

    @Service.task
    async def _consume(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        flush_s = self.settings.features_flush_s
        try:
            while not self.should_stop:
                fetched = await consumer.getmany(timeout_ms=int(min(100, flush_s * 1000 / 2)))
                now = datetime.now(UTC)
                assignment = consumer.assignment()
                for tp, records in fetched.items():
                    if tp not in assignment or not records:
                        continue
                    batch = validate_records(
                        tp.topic,
                        tp.partition,
                        [(r.offset, r.value) for r in records],
                        settings=self.settings,
                        now=now,
                    )
                    for event in batch.events:
                        row = event_row(event)
                        self.users.add(row)
                        self.products.add(row)
                    self._pending[tp] = batch.last_offset + 1
                    if self._oldest is None:
                        self._oldest = time.monotonic()
                due = self._oldest is not None and (
                    time.monotonic() - self._oldest >= flush_s
                    or len(self.users.touched) >= MAX_TOUCHED
                )
                if due and not self.should_stop:
                    await self.flush()
        finally:
            self._consuming_done.set()

    async def flush(self) -> None:
        """Push the touched keys' features, then commit what they were computed from."""
        async with self._lock:
            consumer = self._consumer
            offsets, self._pending, self._oldest = self._pending, {}, None
            user_rows, product_rows = self.users.take_touched(), self.products.take_touched()
            if not offsets:
                return
            started = time.perf_counter()
            pushed = await asyncio.to_thread(
                aggregate_and_push, self._store, user_rows, product_rows
            )
            PUSH_SECONDS.observe(time.perf_counter() - started)
            log.debug(
                "pushed %d user and %d product feature rows in %.3f s",
                *pushed,
                time.perf_counter() - started,
            )
            if consumer is None:
                return
            try:
                await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
            except (CommitFailedError, IllegalStateError) as exc:
                log.warning("feature commit failed (%s); the events will be re-read", exc)

    async def on_stop(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        try:
            await asyncio.wait_for(self._consuming_done.wait(), timeout=10)
        except TimeoutError:
            log.warning("feature loop did not stop within 10 s; pushing what it has")
        try:
            await self.flush()
        finally:
            self._consumer = None
            await consumer.stop()


def register_features(app: faust.App, settings: Settings) -> FeaturesService | None:
    """Add the feature stage to a worker app when `features_enabled`; returns the service."""
    if not features_enabled(settings):
        return None
    service = FeaturesService(app, settings)
    app.service(service)
    return service
