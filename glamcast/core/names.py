"""Names every part shares, each defined once: columns, lake datasets, the champion alias.

Registered model and experiment names are settings (`Settings.recommender_model_name`, ...), not
constants: a deployment may rename them.
"""

from __future__ import annotations

# --- columns ------------------------------------------------------------------------------------

USER_COL = "user_id"
PRODUCT_COL = "product_id"  # the item of the recommenders and of the feed
LOOK_ID_COL = "look_id"
TERM_COL = "term"
TERM_TYPE_COL = "term_type"
EVENT_ID_COL = "event_id"
TS_COL = "ts"
DATE_COL = "date"
EVENTS_COL = "events"
#: Feast's event time column of every feature table.
EVENT_TIMESTAMP_COL = "event_timestamp"
MODEL_VERSION_COL = "model_version"

# --- lake datasets (`<lake>/<dataset>/date=YYYY-MM-DD/`) ------------------------------------------

TRYON = "tryon"
SOCIAL = "social"
COMMERCE = "commerce"
CATALOG = "catalog"
TREND_COUNTS = "trend_counts"
FORECASTS = "forecasts"
RECOMMENDATIONS = "recommendations"
LOOKS = "looks"  # the curated look catalogue (simulator) that the look GAN learns from
PREFERENCE = "preference"  # explicit preferences (glamcast.preference.v1), every version kept
TREND_LOOKS = "trend_looks"  # looks the forecast run generated for rising terms (no person in it)
DATASETS = (TRYON, SOCIAL, COMMERCE, CATALOG, TREND_COUNTS, FORECASTS, RECOMMENDATIONS, LOOKS,
            PREFERENCE, TREND_LOOKS)

# --- model registry ----------------------------------------------------------------------------

#: The registry alias of the version the platform serves; moved only by a win on held-out data.
CHAMPION = "champion"
