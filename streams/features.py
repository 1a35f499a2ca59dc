"""The feature stage: try-on events → windowed user and product aggregates → Feast online store,
then the offline store.

A batch stage (streams.batch_stage) beside the lake sink, with its own consumer group
``<app id>-features`` on the try-on topic (so it neither slows nor changes the lake sink).

Window state is incremental (`SlidingWindows`): per user and per product, counters over the
1 h / 24 h / 7 d windows ending at the key's latest event, plus a heap of the events inside each
window to evict them from the counters when the key's latest event moves on. An event is counted
once per `event_id` while it is inside the 7 d window, and an event older than a window's start
never enters it, so out-of-order and replayed events give exactly the values of
`models.activity_features.user_activity_features` / `product_popularity_features` over the same events
(tests/unit/streams/test_features.py checks the two against each other). A push therefore costs
per touched key, not per event held.

Three loops, so that the slow parts never hold up the fast ones:

- consume (the batch-stage loop, `add`): validate, add to the state, note the keys touched; it
  never waits for a push;
- online push (`_push_online`): at most `features_flush_s` after the first waiting event,
  snapshot the touched keys' feature rows and write them to the online store
  (`glamcast.platform.features.write_online`). While a push is in flight, events keep arriving
  and the next push covers all of them, so the freshness is about one flush interval plus one
  push, whatever the rate;
- offline append (the batch-stage loop's landing, `prepare` and `land`, in the background): every
  `features_offline_flush_s`, the rows pushed online since the last append go to the offline
  store in one write (the `local` file offline store rewrites its file per append, so per push it
  would be quadratic), and only then are the offsets they came from committed. The offline store
  may therefore lag the online one by that interval. A revocation or the stop pushes, appends
  and commits everything read so far.

At least once: a crash replays from the last commit, the replayed events are deduplicated
while the state holds their keys, and rows are pushed again (an online write is idempotent).

Restart: window state is rebuilt from the lake when partitions are assigned (`on_assigned`,
`bootstrap_events`; records fetched meanwhile wait for it): the try-on events the lake holds for
those partitions below the group's committed offset, over the longest window before the
partition's latest event, so a restarted worker pushes full windows and not only what it reads
from then on. What the lake sink has not landed yet is read again from Kafka (the consumer is
moved back to the lake's committed offset when that is lower).

`register_features(app, settings)` adds the service when `features_enabled(settings)`: the
setting `streams_features`, or, when unset, once the Feast repository has been applied.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import faust
import pyarrow.compute as pc
import pyarrow.fs as pafs
from aiokafka import TopicPartition
from mode import Service
from prometheus_client import Counter, Histogram

from glamcast.core import topics
from glamcast.core.features import (
    ACTION_KINDS,
    CATEGORIES,
    CATEGORY_KINDS,
    EVENT_COLUMNS,
    LONGEST_WINDOW,
    PRODUCT_POPULARITY_VIEW,
    PRODUCT_WINDOWS,
    USER_ACTIVITY_VIEW,
    USER_WINDOWS,
)
from glamcast.core.names import DATE_COL, EVENT_TIMESTAMP_COL, PRODUCT_COL, TRYON, USER_COL
from glamcast.core.settings import Profile, Settings
from glamcast.core.shades import shade_family
from glamcast.platform import lake
from glamcast.platform.broker import LOW_LATENCY_FETCH_WAIT_MS, admin_client
from glamcast.platform.erasure import ErasedPeople
from glamcast.platform.features import feast_dir, feature_store, write_offline, write_online
from streams import metrics
from streams.batch_stage import RECORD_ERRORS, BatchStage, Records
from streams.ingestion import committed_offsets
from streams.user_preferences import register_user_preferences
from streams.validated_events import validate_records

log = logging.getLogger(__name__)

PUSHED_ROWS = Counter(
    "glamcast_features_pushed_rows", "Feature rows written to the online store.", ["view"]
)
PUSH_SECONDS = Histogram(
    "glamcast_features_push_seconds",
    "Time to write one flush of feature rows to the online store.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
OFFLINE_SECONDS = Histogram(
    "glamcast_features_offline_append_seconds",
    "Time to append the rows pushed since the last append to the offline store.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

_KIND_OF_ACTION = {action: kind for kind, actions in ACTION_KINDS for action in actions}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
FAMILY_TAG = "family="
FINISH_TAG = "finish="


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


# --- incremental window state ---------------------------------------------------------------------


@lru_cache(maxsize=65_536)
def _family(shade_hex: str) -> str:
    return shade_family(shade_hex)


@dataclass(frozen=True, slots=True)
class WindowEvent:
    """What one try-on event adds to a key's windows: `tags[i]` are the counters it increments
    in window i (shortest first); dwell and consented face for the longest window."""

    event_id: str
    ts: datetime
    tags: tuple[tuple[str, ...], ...]
    dwell_ms: int | None = None
    skin_tone: int | None = None
    undertone: str | None = None


def user_window_event(
    event_id: str,
    ts: datetime,
    action: str,
    category: str,
    shade_hex: str,
    finish: str,
    dwell_ms: int | None,
    skin_tone: int | None,
    undertone: str | None,
) -> WindowEvent:
    """A try-on event as the user's windows count it (1 h, 24 h, 7 d)."""
    kind = _KIND_OF_ACTION.get(action)
    short = (kind,) if kind else ()
    week = [f"{FAMILY_TAG}{_family(shade_hex)}", f"{FINISH_TAG}{finish}"]
    if kind:
        week.append(kind)
        if kind in CATEGORY_KINDS:
            week.append(f"{kind}_7d_{category}")
    return WindowEvent(event_id, ts, (short, short, tuple(week)), dwell_ms, skin_tone, undertone)


def product_window_event(event_id: str, ts: datetime, action: str) -> WindowEvent:
    """A try-on event as the product's windows count it (24 h, 7 d)."""
    kind = _KIND_OF_ACTION.get(action)
    tags = (kind,) if kind else ()
    return WindowEvent(event_id, ts, (tags, tags))


class SlidingWindows:
    """Exact counters of one key over windows ``T - w < ts <= T``, ``T`` its latest event.

    `T` only moves forward, so an event that is outside a window when it arrives stays outside;
    events inside are kept in a heap per window and leave the counters once ``ts <= T - w``.
    """

    __slots__ = ("counts", "dwell_n", "dwell_sum", "face", "heaps", "ids", "latest")

    def __init__(self, windows: int) -> None:
        self.latest: datetime | None = None
        self.ids: set[str] = set()  # events inside the longest window (the dedup set)
        self.heaps: list[list[tuple[datetime, str, WindowEvent]]] = [[] for _ in range(windows)]
        self.counts: list[dict[str, int]] = [{} for _ in range(windows)]
        self.dwell_sum = 0
        self.dwell_n = 0
        # the latest (ts, event_id) with a skin tone in the longest window
        self.face: WindowEvent | None = None

    def add(self, event: WindowEvent, lengths: Sequence[timedelta]) -> bool:
        """Count `event`; False when it changes nothing (a replay, or older than every window)."""
        if event.event_id in self.ids:
            return False
        if self.latest is None or event.ts > self.latest:
            self.latest = event.ts
            self._evict(lengths)
        changed = False
        for heap, counts, length, tags in zip(
            self.heaps, self.counts, lengths, event.tags, strict=True
        ):
            if event.ts <= self.latest - length:
                continue
            heapq.heappush(heap, (event.ts, event.event_id, event))
            for tag in tags:
                counts[tag] = counts.get(tag, 0) + 1
            changed = True
        if changed:  # inside the longest window, since the windows are nested
            self.ids.add(event.event_id)
            if event.dwell_ms is not None:
                self.dwell_sum += event.dwell_ms
                self.dwell_n += 1
            if event.skin_tone is not None and (
                self.face is None or (event.ts, event.event_id) > (self.face.ts, self.face.event_id)
            ):
                self.face = event
        return changed

    def _evict(self, lengths: Sequence[timedelta]) -> None:
        assert self.latest is not None
        last = len(lengths) - 1
        for i, (heap, counts, length) in enumerate(zip(self.heaps, self.counts, lengths)):
            cutoff = self.latest - length
            while heap and heap[0][0] <= cutoff:
                event = heapq.heappop(heap)[2]
                for tag in event.tags[i]:
                    left = counts[tag] - 1
                    if left:
                        counts[tag] = left
                    else:
                        del counts[tag]
                if i == last:
                    self.ids.discard(event.event_id)
                    if event.dwell_ms is not None:
                        self.dwell_sum -= event.dwell_ms
                        self.dwell_n -= 1
            if i == last and self.face is not None and self.face.ts <= cutoff:
                # the latest face event left, so every earlier one did too
                self.face = None

    def mode(self, prefix: str) -> str | None:
        """Most frequent tagged value in the longest window, ties to the alphabetically first."""
        best: tuple[int, str] | None = None
        for tag, n in self.counts[-1].items():
            if tag.startswith(prefix):
                candidate = (-n, tag[len(prefix) :])
                if best is None or candidate < best:
                    best = candidate
        return None if best is None else best[1]


class KeyedWindows:
    """`SlidingWindows` per key, and which keys changed since the last snapshot."""

    def __init__(self, lengths: Sequence[timedelta]) -> None:
        self.lengths = tuple(lengths)
        self.keys: dict[str, SlidingWindows] = {}
        self.touched: set[str] = set()

    def add(self, key: str, event: WindowEvent, *, touch: bool = True) -> None:
        state = self.keys.get(key)
        if state is None:
            state = self.keys[key] = SlidingWindows(len(self.lengths))
        if state.add(event, self.lengths) and touch:
            self.touched.add(key)

    def take_touched(self) -> list[tuple[str, SlidingWindows]]:
        touched, self.touched = self.touched, set()
        return [(key, self.keys[key]) for key in touched]


USER_LENGTHS = tuple(length for _, length in USER_WINDOWS)
PRODUCT_LENGTHS = tuple(length for _, length in PRODUCT_WINDOWS)


def user_feature_row(user_id: str, state: SlidingWindows) -> dict[str, Any]:
    """The `user_activity_fv` row of one user (names as `glamcast.core.features.USER_FEATURES`)."""
    assert state.latest is not None
    row: dict[str, Any] = {USER_COL: user_id, EVENT_TIMESTAMP_COL: state.latest}
    for (suffix, _), counts in zip(USER_WINDOWS, state.counts, strict=True):
        for kind, _ in ACTION_KINDS:
            row[f"{kind}_{suffix}"] = counts.get(kind, 0)
    week = state.counts[-1]
    for kind in CATEGORY_KINDS:
        for category in CATEGORIES:
            row[f"{kind}_7d_{category}"] = week.get(f"{kind}_7d_{category}", 0)
    row["events_7d"] = len(state.ids)
    row["fav_shade_family_7d"] = state.mode(FAMILY_TAG)
    row["fav_finish_7d"] = state.mode(FINISH_TAG)
    row["mean_dwell_ms_7d"] = state.dwell_sum / state.dwell_n if state.dwell_n else None
    face = state.face
    row["skin_tone"] = None if face is None else face.skin_tone
    row["undertone"] = None if face is None else face.undertone
    row["last_event_ms"] = (state.latest - _EPOCH) // _MS
    return row


def product_feature_row(product_id: str, state: SlidingWindows) -> dict[str, Any]:
    """The `product_popularity_fv` row of one product."""
    assert state.latest is not None
    row: dict[str, Any] = {PRODUCT_COL: product_id, EVENT_TIMESTAMP_COL: state.latest}
    for (suffix, _), counts in zip(PRODUCT_WINDOWS, state.counts, strict=True):
        for kind, _ in ACTION_KINDS:
            row[f"product_{kind}_{suffix}"] = counts.get(kind, 0)
    tries, purchases = row["product_tries_7d"], row["product_purchases_7d"]
    row["product_conversion_7d"] = purchases / tries if tries else 0.0
    return row


def event_row(event: Any) -> tuple:
    """A validated try-on event → a tuple in `EVENT_COLUMNS` order (`FeatureState.add`'s
    arguments; the feed stage keeps the same rows)."""
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
        None if face is None else face.skin_tone,
        None if face is None or face.undertone is None else str(face.undertone),
    )


class FeatureState:
    """The stage's window state: users and products, fed with validated try-on events."""

    def __init__(self) -> None:
        self.users = KeyedWindows(USER_LENGTHS)
        self.products = KeyedWindows(PRODUCT_LENGTHS)

    def add(
        self,
        event_id: str,
        ts: datetime,
        user_id: str,
        product_id: str,
        action: str,
        category: str,
        shade_hex: str,
        finish: str,
        dwell_ms: int | None,
        skin_tone: int | None,
        undertone: str | None,
        *,
        touch: bool = True,
    ) -> None:
        """Add one try-on event (the `EVENT_COLUMNS` values, in order)."""
        self.users.add(
            user_id,
            user_window_event(
                event_id, ts, action, category, shade_hex, finish, dwell_ms, skin_tone, undertone
            ),
            touch=touch,
        )
        self.products.add(product_id, product_window_event(event_id, ts, action), touch=touch)

    def add_event(self, event: Any) -> None:
        """Add a validated try-on event (`glamcast.core.events`)."""
        self.add(*event_row(event))

    def snapshot(self) -> FeatureRows:
        """The feature rows of the keys touched since the last snapshot."""
        return FeatureRows(
            users=[user_feature_row(key, state) for key, state in self.users.take_touched()],
            products=[
                product_feature_row(key, state) for key, state in self.products.take_touched()
            ],
        )

    @property
    def touched(self) -> int:
        return len(self.users.touched) + len(self.products.touched)


@dataclass
class FeatureRows:
    """Feature rows of one push, and the offsets (next to read) of the events they include."""

    users: list[dict[str, Any]] = field(default_factory=list)
    products: list[dict[str, Any]] = field(default_factory=list)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)

    def extend(self, other: FeatureRows) -> None:
        self.users.extend(other.users)
        self.products.extend(other.products)
        for tp, offset in other.offsets.items():
            self.offsets[tp] = max(offset, self.offsets.get(tp, 0))


def push_online(store: Any, rows: FeatureRows) -> None:
    """Write one snapshot to the online store (blocking; run off the event loop)."""
    for view, frame in ((USER_ACTIVITY_VIEW, rows.users), (PRODUCT_POPULARITY_VIEW, rows.products)):
        if frame:
            write_online(store, view, frame)
            PUSHED_ROWS.labels(view).inc(len(frame))


def append_offline(store: Any, rows: FeatureRows) -> None:
    """Append the rows of several pushes to the offline store in one write per view (blocking)."""
    for view, frame in ((USER_ACTIVITY_VIEW, rows.users), (PRODUCT_POPULARITY_VIEW, rows.products)):
        if frame:
            write_offline(store, view, frame)


def group_offsets(
    settings: Settings,
) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
    """Committed offsets ``{(topic, partition): next offset}`` of the feature stage's group and
    of the lake sink's."""
    admin = admin_client(settings)
    try:
        group = features_group(settings)
        pushed = admin.list_group_offsets(group).get(group, {})
        landed = committed_offsets(settings, admin)
    finally:
        admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in pushed.items()}, landed


def bootstrap_events(settings: Settings, below: dict[int, int]) -> list[tuple[Any, ...]]:
    """Lake try-on events (`EVENT_COLUMNS` order) of partition p with offset < `below[p]`, over
    the longest window (and a day of slack) before the last day the lake holds."""
    fs, base = lake.filesystem(lake.lake_root(settings))
    root = f"{base}/{TRYON}"
    if fs.get_file_info(root).type == pafs.FileType.NotFound:
        return []
    days = [
        info.base_name.removeprefix(f"{DATE_COL}=")
        for info in fs.get_file_info(pafs.FileSelector(root))
        if info.type == pafs.FileType.Directory and info.base_name.startswith(f"{DATE_COL}=")
    ]
    if not days:
        return []
    start = (
        datetime.fromisoformat(max(days)).replace(tzinfo=UTC) - LONGEST_WINDOW - timedelta(days=1)
    )
    table = lake.read_table(
        settings,
        TRYON,
        start=start,
        columns=[*EVENT_COLUMNS, lake.PARTITION_COL, lake.OFFSET_COL],
    )
    keep = None
    for partition, offset in below.items():
        wanted = pc.and_(
            pc.equal(table[lake.PARTITION_COL], partition), pc.less(table[lake.OFFSET_COL], offset)
        )
        keep = wanted if keep is None else pc.or_(keep, wanted)
    if keep is None:
        return []
    table = table.filter(keep).select(list(EVENT_COLUMNS))
    return list(zip(*(table[name].to_pylist() for name in EVENT_COLUMNS), strict=True))


class FeaturesService(BatchStage[FeatureRows]):
    """Windowed user and product features from the try-on topic, pushed to Feast.

    The batch-stage loop consumes into the window state (`add`) and lands the offline appends
    (`prepare`, `land`: every `features_offline_flush_s`, in the background); the online pushes
    are this service's own loop."""

    name = "feature"

    def __init__(self, app: faust.App, settings: Settings, **kwargs: Any) -> None:
        super().__init__(
            app,
            settings,
            group=features_group(settings),
            topics=[settings.topic_name(topics.TRYON)],
            fetch_timeout_ms=int(min(100, settings.features_flush_s * 1000 / 2)),
            consumer_options={"fetch_max_wait_ms": LOW_LATENCY_FETCH_WAIT_MS},
            **kwargs,
        )
        self.windows = FeatureState()
        self._offsets: dict[TopicPartition, int] = {}  # consumed, not pushed yet
        self._oldest: float | None = None  # when the oldest unpushed event arrived
        self._pushed = FeatureRows()  # pushed online, waiting for the offline append
        self._last_append = time.monotonic()
        self._push_lock = asyncio.Lock()
        self._store: Any = None
        self._offline_store: Any = None  # its own client: appends run beside online pushes
        self.erased = ErasedPeople(settings)  # whose events never enter the windows again

    async def on_start(self) -> None:
        self._store = await asyncio.to_thread(feature_store, self.settings)
        self._offline_store = await asyncio.to_thread(feature_store, self.settings)
        await asyncio.to_thread(self.erased.start)
        await super().on_start()

    async def on_stop(self) -> None:
        try:
            await super().on_stop()
        finally:
            self.erased.close()

    async def on_assigned(self, assigned: set[TopicPartition]) -> None:
        """Rebuild the assigned partitions' window state from the lake (see the module doc)."""
        consumer = self.consumer
        if consumer is None or not assigned:
            return
        started = time.perf_counter()
        pushed, landed = await asyncio.to_thread(group_offsets, self.settings)
        committed = {tp: pushed.get((tp.topic, tp.partition), 0) for tp in assigned}
        below = {tp.partition: offset for tp, offset in committed.items() if offset > 0}
        if not below:
            log.info("feature state: nothing committed yet, nothing to bootstrap")
            return
        rows = await asyncio.to_thread(bootstrap_events, self.settings, below)
        for row in rows:
            self.windows.add(*row, touch=False)
        for tp, offset in committed.items():
            in_lake = max(landed.get((tp.topic, tp.partition), 0), 0)
            if offset > 0 and in_lake < offset:  # not landed yet: read those events again
                consumer.seek(tp, in_lake)
        log.info(
            "feature state bootstrapped from %d lake events (below offsets %s) in %.1f s",
            len(rows),
            dict(sorted(below.items())),
            time.perf_counter() - started,
        )

    def add(self, records: Records) -> None:
        """Validate, add to the window state, note the offsets; never waits for a push."""
        now = datetime.now(UTC)
        for tp, fetched in records.items():
            batch = validate_records(
                tp.topic,
                tp.partition,
                [(r.offset, r.value) for r in fetched],
                settings=self.settings,
                now=now,
            )
            for event in batch.events:
                if self.erased.erased(event):
                    continue
                try:
                    self.windows.add_event(event)
                except RECORD_ERRORS:  # kept by the lake; the windows go on without it
                    log.exception("event %s skipped by the feature state", event.event_id)
                    metrics.POISON.labels("features", tp.topic).inc()
            self._offsets[tp] = batch.last_offset + 1
            if self._oldest is None:
                self._oldest = time.monotonic()

    @Service.task
    async def _push_online(self) -> None:
        """Online pushes, at most `features_flush_s` after the oldest waiting event (at once when
        a push in flight made it wait longer)."""
        flush_s = self.settings.features_flush_s
        while not self.should_stop:
            oldest = self._oldest
            if oldest is not None and time.monotonic() - oldest >= flush_s:
                await self.push()
            else:
                await asyncio.sleep(min(flush_s / 5, 0.02))

    async def push(self) -> None:
        """Write the touched keys' rows to the online store."""
        async with self._push_lock:
            if not self._offsets:
                return
            rows = self.windows.snapshot()
            rows.offsets, self._offsets, self._oldest = self._offsets, {}, None
            started = time.perf_counter()
            await asyncio.to_thread(push_online, self._store, rows)
            PUSH_SECONDS.observe(time.perf_counter() - started)
            self._pushed.extend(rows)

    def due(self) -> bool:
        """An offline append every `features_offline_flush_s`, once the one before it ended."""
        elapsed = time.monotonic() - self._last_append
        return not self.landing and elapsed >= self.settings.features_offline_flush_s

    async def prepare(
        self, partitions: Container[TopicPartition], *, drain: bool
    ) -> FeatureRows | None:
        """What was pushed online since the last append; with `drain`, everything read so far
        is pushed first (every partition's: the state is shared by the keys, not partitions)."""
        if drain:
            await self.push()
        rows, self._pushed = self._pushed, FeatureRows()
        self._last_append = time.monotonic()
        return rows if rows.offsets else None

    async def land(self, rows: FeatureRows) -> dict[TopicPartition, int]:
        """Append what was pushed online to the offline store; its offsets are then committed."""
        started = time.perf_counter()
        await asyncio.to_thread(append_offline, self._offline_store, rows)
        OFFLINE_SECONDS.observe(time.perf_counter() - started)
        return rows.offsets


def register_features(app: faust.App, settings: Settings) -> FeaturesService | None:
    """Add the feature stage to a worker app when `features_enabled`, with the preference stage
    (streams/user_preferences: explicit preferences → `user_preferences_fv`); returns the
    feature service."""
    if not features_enabled(settings):
        return None
    service = FeaturesService(app, settings)
    app.service(service)
    register_user_preferences(app, settings)
    return service
