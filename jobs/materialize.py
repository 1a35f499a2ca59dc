"""Feast materialization: term trend scores and the champion's embeddings into the online store.

Reads
    The lake dataset `trend_counts` over the `baseline_days` + 1 days before `end`, and the
    embedding tables of the champion recommender (``<lake>/embeddings/users``, ``.../items``,
    written by jobs/train_recommender).

Does
    Scores every term of the last complete hour with data before `end` as "trending now"
    (`glamcast.core.trend_terms.trending_now`: weight against the same hour on earlier days), then
    materializes the batch feature views (`term_trends_fv`,
    `user_embedding_fv`, `item_embedding_fv`) over the longest TTL before `end` for the active
    profile's stores.
    The stream-fed views (user activity, product popularity) need none: they are pushed.

Writes
    ``<lake>/features/term_trends`` (term = ``term_type:term``, event_timestamp = end of the
    scored hour, trend_score, trend_weight; rows of an hour scored again are replaced), and the
    online store. Logs the data window and the row counts.

Entry points: ``glamcast features materialize`` and ``spark-submit jobs/materialize.py [--end ISO]``
(the Spark offline store of `prod` starts its own session); tests call `materialize`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import typer

from glamcast.core.features import TERM_FEATURES, feature_schema
from glamcast.core.names import TERM_COL, TREND_COUNTS
from glamcast.core.settings import Profile, Settings, get_settings
from glamcast.core.trend_terms import HOUR_S, hourly_weights, trending_now
from glamcast.platform import lake
from glamcast.platform.commands import console, run_command_line
from glamcast.platform.features import feature_store, load_repo

log = logging.getLogger(__name__)

BATCH_VIEWS = ("term_trends_fv", "user_embedding_fv", "item_embedding_fv")


@dataclass
class MaterializeResult:
    """What a run read and wrote (the CLI prints it)."""

    start: str
    end: str
    trend_count_rows: int = 0
    scored_hour: str | None = None
    term_rows: int = 0
    views: list[str] = field(default_factory=list)


def term_trend_rows(trend_counts: pd.DataFrame, end: datetime) -> tuple[pd.DataFrame, int | None]:
    """Trending-now rows of the last complete hour with data before `end`, and that hour."""
    schema = feature_schema(TERM_COL, TERM_FEATURES)
    complete = trend_counts[
        pd.to_datetime(trend_counts[lake.HOUR_COL], utc=True) + timedelta(hours=1) <= end
    ]
    weights = hourly_weights(complete)
    ranked = trending_now(weights, limit=None) if weights else []
    if not ranked:
        return schema.empty_table().to_pandas(), None
    hour = ranked[0].hour
    frame = pd.DataFrame(
        {
            TERM_COL: [f"{t.term_type}:{t.term}" for t in ranked],
            "event_timestamp": pd.Timestamp(hour + HOUR_S, unit="s", tz="UTC"),
            "trend_score": [float(t.score) for t in ranked],
            "trend_weight": [float(t.weight) for t in ranked],
        }
    )
    return frame, hour


def write_term_trends(settings: Settings, frame: pd.DataFrame) -> None:
    """Add one scored hour to the `term_trends` table (replacing that hour if scored before)."""
    repo = load_repo(settings)
    relative = repo.data_sources.table_path(
        settings.profile.value, repo.data_sources.TERM_TRENDS_TABLE
    )
    schema = feature_schema(TERM_COL, TERM_FEATURES)
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    fs, base = lake.filesystem(settings.lake_root)
    hour = frame["event_timestamp"].iloc[0]
    if settings.profile is Profile.LOCAL:  # one file: rewrite it atomically
        path = f"{base}/{relative}"
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        if fs.get_file_info(path).type == pafs.FileType.File:
            old = pq.read_table(path, filesystem=fs).to_pandas()
            old = old[old["event_timestamp"] != hour]
            table = pa.concat_tables(
                [pa.Table.from_pandas(old, schema=schema, preserve_index=False), table]
            )
        lake.write_file(settings.lake_root, relative, table)
    else:  # a directory: one part file per scored hour (rewritten if scored again)
        name = f"hour-{int(hour.timestamp())}.parquet"
        lake.write_file(settings.lake_root, f"{relative}/{name}", table)


def materialize(
    settings: Settings, end: datetime | None = None, baseline_days: int = 7
) -> MaterializeResult:
    """Score the last complete hour's terms and materialize the batch views up to `end` (now)."""
    end = (end or datetime.now(UTC)).astimezone(UTC)
    start = end - timedelta(days=baseline_days + 1)
    result = MaterializeResult(start=start.isoformat(), end=end.isoformat())
    counts = lake.read_dataset(settings, TREND_COUNTS, start=start, end=end)
    result.trend_count_rows = len(counts)
    frame, hour = term_trend_rows(counts, end)
    if hour is not None:
        write_term_trends(settings, frame)
        result.scored_hour = datetime.fromtimestamp(hour, UTC).isoformat()
        result.term_rows = len(frame)
    log.info(
        "trend_counts %s..%s: %d rows; scored hour %s: %d terms",
        result.start,
        result.end,
        result.trend_count_rows,
        result.scored_hour,
        result.term_rows,
    )
    store = feature_store(settings)
    # An explicit range rather than materialize_incremental, whose first run starts at wall-clock
    # now - ttl: a backfill or a replayed lake (event times in the past) would load nothing.
    ttl = max(store.get_feature_view(name).ttl or timedelta(0) for name in BATCH_VIEWS)
    with warnings.catch_warnings():
        # Feast's file offline store calls dask's bfill on object columns, which warns of a
        # pandas change on every run; nothing here can act on it.
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"dask\.")
        store.materialize(start_date=end - ttl, end_date=end, feature_views=list(BATCH_VIEWS))
    result.views = list(BATCH_VIEWS)
    return result


def command(
    end: Annotated[datetime | None, typer.Option(help="End of the window (UTC); default now.")] = None,
) -> MaterializeResult:
    """Score trending terms and load the batch feature views into the online store."""
    result = materialize(get_settings(), end)
    console.print(f"trend_counts {result.start} .. {result.end}: {result.trend_count_rows} rows; "
                  f"scored hour {result.scored_hour}: {result.term_rows} terms; "
                  f"materialized {', '.join(result.views)}")
    return result


def main(argv: Sequence[str] | None = None) -> None:
    """``spark-submit jobs/materialize.py [--end ISO]``: the options of
    ``glamcast features materialize``."""
    logging.basicConfig(level=logging.INFO)
    run_command_line(command, argv, prog_name="materialize.py")


if __name__ == "__main__":
    main()
