"""Trend counts stage: weighted counts per trend term and hour, into the lake and a live table.

Each validated event adds weight to its trend terms (`glamcast.core.trend_terms`: normalized hashtags
and brands of social posts, engagement-weighted; brand and category of shop events, weighted by
event type; category, finish and shade family of try-ons, weighted by action). The sums per
(hour, term_type, term, source) go to the lake dataset `trend_counts`, and their increments to a
live windowed Faust table, `trending_now`, that serves "trending now" (last hour against the
same hour's baseline) at ``/trending-now/`` on the worker's web port.

Why counts never double after a crash (the lake part is exact, not just deduplicated later):
the counts of one source topic partition and one UTC date live in one lake file,
``trend_counts/date=D/<topic>-p<partition>.parquet``, rewritten atomically after each batch.
The file's metadata records the highest source offset it has counted (``through_offset``).
Only the partition's current owner writes it (the consumer group guarantees one), after the
batch's events are durable in the lake and before the batch's offsets are committed. A batch
replayed after a crash starts at the last committed offset, so its records at or below the
`through_offset` of their date were counted already and are skipped; the others are counted
now. Each source record is therefore counted exactly once, whatever the batch boundaries were,
and `glamcast.platform.lake.read_dataset(..., "trend_counts")` sums the partition files. Recomputing
hours from the deduplicated lake instead would need every worker to re-read whole hours after
every batch, and two workers writing the same hour file would race.

The live table is fed at least once: increments of a batch are sent after its lake files are
written, so a crash between the two can repeat one batch's increments in the live view (never
in the lake). Duplicated `event_id`s that arrive as *new* records (a producer sending the same
event twice) are counted twice here and deduplicated in the lake's event datasets; recompute
from `read_dataset` when that matters.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import faust
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from glamcast.core import trend_terms
from glamcast.core.names import (
    COMMERCE,
    EVENTS_COL,
    SOCIAL,
    TERM_COL,
    TERM_TYPE_COL,
    TREND_COUNTS,
    TRYON,
    TS_COL,
)
from glamcast.core.settings import Settings
from glamcast.platform import lake
from streams.lake_files import LakeFile

#: Arrow schema of per-event contributions (one row per event and term).
CONTRIBUTION_SCHEMA = pa.schema(
    [
        (lake.OFFSET_COL, pa.int64()),
        (lake.HOUR_COL, lake.TIMESTAMP),
        (TERM_TYPE_COL, pa.string()),
        (TERM_COL, pa.string()),
        (lake.WEIGHT_COL, pa.float64()),
    ]
)

#: Metadata key of a counts file: the highest source offset it has counted.
THROUGH_OFFSET_KEY = "glamcast.through_offset"

#: Where each event dataset's signal goes (catalog updates are product state, not a signal).
DATASET_SOURCES = {
    TRYON: trend_terms.TRYON_SOURCE,
    SOCIAL: trend_terms.SOCIAL_SOURCE,
    COMMERCE: trend_terms.COMMERCE_SOURCE,
}

_DAY_US = 86_400_000_000
_EPOCH = date(1970, 1, 1)

# --- contributions -----------------------------------------------------------------------------


def _map_values(
    column: pa.ChunkedArray | pa.Array, fun: Callable[[Any], Any], type_: pa.DataType
) -> pa.Array:
    """`fun` applied once per distinct value of `column`, spread back over its rows."""
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    mapped = pa.array(
        [None if v is None else fun(v) for v in encoded.dictionary.to_pylist()], type_
    )
    return mapped.take(encoded.indices)


def _terms(
    offsets: pa.Array, hours: pa.Array, weights: pa.Array, term_type: str, terms: pa.Array
) -> pa.Table:
    rows = pa.table(
        {
            lake.OFFSET_COL: offsets,
            lake.HOUR_COL: hours,
            TERM_TYPE_COL: pa.repeat(term_type, len(terms)),
            TERM_COL: terms,
            lake.WEIGHT_COL: weights,
        },
        schema=CONTRIBUTION_SCHEMA,
    )
    return rows.filter(pc.is_valid(rows[TERM_COL]))


def _list_terms(
    table: pa.Table,
    column: str,
    normalize: Callable[[str], str | None],
    term_type: str,
    hours: pa.Array,
    weights: pa.Array,
) -> pa.Table:
    """One row per event and distinct normalized term of a list column (``hashtags[]``)."""
    values = table[column]
    flat = pc.list_flatten(values)
    parents = pc.list_parent_indices(values)
    pairs = pa.table({"row": parents, "term": _map_values(flat, normalize, pa.string())})
    pairs = pairs.filter(pc.is_valid(pairs["term"])).group_by(["row", "term"]).aggregate([])
    rows = pairs["row"]
    return _terms(
        pc.take(table[lake.OFFSET_COL], rows),
        pc.take(hours, rows),
        pc.take(weights, rows),
        term_type,
        pairs["term"],
    )


def contributions(dataset: str, table: pa.Table) -> pa.Table:
    """Events of one lake dataset (its Arrow schema) → one row per event and trend term.

    Columns: `kafka_offset`, `hour` (start, UTC), `term_type`, `term`, `weight`. Datasets that
    are not signals (catalog) give no rows.
    """
    if dataset not in DATASET_SOURCES or table.num_rows == 0:
        return CONTRIBUTION_SCHEMA.empty_table()
    hours = pc.floor_temporal(table[TS_COL], unit="hour").combine_chunks()
    offsets = table[lake.OFFSET_COL].combine_chunks()
    parts: list[pa.Table] = []
    if dataset == TRYON:
        weights = _map_values(
            table["action"], trend_terms.TRYON_ACTION_WEIGHTS.__getitem__, pa.float64()
        )
        parts.append(
            _terms(
                offsets, hours, weights, trend_terms.CATEGORY, table["category"].combine_chunks()
            )
        )
        parts.append(
            _terms(offsets, hours, weights, trend_terms.FINISH, table["finish"].combine_chunks())
        )
        families = _map_values(table["shade_hex"], trend_terms.shade_family_term, pa.string())
        parts.append(_terms(offsets, hours, weights, trend_terms.SHADE_FAMILY, families))
    elif dataset == SOCIAL:
        engagement = {
            name: table[name].to_numpy().astype(np.float64)
            for name in trend_terms.SOCIAL_ENGAGEMENT
        }
        weights = pa.array(
            1.0
            + np.log1p(
                sum(
                    coefficient * engagement[name]
                    for name, coefficient in trend_terms.SOCIAL_ENGAGEMENT.items()
                )
            )
        )
        parts.append(
            _list_terms(
                table,
                "hashtags",
                trend_terms.normalize_hashtag,
                trend_terms.HASHTAG,
                hours,
                weights,
            )
        )
        parts.append(
            _list_terms(
                table, "brands", trend_terms.normalize_brand, trend_terms.BRAND, hours, weights
            )
        )
    elif dataset == COMMERCE:
        weights = _map_values(
            table["event_type"], trend_terms.COMMERCE_EVENT_WEIGHTS.__getitem__, pa.float64()
        )
        brands = _map_values(table["brand"], trend_terms.normalize_brand, pa.string())
        categories = _map_values(
            table["category_code"], trend_terms.category_from_code, pa.string()
        )
        parts.append(_terms(offsets, hours, weights, trend_terms.BRAND, brands))
        parts.append(_terms(offsets, hours, weights, trend_terms.CATEGORY, categories))
    return pa.concat_tables(parts)


# --- counts per source partition and date --------------------------------------------------------


def counts_file(topic: str, partition: int, day: date) -> str:
    """Lake-relative path of the counts of one source topic partition and date."""
    return f"{lake.partition_dir(TREND_COUNTS, day)}/{topic}-p{partition}.parquet"


@dataclass
class DayCounts:
    """Counts of one source partition and date: (hour_us, term_type, term) → [weight, events]."""

    source: str
    through_offset: int = -1
    sums: dict[tuple[int, str, str], list[float]] = field(default_factory=dict)

    @classmethod
    def from_table(cls, source: str, table: pa.Table | None) -> DayCounts:
        counts = cls(source)
        if table is None:
            return counts
        counts.through_offset = int(
            (table.schema.metadata or {}).get(THROUGH_OFFSET_KEY.encode(), b"-1")
        )
        hours = pc.cast(table[lake.HOUR_COL], pa.int64()).to_pylist()
        for hour, term_type, term, weight, events in zip(
            hours,
            table[TERM_TYPE_COL].to_pylist(),
            table[TERM_COL].to_pylist(),
            table[lake.WEIGHT_COL].to_pylist(),
            table[EVENTS_COL].to_pylist(),
            strict=True,
        ):
            counts.sums[(hour, term_type, term)] = [weight, events]
        return counts

    def to_table(self) -> pa.Table:
        keys = sorted(self.sums)
        return pa.table(
            {
                lake.HOUR_COL: pa.array([key[0] for key in keys], pa.int64()).cast(lake.TIMESTAMP),
                TERM_TYPE_COL: [key[1] for key in keys],
                TERM_COL: [key[2] for key in keys],
                lake.SOURCE_COL: pa.repeat(self.source, len(keys)),
                lake.WEIGHT_COL: pa.array([self.sums[key][0] for key in keys], pa.float64()),
                EVENTS_COL: pa.array([int(self.sums[key][1]) for key in keys], pa.int64()),
            },
            schema=lake.SCHEMAS[TREND_COUNTS],
        )


@dataclass(frozen=True)
class Increment:
    """Weight newly counted for one term in one hour (feeds the live table)."""

    term_type: str
    term: str
    hour_s: int
    weight: float


class TrendCounter:
    """Keeps the counts of the source partitions this worker owns, for the lake.

    Counts files are read when a (partition, date) is first touched, kept in memory (LRU of
    `max_days` entries) and rewritten after every batch that touches them.
    """

    def __init__(self, root: str, *, max_days: int = 512) -> None:
        self.root = root
        self.max_days = max_days
        self._days: OrderedDict[tuple[str, int, int], DayCounts] = OrderedDict()

    def _day(self, topic: str, partition: int, day: int, source: str) -> DayCounts:
        key = (topic, partition, day)
        counts = self._days.get(key)
        if counts is None:
            stored = lake.read_file(
                self.root, counts_file(topic, partition, _EPOCH + timedelta(days=day))
            )
            counts = self._days[key] = DayCounts.from_table(source, stored)
            while len(self._days) > self.max_days:
                self._days.popitem(last=False)
        self._days.move_to_end(key)
        return counts

    def count(
        self, dataset: str, topic: str, partition: int, events: pa.Table, last_offset: int
    ) -> tuple[list[Increment], list[LakeFile]]:
        """Count a batch of one partition: what was newly counted, and the counts files to write.

        `events` is the batch's lake table; `last_offset` the highest offset the batch read (valid
        or not), recorded as the counted-through offset of every date the batch touched. The
        files must be written before the batch's offsets are committed.
        """
        source = DATASET_SOURCES.get(dataset)
        rows = contributions(dataset, events)
        if source is None or rows.num_rows == 0:
            return [], []
        days = pc.cast(rows[lake.HOUR_COL], pa.int64()).to_numpy() // _DAY_US
        touched = np.unique(days)
        states = [self._day(topic, partition, int(day), source) for day in touched]
        through = np.array([state.through_offset for state in states], dtype=np.int64)
        fresh = rows.filter(
            pa.array(rows[lake.OFFSET_COL].to_numpy() > through[np.searchsorted(touched, days)])
        )
        summed = fresh.group_by([lake.HOUR_COL, TERM_TYPE_COL, TERM_COL]).aggregate(
            [(lake.WEIGHT_COL, "sum"), (lake.WEIGHT_COL, "count")]
        )
        by_day = dict(zip(touched.tolist(), states, strict=True))
        changed: set[int] = set()
        increments: dict[tuple[str, str, int], float] = {}
        for hour, term_type, term, weight, events_n in zip(
            pc.cast(summed[lake.HOUR_COL], pa.int64()).to_pylist(),
            summed[TERM_TYPE_COL].to_pylist(),
            summed[TERM_COL].to_pylist(),
            summed[f"{lake.WEIGHT_COL}_sum"].to_pylist(),
            summed[f"{lake.WEIGHT_COL}_count"].to_pylist(),
            strict=True,
        ):
            day = hour // _DAY_US
            total = by_day[day].sums.setdefault((hour, term_type, term), [0.0, 0])
            total[0] += weight
            total[1] += events_n
            changed.add(day)
            key = (term_type, term, hour // 1_000_000)
            increments[key] = increments.get(key, 0.0) + weight
        files = []
        for day, state in by_day.items():
            if day not in changed and state.through_offset >= last_offset:
                continue  # a replay of what this file already holds
            state.through_offset = max(state.through_offset, last_offset)
            files.append(
                LakeFile(
                    counts_file(topic, partition, _EPOCH + timedelta(days=day)),
                    state.to_table(),
                    {THROUGH_OFFSET_KEY: str(state.through_offset)},
                )
            )
        return [
            Increment(t, term, hour, weight) for (t, term, hour), weight in increments.items()
        ], files

    def forget(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Drop the counts of partitions this worker no longer owns (their files stay)."""
        gone = set(partitions)
        for key in [key for key in self._days if (key[0], key[1]) in gone]:
            del self._days[key]


# --- the live table ------------------------------------------------------------------------------

LIVE_TABLE = "trending_now"
LIVE_RETENTION = timedelta(days=8)  # the baseline looks back 7 days


def increments_topic(settings: Settings) -> str:
    """The internal topic feeding the live table (one partition; `streams.app.ensure_topics`)."""
    return f"{settings.streams_app_id}-trend-increments"


class TrendIncrements(faust.Record, serializer="json"):
    """Weights newly counted in one hour, per ``"term_type:term"``, on the live-table topic."""

    hour: float  # start of the hour, epoch seconds
    weights: dict[str, float]


@dataclass
class LiveTrends:
    """The live table, its input topic and a reader for the "trending now" ranking."""

    topic: faust.TopicT
    table: Any  # faust WindowWrapper over the table `trending_now`

    async def publish(self, increments: Iterable[Increment]) -> None:
        """Send increments to the table's topic, one message per hour (hours older than the
        table keeps are left out); returns once the producer acknowledged them."""
        by_hour: dict[int, dict[str, float]] = {}
        for item in increments:
            weights = by_hour.setdefault(item.hour_s, {})
            key = f"{item.term_type}:{item.term}"
            weights[key] = weights.get(key, 0.0) + item.weight
        if not by_hour:
            return
        oldest = max(by_hour) - int(LIVE_RETENTION.total_seconds())  # older windows are expired
        pending = [
            await self.topic.send(
                key=str(hour), value=TrendIncrements(hour=float(hour), weights=weights)
            )
            for hour, weights in sorted(by_hour.items())
            if hour >= oldest
        ]
        for future in pending:
            await future

    def hourly(self) -> dict[tuple[str, str], dict[int, float]]:
        """Weights per term and hour held by this worker's active table partitions."""
        result: dict[tuple[str, str], dict[int, float]] = {}
        for (key, (start, _end)), weight in list(self.table.table.items()):
            term_type, term = key.split(":", 1)
            result.setdefault((term_type, term), {})[int(start)] = float(weight)
        return result


def register_live_table(app: faust.App, settings: Settings) -> LiveTrends:
    """The `trending_now` windowed table (hourly, 8 days), its agent and its web page.

    One partition: increments are a few hundred per batch, and one owner can then rank every
    term; the page routes to whichever worker owns it.
    """
    topic = app.topic(
        increments_topic(settings), value_type=TrendIncrements, key_type=str, partitions=1
    )
    table = (
        app.Table(
            LIVE_TABLE,
            default=float,
            partitions=1,
            key_type=str,
            value_type=float,
            help="Trend weight per term and hour (live).",
        )
        .tumbling(timedelta(hours=1), expires=LIVE_RETENTION)
        .relative_to_field(TrendIncrements.hour)
    )
    live = LiveTrends(topic, table)

    @app.agent(topic, name="trending_now_counter")
    async def trending_now_counter(stream: faust.StreamT[TrendIncrements]) -> None:
        async for item in stream:
            for key, weight in item.weights.items():
                table[key] += weight  # the window of `item.hour`

    @app.page("/trending-now/")
    @app.table_route(table=table, exact_key="trending-now")
    async def trending_now_page(web: Any, request: Any) -> Any:
        hour = request.query.get("hour")
        limit = int(request.query.get("limit", 20))
        ranked = trend_terms.trending_now(
            live.hourly(), as_of_hour=int(float(hour)) if hour else None, limit=limit
        )
        return web.json(
            {
                "as_of_hour": ranked[0].hour if ranked else None,
                "terms": [
                    {
                        "term_type": item.term_type,
                        "term": item.term,
                        "weight": item.weight,
                        "baseline": item.baseline,
                        "score": item.score,
                    }
                    for item in ranked
                ],
            }
        )

    return live
