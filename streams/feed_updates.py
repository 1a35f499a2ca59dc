"""The feed stage: a person's try-on activity → their recomputed feed on `glamcast.feed.v1`.

A batch stage (streams.batch_stage) in each worker with its own consumer group ``<app id>-feed``
on the try-on topic (like streams/features). Per event: validate, keep it in the person's state
(events of the 7 d before their latest event, by `event_id`), and mark the person pending. A pending person's feed
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
from collections.abc import Container, Sequence
from datetime import UTC, datetime
from typing import Any

import faust
import pandas as pd
from aiokafka import AIOKafkaProducer, TopicPartition
from prometheus_client import Counter, Histogram

from glamcast.core import topics
from glamcast.core.features import (
    EVENT_COLUMNS,
    LONGEST_WINDOW,
    PURCHASED_FEATURE,
    USER_HISTORY_PUSH_SOURCE,
)
from glamcast.core.names import EVENT_TIMESTAMP_COL, USER_COL
from glamcast.core.settings import Settings
from glamcast.platform.broker import (
    LOW_LATENCY_FETCH_WAIT_MS,
    bootstrap_servers,
    client_security,
)
from glamcast.platform.erasure import ErasedPeople
from glamcast.platform.features import push_features
from glamcast.platform.feed_engine import FeedEngine, feed_message
from models.activity_features import user_activity_features
from streams import metrics
from streams.batch_stage import BatchStage, Records, isolate_failures
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


class FeedUpdatesService(BatchStage[list[str]]):
    """Debounced per-person feed recomputation from the try-on topic, published to the feed topic.

    A batch is the people due; it lands before the next fetch (`lands_in_background` off): a
    person's later events must find them still pending, or their feed would not be published."""

    name = "feed"
    lands_in_background = False

    def __init__(self, app: faust.App, settings: Settings, **kwargs: Any) -> None:
        super().__init__(
            app,
            settings,
            group=feed_group(settings),
            topics=[settings.topic_name(topics.TRYON)],
            consumer_options={"fetch_max_wait_ms": LOW_LATENCY_FETCH_WAIT_MS},
            **kwargs,
        )
        self.engine = FeedEngine(settings)
        self.events: dict[str, dict[str, tuple]] = {}  # user → event_id → row
        self.pending: dict[str, tuple[float, float, TopicPartition]] = {}  # first, last, tp
        self._offsets: dict[TopicPartition, int] = {}  # next offset to commit per partition
        self._producer: AIOKafkaProducer | None = None
        self._last_start = time.monotonic()
        self.erased = ErasedPeople(settings)  # no feed is published for an erased person

    async def on_start(self) -> None:
        settings = self.settings
        await asyncio.to_thread(self.erased.start)
        try:
            await asyncio.to_thread(self.engine.start)
        except Exception:  # no registry yet: rank on activity; retried below
            log.exception("feed engine could not load; feeds rank without a champion for now")
        servers = bootstrap_servers(settings)
        self._producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all",
                                          enable_idempotence=False, linger_ms=5,
                                          **client_security(settings))
        await self._producer.start()
        await super().on_start()

    async def on_stop(self) -> None:
        """Publish the feeds of everyone pending, commit, leave the group; then stop the producer."""
        try:
            await super().on_stop()
        finally:
            if self._producer is not None:
                await self._producer.stop()
            self.erased.close()

    def add(self, records: Records) -> None:
        now, clock = datetime.now(UTC), time.monotonic()
        for tp, fetched in records.items():
            batch = validate_records(tp.topic, tp.partition,
                                     [(r.offset, r.value) for r in fetched],
                                     settings=self.settings, now=now)
            for event in batch.events:
                if self.erased.erased(event):
                    continue
                row = event_row(event)
                user = row[EVENT_COLUMNS.index(USER_COL)]
                self.events.setdefault(user, {})[row[0]] = row
                first = self.pending.get(user, (clock, clock, tp))[0]
                self.pending[user] = (first, clock, tp)
            self._offsets[tp] = batch.last_offset + 1

    def due(self) -> bool:
        return True  # `prepare` picks the people due, and commits what is settled every pass

    async def after_pass(self) -> None:
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

    async def prepare(
        self, partitions: Container[TopicPartition], *, drain: bool
    ) -> list[str] | None:
        """The people due: `feed_debounce_s` after their last event or `feed_max_delay_s` after
        their first pending one; with `drain`, everyone pending (the state is per person, not per
        partition). None when no one is due and no offset waits for its commit."""
        clock = time.monotonic()
        debounce, longest = self.settings.feed_debounce_s, self.settings.feed_max_delay_s
        due = [user for user, (first, last, _) in self.pending.items()
               if drain or clock - last >= debounce or clock - first >= longest]
        return due if due or self._offsets else None

    async def land(self, due: list[str]) -> dict[TopicPartition, int]:
        """Recompute, push and publish the feeds of the people due; returns the offsets of the
        partitions none of whose people is pending any more."""
        for user in [user for user in due if user in self.erased.ids]:  # erased meanwhile
            due.remove(user)
            del self.pending[user]
            self.events.pop(user, None)
        if due:
            started = time.perf_counter()
            rows: dict[str, list[tuple]] = {}
            for user in due:
                events = self.events[user]
                cutoff = max(row[_TS] for row in events.values()) - LONGEST_WINDOW
                for event_id in [e for e, row in events.items() if row[_TS] <= cutoff]:
                    del events[event_id]
                rows[user] = list(events.values())

            async def attempt(users: Sequence[str]) -> dict[str, Any]:
                chunk = [row for user in users for row in rows[user]]
                return await asyncio.to_thread(self._feeds, chunk)

            def reject(user: str, error: BaseException) -> None:  # their events are in the lake
                log.error("feed of %s not computed: %s: %s", user, type(error).__name__, error)
                metrics.POISON.labels("feed", self.settings.topic_name(topics.TRYON)).inc()

            feeds = {}
            for part in await isolate_failures(due, attempt, reject):
                feeds.update(part)
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
        busy = {tp for _, _, tp in self.pending.values()}
        return {tp: offset for tp, offset in self._offsets.items() if tp not in busy}

    def after_commit(
        self, due: list[str], offsets: dict[TopicPartition, int], committed: bool
    ) -> None:
        if committed:
            for tp in offsets:
                del self._offsets[tp]

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
        preferences = self.engine.user_preferences([str(user) for user in activity.index])
        feeds = {}
        for user in activity.index:
            features = activity.loc[user].to_dict()
            features = {name: (None if _missing(value) else value)
                        for name, value in features.items()}
            features[PURCHASED_FEATURE] = bought.get(user, [])
            features.update(preferences.get(str(user), {}))
            feeds[user] = self.engine.feed(user, FEED_TOPIC_K, features=features)
        return feeds


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
