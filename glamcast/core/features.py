"""Per-person and per-product features: names, window definitions, types (the feature contract).

Windows (DESIGN "Features"). For one user, let ``T`` be the event time of the user's latest
try-on event seen so far. The window ``w`` (1 h, 24 h, 7 d) holds the user's events with
``T - w < ts <= T`` — sliding, anchored at the user's own latest event, not at wall time, so a
replay or a backfill gives the same values. Every row carries ``event_timestamp = T``: a
training-set row at time ``t`` sees the latest row with ``T <= t``, so only events before ``t``.

Per user (`user_activity_features`):

- ``tries_<w>`` (``try_on`` + ``shade_swap``), ``likes_<w>``, ``carts_<w>`` (``add_to_cart``),
  ``purchases_<w>`` for each window;
- ``tries_7d_<category>`` and ``purchases_7d_<category>`` for each category;
- ``events_7d``; ``fav_shade_family_7d`` and ``fav_finish_7d``: the most frequent value over the
  7 d window, all actions counted, ties to the alphabetically first; ``mean_dwell_ms_7d``;
- ``skin_tone`` and ``undertone``: from the latest event in the 7 d window that carries consented
  face attributes (null when none does); ``last_event_ms``: ``T`` in epoch milliseconds.

Per product (`product_popularity_features`), anchored at the product's latest event the same
way: ``product_tries_<w>``, ``product_likes_<w>``, ``product_carts_<w>``,
``product_purchases_<w>`` for 24 h and 7 d, and ``product_conversion_7d`` =
purchases / tries over 7 d (0 without tries).

Per user, explicit (`user_preferences_fv`, streams/user_preferences): the latest
`PreferenceEvent`'s ``boldness`` (0 natural … 1 bold), ``price_cap`` (null: none) and
``never_categories``; the feed filters and ranks by them (`models.feed_scoring`).

The aggregates themselves are `models.activity_features` (all events at once) and the feature
stage's incremental state (`streams/features.py`); the Feast store is `glamcast.platform.features`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa

from glamcast.core.events import Action, Category
from glamcast.core.names import EVENT_TIMESTAMP_COL, PRODUCT_COL, USER_COL

# --- names -------------------------------------------------------------------------------------


USER_ACTIVITY_PUSH_SOURCE = "user_activity_push_source"
USER_ACTIVITY_VIEW = "user_activity_fv"
PRODUCT_POPULARITY_VIEW = "product_popularity_fv"
PRODUCT_POPULARITY_PUSH_SOURCE = "product_popularity_push_source"
#: Pushed by the feed stage (streams/feed_updates): what a person bought, for the feed's filter.
USER_HISTORY_PUSH_SOURCE = "user_history_push_source"
FEED_RANKING_SERVICE = "feed_ranking_v1"
#: Pushed by the preference stage (streams/user_preferences): a person's latest explicit
#: preferences (glamcast.preference.v1), which the feed filters and ranks by.
USER_PREFERENCES_PUSH_SOURCE = "user_preferences_push_source"
USER_PREFERENCES_VIEW = "user_preferences_fv"

#: Windows of the user features, (suffix, length).
USER_WINDOWS: tuple[tuple[str, timedelta], ...] = (
    ("1h", timedelta(hours=1)),
    ("24h", timedelta(hours=24)),
    ("7d", timedelta(days=7)),
)
PRODUCT_WINDOWS: tuple[tuple[str, timedelta], ...] = USER_WINDOWS[1:]
LONGEST_WINDOW = timedelta(days=7)

#: Counted kinds of action, (feature name stem, actions).
ACTION_KINDS: tuple[tuple[str, frozenset[str]], ...] = (
    ("tries", frozenset({Action.TRY_ON.value, Action.SHADE_SWAP.value})),
    ("likes", frozenset({Action.LIKE.value})),
    ("carts", frozenset({Action.ADD_TO_CART.value})),
    ("purchases", frozenset({Action.PURCHASE.value})),
)
CATEGORY_KINDS = ("tries", "purchases")
CATEGORIES = tuple(category.value for category in Category)

#: Try-on lake columns the aggregates read.
EVENT_COLUMNS = (
    "event_id",
    "ts",
    USER_COL,
    PRODUCT_COL,
    "action",
    "category",
    "shade_hex",
    "finish",
    "dwell_ms",
    "face_skin_tone",
    "face_undertone",
)

USER_COUNT_FEATURES = (
    tuple(f"{kind}_{suffix}" for suffix, _ in USER_WINDOWS for kind, _ in ACTION_KINDS)
    + tuple(f"{kind}_7d_{category}" for kind in CATEGORY_KINDS for category in CATEGORIES)
    + ("events_7d",)
)
#: Every user feature with its Feast type name (feature_repo maps the names to Feast types).
USER_FEATURES: dict[str, str] = {
    **dict.fromkeys(USER_COUNT_FEATURES, "Int64"),
    "fav_shade_family_7d": "String",
    "fav_finish_7d": "String",
    "mean_dwell_ms_7d": "Float64",
    "skin_tone": "Int64",
    "undertone": "String",
    "last_event_ms": "Int64",
}
PRODUCT_COUNT_FEATURES = tuple(
    f"product_{kind}_{suffix}" for suffix, _ in PRODUCT_WINDOWS for kind, _ in ACTION_KINDS
)
PRODUCT_FEATURES: dict[str, str] = {
    **dict.fromkeys(PRODUCT_COUNT_FEATURES, "Int64"),
    "product_conversion_7d": "Float64",
}
TERM_FEATURES: dict[str, str] = {"trend_score": "Float64", "trend_weight": "Float64"}
#: Products the user bought within the 7 d window of their latest event (streams/feed_updates);
#: the feed filters them out.
PURCHASED_FEATURE = "purchased_products_7d"
USER_HISTORY_FEATURES: dict[str, str] = {PURCHASED_FEATURE: "Array(String)"}
#: The natural ↔ bold slider (0..1), the price cap (null: none) and the "never show me"
#: categories of a person's latest `PreferenceEvent`.
USER_PREFERENCE_FEATURES: dict[str, str] = {
    "boldness": "Float64",
    "price_cap": "Float64",
    "never_categories": "Array(String)",
}
PREFERENCE_FEATURES = tuple(USER_PREFERENCE_FEATURES)
#: Embedding views read the champion recommender's tables (jobs/train_recommender) as written:
#: feature name → (Feast type, column in the table).
USER_EMBEDDING_FEATURES: dict[str, str] = {
    "user_embedding": "Array(Float32)",
    "user_model_version": "Int32",
}
ITEM_EMBEDDING_FEATURES: dict[str, str] = {
    "item_embedding": "Array(Float32)",
    "item_bias": "Float32",
    "item_model_version": "Int32",
}
EMBEDDING_COLUMNS = {
    "user_embedding": "embedding",
    "user_model_version": "model_version",
    "item_embedding": "embedding",
    "item_bias": "bias",
    "item_model_version": "model_version",
}

_FEAST_NUMPY = {"Int64": "Int64", "Float64": "float64", "String": "object"}


def pandas_dtype(name: str) -> Any:
    if name == EVENT_TIMESTAMP_COL:
        return "datetime64[us, UTC]"
    kind = USER_FEATURES.get(name) or PRODUCT_FEATURES.get(name) or "String"
    return _FEAST_NUMPY.get(kind, "object")


def feature_schema(
    entity: str, features: dict[str, str], columns: dict[str, str] | None = None
) -> pa.Schema:
    """Arrow schema of an offline feature table; `columns` renames features to table columns."""
    types = {
        "Int32": pa.int32(),
        "Int64": pa.int64(),
        "Float32": pa.float32(),
        "Float64": pa.float64(),
        "String": pa.string(),
        "Array(Float32)": pa.list_(pa.float32()),
        "Array(String)": pa.list_(pa.string()),
    }
    columns = columns or {}
    return pa.schema(
        [
            (entity, pa.string()),
            (EVENT_TIMESTAMP_COL, pa.timestamp("us", tz="UTC")),
            *((columns.get(name, name), types[kind]) for name, kind in features.items()),
        ]
    )


