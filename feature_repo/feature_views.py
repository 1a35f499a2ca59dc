"""Feature views: stream-fed user activity and product popularity, batch term trends and
embeddings (filled by jobs/materialize and the recommender job)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Array, Float32, Float64, Int32, Int64, String

from feature_repo.data_sources import DataSources
from feature_repo.entities import product_entity, term_entity, user_entity
from glamcast.core.features import (
    ITEM_EMBEDDING_FEATURES,
    PRODUCT_FEATURES,
    TERM_FEATURES,
    USER_EMBEDDING_FEATURES,
    USER_FEATURES,
    USER_HISTORY_FEATURES,
    USER_PREFERENCE_FEATURES,
    USER_PREFERENCES_VIEW,
)

_TYPES = {
    "Int32": Int32,
    "Int64": Int64,
    "Float32": Float32,
    "Float64": Float64,
    "String": String,
    "Array(Float32)": Array(Float32),
    "Array(String)": Array(String),
}


def _fields(features: dict[str, str]) -> list[Field]:
    return [Field(name=name, dtype=_TYPES[kind]) for name, kind in features.items()]


@dataclass(frozen=True)
class FeatureViews:
    user_activity_fv: FeatureView
    product_popularity_fv: FeatureView
    term_trends_fv: FeatureView
    user_embedding_fv: FeatureView
    item_embedding_fv: FeatureView
    user_history_fv: FeatureView
    user_preferences_fv: FeatureView

    def all(self) -> list[FeatureView]:
        return [
            self.user_activity_fv,
            self.product_popularity_fv,
            self.term_trends_fv,
            self.user_embedding_fv,
            self.item_embedding_fv,
            self.user_history_fv,
            self.user_preferences_fv,
        ]


def build_feature_views(sources: DataSources) -> FeatureViews:
    """The feature views over `sources`."""
    return FeatureViews(
        user_activity_fv=FeatureView(
            name="user_activity_fv",
            entities=[user_entity],
            ttl=timedelta(days=7),  # older rows describe an empty 7 d window
            schema=_fields(USER_FEATURES),
            source=sources.user_activity_push_source,
            online=True,
            description="Try-on activity over sliding 1 h / 24 h / 7 d windows ending at the "
            "user's latest event (glamcast.platform.features).",
        ),
        product_popularity_fv=FeatureView(
            name="product_popularity_fv",
            entities=[product_entity],
            ttl=timedelta(days=7),
            schema=_fields(PRODUCT_FEATURES),
            source=sources.product_popularity_push_source,
            online=True,
            description="Product tries, likes, carts, purchases and conversion over 24 h / 7 d.",
        ),
        term_trends_fv=FeatureView(
            name="term_trends_fv",
            entities=[term_entity],
            ttl=timedelta(days=2),
            schema=_fields(TERM_FEATURES),
            source=sources.term_trends_source,
            online=True,
            description="Trending-now score and weight of each term per hour (jobs/materialize).",
        ),
        user_embedding_fv=FeatureView(
            name="user_embedding_fv",
            entities=[user_entity],
            ttl=timedelta(days=30),
            schema=_fields(USER_EMBEDDING_FEATURES),
            source=sources.user_embeddings_source,
            online=True,
            description="User factors of the champion recommender (jobs/train_recommender).",
        ),
        item_embedding_fv=FeatureView(
            name="item_embedding_fv",
            entities=[product_entity],
            ttl=timedelta(days=30),
            schema=_fields(ITEM_EMBEDDING_FEATURES),
            source=sources.item_embeddings_source,
            online=True,
            description="Item factors of the champion recommender (jobs/train_recommender).",
        ),
        user_history_fv=FeatureView(
            name="user_history_fv",
            entities=[user_entity],
            ttl=timedelta(days=7),
            schema=_fields(USER_HISTORY_FEATURES),
            source=sources.user_history_push_source,
            online=True,
            description="Products bought in the 7 d window (streams/feed_updates); the feed "
            "filters them.",
        ),
        user_preferences_fv=FeatureView(
            name=USER_PREFERENCES_VIEW,
            entities=[user_entity],
            ttl=timedelta(days=3650),  # a preference holds until the person changes it
            schema=_fields(USER_PREFERENCE_FEATURES),
            source=sources.user_preferences_push_source,
            online=True,
            description="A person's latest explicit preferences: natural ↔ bold, price cap, "
            "categories never to show (glamcast.preference.v1, streams/user_preferences).",
        ),
    )
