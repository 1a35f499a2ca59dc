"""Data sources: push sources fed by the streams, batch sources on the lake.

`local` reads single Parquet files with the file offline store; `prod` reads Parquet
directories with the Spark offline store. The push sources' batch sources are where pushed rows
land offline (`PushMode.ONLINE_AND_OFFLINE`).
"""

from __future__ import annotations

from dataclasses import dataclass

from feast import FileSource, PushSource
from feast.data_source import DataSource
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource

from glamcast.core.features import (
    EMBEDDING_COLUMNS,
    ITEM_EMBEDDING_FEATURES,
    PRODUCT_POPULARITY_PUSH_SOURCE,
    USER_ACTIVITY_PUSH_SOURCE,
    USER_EMBEDDING_FEATURES,
    USER_HISTORY_PUSH_SOURCE,
    USER_PREFERENCES_PUSH_SOURCE,
)
from glamcast.core.names import EVENT_TIMESTAMP_COL

#: Offline tables, relative to the lake root. Push sources are single files in `local` (the file
#: offline store appends to one file) and directories in `prod` (Spark appends part files).
USER_ACTIVITY_TABLE = "features/user_activity"
PRODUCT_POPULARITY_TABLE = "features/product_popularity"
TERM_TRENDS_TABLE = "features/term_trends"
USER_HISTORY_TABLE = "features/user_history"
USER_PREFERENCES_TABLE = "features/user_preferences"
#: Written by jobs/train_recommender when the champion changes (one file per model version).
USER_EMBEDDINGS_TABLE = "embeddings/users"
ITEM_EMBEDDINGS_TABLE = "embeddings/items"
SOURCE_NAMES = {
    USER_ACTIVITY_TABLE: "user_activity_source",
    PRODUCT_POPULARITY_TABLE: "product_popularity_source",
    TERM_TRENDS_TABLE: "term_trends_source",
    USER_EMBEDDINGS_TABLE: "user_embeddings_source",
    ITEM_EMBEDDINGS_TABLE: "item_embeddings_source",
    USER_HISTORY_TABLE: "user_history_source",
    USER_PREFERENCES_TABLE: "user_preferences_source",
}
#: Tables kept as single files in `local`.
SINGLE_FILE_TABLES = (
    USER_ACTIVITY_TABLE,
    PRODUCT_POPULARITY_TABLE,
    TERM_TRENDS_TABLE,
    USER_HISTORY_TABLE,
    USER_PREFERENCES_TABLE,
)


def table_path(profile: str, table: str) -> str:
    """Where a table lives under the lake root for `profile`."""
    return f"{table}.parquet" if profile == "local" and table in SINGLE_FILE_TABLES else table


@dataclass(frozen=True)
class DataSources:
    user_activity_push_source: PushSource
    product_popularity_push_source: PushSource
    term_trends_source: DataSource
    user_embeddings_source: DataSource
    item_embeddings_source: DataSource
    user_history_push_source: PushSource
    user_preferences_push_source: PushSource

    def all(self) -> list[DataSource]:
        return [
            self.user_activity_push_source,
            self.product_popularity_push_source,
            self.term_trends_source,
            self.user_embeddings_source,
            self.item_embeddings_source,
            self.user_history_push_source,
            self.user_preferences_push_source,
        ]


def _batch_source(
    profile: str, lake_root: str, table: str, field_mapping: dict[str, str] | None = None
) -> DataSource:
    name = SOURCE_NAMES[table]
    path = f"{lake_root.rstrip('/')}/{table_path(profile, table)}"
    if profile == "prod":
        return SparkSource(
            name=name,
            path=path,
            file_format="parquet",
            timestamp_field=EVENT_TIMESTAMP_COL,
            field_mapping=field_mapping,
        )
    return FileSource(
        name=name, path=path, timestamp_field=EVENT_TIMESTAMP_COL, field_mapping=field_mapping
    )


def _columns_to_features(features: dict[str, str]) -> dict[str, str]:
    """Feast's `field_mapping` (table column → feature name) of an embedding view."""
    return {EMBEDDING_COLUMNS[name]: name for name in features}


def build_data_sources(profile: str, lake_root: str) -> DataSources:
    """The data sources of a profile over the lake at `lake_root`."""
    return DataSources(
        user_activity_push_source=PushSource(
            name=USER_ACTIVITY_PUSH_SOURCE,
            batch_source=_batch_source(profile, lake_root, USER_ACTIVITY_TABLE),
        ),
        product_popularity_push_source=PushSource(
            name=PRODUCT_POPULARITY_PUSH_SOURCE,
            batch_source=_batch_source(profile, lake_root, PRODUCT_POPULARITY_TABLE),
        ),
        term_trends_source=_batch_source(profile, lake_root, TERM_TRENDS_TABLE),
        user_embeddings_source=_batch_source(
            profile,
            lake_root,
            USER_EMBEDDINGS_TABLE,
            _columns_to_features(USER_EMBEDDING_FEATURES),
        ),
        item_embeddings_source=_batch_source(
            profile,
            lake_root,
            ITEM_EMBEDDINGS_TABLE,
            _columns_to_features(ITEM_EMBEDDING_FEATURES),
        ),
        user_history_push_source=PushSource(
            name=USER_HISTORY_PUSH_SOURCE,
            batch_source=_batch_source(profile, lake_root, USER_HISTORY_TABLE),
        ),
        user_preferences_push_source=PushSource(
            name=USER_PREFERENCES_PUSH_SOURCE,
            batch_source=_batch_source(profile, lake_root, USER_PREFERENCES_TABLE),
        ),
    )
