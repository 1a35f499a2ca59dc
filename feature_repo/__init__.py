"""The Glamcast Feast repository: entities, data sources, feature views, feature services.

Objects are built per profile (`definitions`), because the offline sources differ: Parquet files
for the `local` file offline store, Parquet directories read by Spark in `prod`. The store
itself (`feature_store.<profile>.yaml`) and `apply` live in `glamcast.features`;
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
    build_data_sources,
)
from feature_repo.entities import product_entity, term_entity, user_entity
from feature_repo.feature_services import build_feature_services
from feature_repo.feature_views import build_feature_views
from glamcast.features import (
    ITEM_EMBEDDING_FEATURES,
    PRODUCT_COL,
    PRODUCT_FEATURES,
    TERM_COL,
    TERM_FEATURES,
    USER_COL,
    USER_EMBEDDING_FEATURES,
    USER_FEATURES,
    feature_schema,
)


def definitions(profile: str, features_root: str) -> list[Any]:
    """Every object to apply for `profile`, offline tables under `features_root`."""
    sources = build_data_sources(profile, features_root)
    views = build_feature_views(sources)
    return [
        user_entity,
        product_entity,
        term_entity,
        *sources.all(),
        *views.all(),
        *build_feature_services(views),
    ]


def offline_tables() -> dict[str, pa.Schema]:
    """Schemas of the offline tables under `<lake>/features/`, by table name."""
    return {
        USER_ACTIVITY_TABLE: feature_schema(USER_COL, USER_FEATURES),
        PRODUCT_POPULARITY_TABLE: feature_schema(PRODUCT_COL, PRODUCT_FEATURES),
        TERM_TRENDS_TABLE: feature_schema(TERM_COL, TERM_FEATURES),
        USER_EMBEDDINGS_TABLE: feature_schema(USER_COL, USER_EMBEDDING_FEATURES),
        ITEM_EMBEDDINGS_TABLE: feature_schema(PRODUCT_COL, ITEM_EMBEDDING_FEATURES),
    }
