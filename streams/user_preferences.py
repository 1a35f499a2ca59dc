"""The preference stage: explicit preferences (`glamcast.preference.v1`) → `user_preferences_fv`.

A small batch stage (streams.batch_stage) that runs with the feature stage (`register_features`
adds it: the same switch), in its own consumer group ``<app id>-preferences`` on the compacted
preference topic. Per fetch: validate (the lake sink sends bad records to the dead-letter topic;
here they are only skipped), drop erased people, and keep each person's latest event (the topic
is keyed by person, so within a partition the last offset is the latest set). At most
`features_flush_s` after the first waiting event, the latest rows are pushed to Feast
(`user_preferences_push_source`, online and offline) and only then are their offsets committed.

At least once: a crash pushes the same rows again (an online write is idempotent; offline rows are
read point in time). A restart needs no state: every preference lives in the online store, and the
compacted topic keeps each person's latest for a new consumer group.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Container
from datetime import UTC, datetime
from typing import Any

import faust
import pandas as pd
from aiokafka import TopicPartition
from prometheus_client import Counter

from glamcast.core import topics
from glamcast.core.events import PreferenceEvent
from glamcast.core.features import USER_PREFERENCE_FEATURES, USER_PREFERENCES_PUSH_SOURCE
from glamcast.core.names import EVENT_TIMESTAMP_COL, USER_COL
from glamcast.core.settings import Settings
from glamcast.platform.broker import LOW_LATENCY_FETCH_WAIT_MS
from glamcast.platform.erasure import ErasedPeople
from glamcast.platform.features import feature_store, push_features
from streams.batch_stage import BatchStage, Records
from streams.validated_events import validate_records

log = logging.getLogger(__name__)

PUSHED_PREFERENCES = Counter(
    "glamcast_preferences_pushed_rows", "Preference rows pushed to the feature store."
)


def preferences_group(settings: Settings) -> str:
    """The consumer group of the preference stage."""
    return f"{settings.streams_app_id}-preferences"


def preference_row(event: PreferenceEvent) -> dict[str, Any]:
    """The `user_preferences_fv` row of one event (names as `USER_PREFERENCE_FEATURES`)."""
    return {
        USER_COL: event.user_id,
        EVENT_TIMESTAMP_COL: event.ts,
        "boldness": event.boldness,
        "price_cap": event.price_cap,
        "never_categories": [str(category) for category in event.never_categories],
    }


def preference_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows → the DataFrame pushed to `user_preferences_push_source`."""
    frame = pd.DataFrame(rows, columns=[USER_COL, EVENT_TIMESTAMP_COL, *USER_PREFERENCE_FEATURES])
    frame[EVENT_TIMESTAMP_COL] = pd.to_datetime(frame[EVENT_TIMESTAMP_COL], utc=True)
    frame["price_cap"] = frame["price_cap"].astype("float64")
    return frame


class UserPreferencesService(BatchStage[tuple[list[dict[str, Any]], dict[TopicPartition, int]]]):
    """Each person's latest preference event, pushed to Feast, then committed."""

    name = "preferences"

    def __init__(self, app: faust.App, settings: Settings, **kwargs: Any) -> None:
        super().__init__(
            app,
            settings,
            group=preferences_group(settings),
            topics=[settings.topic_name(topics.PREFERENCE)],
            fetch_timeout_ms=int(min(100, settings.features_flush_s * 1000 / 2)),
            consumer_options={"fetch_max_wait_ms": LOW_LATENCY_FETCH_WAIT_MS},
            **kwargs,
        )
        self._rows: dict[TopicPartition, dict[str, dict[str, Any]]] = {}  # tp → person → row
        self._offsets: dict[TopicPartition, int] = {}  # next offset to commit per partition
        self._oldest: float | None = None
        self._store: Any = None
        self.erased = ErasedPeople(settings)

    async def on_start(self) -> None:
        self._store = await asyncio.to_thread(feature_store, self.settings)
        await asyncio.to_thread(self.erased.start)
        await super().on_start()

    async def on_stop(self) -> None:
        try:
            await super().on_stop()
        finally:
            self.erased.close()

    def add(self, records: Records) -> None:
        now = datetime.now(UTC)
        for tp, fetched in records.items():
            batch = validate_records(tp.topic, tp.partition,
                                     [(r.offset, r.value) for r in fetched],
                                     settings=self.settings, now=now)
            latest = self._rows.setdefault(tp, {})
            for event in batch.events:
                if isinstance(event, PreferenceEvent) and not self.erased.erased(event):
                    latest[event.user_id] = preference_row(event)
            self._offsets[tp] = batch.last_offset + 1
            if self._oldest is None:
                self._oldest = time.monotonic()

    def due(self) -> bool:
        return (self._oldest is not None
                and time.monotonic() - self._oldest >= self.settings.features_flush_s)

    async def prepare(
        self, partitions: Container[TopicPartition], *, drain: bool
    ) -> tuple[list[dict[str, Any]], dict[TopicPartition, int]] | None:
        """The latest rows and offsets of `partitions` (every waiting one once due)."""
        taken = [tp for tp in self._offsets if tp in partitions]
        if not taken:
            return None
        rows = [row for tp in taken for row in self._rows.pop(tp, {}).values()]
        offsets = {tp: self._offsets.pop(tp) for tp in taken}
        if not self._offsets:
            self._oldest = None
        return rows, offsets

    async def land(
        self, batch: tuple[list[dict[str, Any]], dict[TopicPartition, int]]
    ) -> dict[TopicPartition, int]:
        rows, offsets = batch
        rows = [row for row in rows if row[USER_COL] not in self.erased.ids]  # erased meanwhile
        if rows:
            await asyncio.to_thread(push_features, self._store, USER_PREFERENCES_PUSH_SOURCE,
                                    preference_frame(rows))
            PUSHED_PREFERENCES.inc(len(rows))
        return offsets


def register_user_preferences(app: faust.App, settings: Settings) -> UserPreferencesService:
    """Add the preference stage to a worker app; returns the service."""
    service = UserPreferencesService(app, settings)
    app.service(service)
    return service
