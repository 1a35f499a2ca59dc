"""The feed stage: a person's try-on activity → their recomputed feed on `glamcast.feed.v1`.

A Faust service in each worker with its own consumer group ``<app id>-feed`` on the try-on topic
(like streams/features). Per event: validate, keep it in the person's state (events of the 7 d
before their latest event, by `event_id`), and mark the person pending. A pending person's feed
is recomputed `feed_debounce_s` after their last event (a burst of try-ons gives one update), or
at the latest `feed_max_delay_s` after their first pending event. For the people due, in one
pass: their `user_activity_fv` features from the state (`models.activity_features.user_activity_features`,
the feature stage's definition) and their bought products (7 d), pushed to Feast as
`user_history_push_source` (what the API's filter reads); then the same ranking as the API
(`glamcast.platform.feed_engine.FeedEngine.feed` → `rank_feed`), published keyed by `user_id` as
`glamcast.platform.feed_engine.Feed` JSON. A partition's offsets are committed once none of its people is pending
(at least once: a crash re-publishes feeds, which consumers overwrite by user).

The champion and the pools are the engine's: reloaded when the alias moves
(`feed_reload_poll_s`), global features refreshed every `feed_pool_refresh_s`.
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
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import OffsetAndMetadata
from mode import Service
from prometheus_client import Counter, Histogram

from glamcast.core import topics
from glamcast.platform.broker import (
    LOW_LATENCY_FETCH_WAIT_MS,
    bootstrap_servers,
    client_security,
    stage_consumer,
)
from glamcast.core.features import EVENT_COLUMNS, LONGEST_WINDOW, USER_HISTORY_PUSH_SOURCE
from glamcast.core.names import EVENT_TIMESTAMP_COL, USER_COL
from glamcast.platform.features import push_features
from models.activity_features import user_activity_features
from glamcast.platform.feed_engine import PURCHASED_FEATURE, FeedEngine, feed_message
from glamcast.core.settings import Settings
from streams.features import event_row, features_enabled
from streams.validated_events import validate_records

log = logging.getLogger(__name__)

FEEDS_PUBLISHED = Counter("glamcast_feed_updates_published", "Feeds published to the feed topic.")
FEED_UPDATE_SECONDS = Histogram(
    "glamcast_feed_update_seconds",
    "Time to recompute and publish the feeds of the people due in one pass.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
#: Items per published feed.
FEED_TOPIC_K = 20
_TS = EVENT_COLUMNS.index("ts")


def feed_group(settings: Settings) -> str:
    """The consumer group of the feed stage."""
    return f"{settings.streams_app_id}-feed"


def feed_enabled(settings: Settings) -> bool:
    """Whether workers run the feed stage (`Settings.streams_feed`; unset: as the feature stage)."""
    if settings.streams_feed is not None:
        return settings.streams_feed
    return features_enabled(settings)


def history_features(rows: list[tuple]) -> pd.DataFrame:
    """Events (`EVENT_COLUMNS` tuples) → one `user_history_fv` row per user: products bought in
    the 7 d window before the user's latest event, in order of purchase."""
    frame = pd.DataFrame.from_records(rows, columns=list(EVENT_COLUMNS))
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame = frame.drop_duplicates("event_id").sort_values(["ts", "event_id"])
    latest = frame.groupby(USER_COL)["ts"].max()
    inside = frame[frame["ts"] > frame[USER_COL].map(latest) - LONGEST_WINDOW]
    bought = inside[inside["action"] == "purchase"].groupby(USER_COL)["product_id"].agg(
        lambda ids: list(dict.fromkeys(ids)))
    return pd.DataFrame({
        USER_COL: latest.index,
        EVENT_TIMESTAMP_COL: latest.to_numpy(),
        PURCHASED_FEATURE: [bought.get(user, []) for user in latest.index],
    })


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: FeedUpdatesService) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self.service.publish_due(everyone=True)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        log.info("feed partitions assigned: %s", sorted(tp.partition for tp in assigned))


class FeedUpdatesService(Service):
    """Debounced per-person feed recomputation from the try-on topic, published to the feed topic."""

    def __init__(self, app: faust.App, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app
        self.settings = settings
        self.engine = FeedEngine(settings)
        self.events: dict[str, dict[str, tuple]] = {}  # user → event_id → row
        self.pending: dict[str, tuple[float, float, TopicPartition]] = {}  # first, last, tp
        self._offsets: dict[TopicPartition, int] = {}  # next offset to commit per partition
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._consuming_done = asyncio.Event()
        self._last_start = time.monotonic()

    async def on_start(self) -> None:
        settings = self.settings
        try:
            await asyncio.to_thread(self.engine.start)
        except Exception:  # no registry yet: rank on activity; retried below
            log.exception("feed engine could not load; feeds rank without a champion for now")
        servers = bootstrap_servers(settings)
        self._producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all",
                                          enable_idempotence=False, linger_ms=5,
                                          **client_security(settings))
        await self._producer.start()
        consumer = stage_consumer(settings, feed_group(settings), f"{settings.streams_app_id}-feed",
                                  fetch_max_wait_ms=LOW_LATENCY_FETCH_WAIT_MS)
        consumer.subscribe([settings.topic_name(topics.TRYON)], listener=_Rebalance(self))
        await consumer.start()
        self._consumer = consumer

    @Service.task
    async def _consume(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        try:
            while not self.should_stop:
                fetched = await consumer.getmany(timeout_ms=100)
                now, clock = datetime.now(UTC), time.monotonic()
                assignment = consumer.assignment()
                for tp, records in fetched.items():
                    if tp not in assignment or not records:
                        continue
                    batch = validate_records(tp.topic, tp.partition,
                                             [(r.offset, r.value) for r in records],
                                             settings=self.settings, now=now)
                    for event in batch.events:
                        row = event_row(event)
                        user = row[EVENT_COLUMNS.index(USER_COL)]
                        self.events.setdefault(user, {})[row[0]] = row
                        first = self.pending.get(user, (clock, clock, tp))[0]
                        self.pending[user] = (first, clock, tp)
                    self._offsets[tp] = batch.last_offset + 1
                if not self.should_stop:
                    await self.publish_due()
                    await self._reload()
        finally:
            self._consuming_done.set()

    async def _reload(self) -> None:
        """Follow the champion alias and refresh the pools (a registry outage keeps serving)."""
        try:
            if not self.engine.started:
                if time.monotonic() - self._last_start >= self.settings.feed_reload_poll_s:
                    self._last_start = time.monotonic()
                    await asyncio.to_thread(self.engine.start)
                return
            await asyncio.to_thread(self.engine.maybe_reload)
            await asyncio.to_thread(self.engine.maybe_refresh)
        except Exception:  
            log.exception("feed reload failed; ranking on model v%s",
                          self.engine.snapshot.model_version)

    def _due(self, everyone: bool) -> list[str]:
        clock = time.monotonic()
        debounce, longest = self.settings.feed_debounce_s, self.settings.feed_max_delay_s
        return [user for user, (first, last, _) in self.pending.items()
                if everyone or clock - last >= debounce or clock - first >= longest]

    async def publish_due(self, everyone: bool = False) -> int:
        """Recompute, push and publish the feeds of the people due; commit what is settled."""
        async with self._lock:
            due = self._due(everyone)
            if due:
                started = time.perf_counter()
                rows = []
                for user in due:
                    events = self.events[user]
                    cutoff = max(row[_TS] for row in events.values()) - LONGEST_WINDOW
                    for event_id in [e for e, row in events.items() if row[_TS] <= cutoff]:
                        del events[event_id]
                    rows.extend(events.values())
                feeds = await asyncio.to_thread(self._feeds, rows)
                producer = self._producer
                assert producer is not None
                sent = [await producer.send(self.settings.topic_name(topics.FEED),
                                            feed_message(feed), key=user.encode())
                        for user, feed in feeds.items()]
                await asyncio.gather(*sent)
                for user in due:
                    del self.pending[user]
                FEEDS_PUBLISHED.inc(len(feeds))
                FEED_UPDATE_SECONDS.observe(time.perf_counter() - started)
            await self._commit_settled()
            return len(due)

    def _feeds(self, rows: list[tuple]) -> dict[str, Any]:
        """Features of the people in `rows`, their history pushed, and their ranked feeds."""
        frame = pd.DataFrame.from_records(rows, columns=list(EVENT_COLUMNS))
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        frame["face_skin_tone"] = frame["face_skin_tone"].astype("Int64")
        activity = user_activity_features(frame).set_index(USER_COL)
        history = history_features(rows)
        try:
            push_features(self.engine.store, USER_HISTORY_PUSH_SOURCE, history)
        except Exception:  # the published feed filters them anyway
            log.exception("could not push user history for %d people", len(history))
        bought = history.set_index(USER_COL)[PURCHASED_FEATURE]
        feeds = {}
        for user in activity.index:
            features = activity.loc[user].to_dict()
            features = {name: (None if _missing(value) else value)
                        for name, value in features.items()}
            features[PURCHASED_FEATURE] = bought.get(user, [])
            feeds[user] = self.engine.feed(user, FEED_TOPIC_K, features=features)
        return feeds

    async def _commit_settled(self) -> None:
        consumer = self._consumer
        if consumer is None or not self._offsets:
            return
        busy = {tp for _, _, tp in self.pending.values()}
        settled = {tp: offset for tp, offset in self._offsets.items() if tp not in busy}
        if not settled:
            return
        try:
            await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in settled.items()})
        except (CommitFailedError, IllegalStateError) as exc:
            log.warning("feed commit failed (%s); the events will be re-read", exc)
            return
        for tp in settled:
            del self._offsets[tp]

    async def on_stop(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        try:
            await asyncio.wait_for(self._consuming_done.wait(), timeout=10)
        except TimeoutError:
            log.warning("feed loop did not stop within 10 s; publishing what is pending")
        try:
            await self.publish_due(everyone=True)
        finally:
            self._consumer = None
            await consumer.stop()
            if self._producer is not None:
                await self._producer.stop()


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def register_feed_updates(app: faust.App, settings: Settings) -> FeedUpdatesService | None:
    """Add the feed stage to a worker app when `feed_enabled`; returns the service."""
    if not feed_enabled(settings):
        return None
    service = FeedUpdatesService(app, settings)
    app.service(service)
    return service
