"""Data sources: push sources fed by the streams, batch sources on the lake's `features/` dir.

`local` reads single Parquet files with the file offline store; `prod` reads Parquet
directories with the Spark offline store. The push sources' batch sources are where pushed rows
land offline (`PushMode.ONLINE_AND_OFFLINE`).
"""

from __future__ import annotations

from dataclasses import dataclass

from feast import FileSource, PushSource
from feast.data_source import DataSource
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource

from glamcast.features import (
    EVENT_TIMESTAMP_COL,
    PRODUCT_POPULARITY_PUSH_SOURCE,
    USER_ACTIVITY_PUSH_SOURCE,
)

#: Offline tables under `<lake>/features/`, by name.
USER_ACTIVITY_TABLE = "user_activity"
PRODUCT_POPULARITY_TABLE = "product_popularity"
TERM_TRENDS_TABLE = "term_trends"
USER_EMBEDDINGS_TABLE = "user_embeddings"
ITEM_EMBEDDINGS_TABLE = "item_embeddings"


@dataclass(frozen=True)
class DataSources:
    user_activity_push_source: PushSource
    product_popularity_push_source: PushSource
    term_trends_source: DataSource
    user_embeddings_source: DataSource
    item_embeddings_source: DataSource

    def all(self) -> list[DataSource]:
        return [
            self.user_activity_push_source,
            self.product_popularity_push_source,
            self.term_trends_source,
            self.user_embeddings_source,
            self.item_embeddings_source,
        ]


def _batch_source(profile: str, features_root: str, table: str) -> DataSource:
    if profile == "prod":
        return SparkSource(
            name=f"{table}_source",
            path=f"{features_root}/{table}",
            file_format="parquet",
            timestamp_field=EVENT_TIMESTAMP_COL,
        )
    return FileSource(
        name=f"{table}_source",
        path=f"{features_root}/{table}.parquet",
        timestamp_field=EVENT_TIMESTAMP_COL,
    )


def build_data_sources(profile: str, features_root: str) -> DataSources:
    """The data sources of a profile, with offline tables under `features_root`."""
    return DataSources(
        user_activity_push_source=PushSource(
            name=USER_ACTIVITY_PUSH_SOURCE,
            batch_source=_batch_source(profile, features_root, USER_ACTIVITY_TABLE),
        ),
        product_popularity_push_source=PushSource(
            name=PRODUCT_POPULARITY_PUSH_SOURCE,
            batch_source=_batch_source(profile, features_root, PRODUCT_POPULARITY_TABLE),
        ),
        term_trends_source=_batch_source(profile, features_root, TERM_TRENDS_TABLE),
        user_embeddings_source=_batch_source(profile, features_root, USER_EMBEDDINGS_TABLE),
        item_embeddings_source=_batch_source(profile, features_root, ITEM_EMBEDDINGS_TABLE),
    )
