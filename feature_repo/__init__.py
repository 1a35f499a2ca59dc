"""The Glamcast Feast repository: entities, data sources, feature views, feature services.

Objects are built per profile (`definitions`), because the offline sources differ: Parquet files
for the `local` file offline store, Parquet directories read by Spark in `prod`. The store
itself (`feature_store.<profile>.yaml`) and `apply` live in `glamcast.platform.features`;
``glamcast features apply`` registers what `definitions` returns.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from feature_repo.data_sources import (
    ITEM_EMBEDDINGS_TABLE,
    PRODUCT_POPULARITY_TABLE,
    TERM_TRENDS_TABLE,
    USER_ACTIVITY_TABLE,
    USER_EMBEDDINGS_TABLE,
    USER_HISTORY_TABLE,
    USER_PREFERENCES_TABLE,
    build_data_sources,
    table_path,
)
from feature_repo.entities import product_entity, term_entity, user_entity
from feature_repo.feature_services import build_feature_services
from feature_repo.feature_views import build_feature_views
from glamcast.core.features import (
    EMBEDDING_COLUMNS,
    ITEM_EMBEDDING_FEATURES,
    PRODUCT_FEATURES,
    TERM_FEATURES,
    USER_EMBEDDING_FEATURES,
    USER_FEATURES,
    USER_HISTORY_FEATURES,
    USER_PREFERENCE_FEATURES,
    feature_schema,
)
from glamcast.core.names import PRODUCT_COL, TERM_COL, USER_COL


def definitions(profile: str, lake_root: str) -> list[Any]:
    """Every object to apply for `profile`, offline tables on the lake at `lake_root`."""
    sources = build_data_sources(profile, lake_root)
    views = build_feature_views(sources)
    return [
        user_entity,
        product_entity,
        term_entity,
        *sources.all(),
        *views.all(),
        *build_feature_services(views),
    ]


def offline_tables(profile: str) -> dict[str, pa.Schema]:
    """Schemas of the offline tables by path under the lake root (``.parquet``: one file)."""
    tables = {
        USER_ACTIVITY_TABLE: feature_schema(USER_COL, USER_FEATURES),
        PRODUCT_POPULARITY_TABLE: feature_schema(PRODUCT_COL, PRODUCT_FEATURES),
        TERM_TRENDS_TABLE: feature_schema(TERM_COL, TERM_FEATURES),
        USER_EMBEDDINGS_TABLE: feature_schema(USER_COL, USER_EMBEDDING_FEATURES, EMBEDDING_COLUMNS),
        ITEM_EMBEDDINGS_TABLE: feature_schema(
            PRODUCT_COL, ITEM_EMBEDDING_FEATURES, EMBEDDING_COLUMNS
        ),
        USER_HISTORY_TABLE: feature_schema(USER_COL, USER_HISTORY_FEATURES),
        USER_PREFERENCES_TABLE: feature_schema(USER_COL, USER_PREFERENCE_FEATURES),
    }
    return {table_path(profile, table): schema for table, schema in tables.items()}
