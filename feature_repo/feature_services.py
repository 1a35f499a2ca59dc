"""Feature services: what each consumer reads, versioned by name."""

from __future__ import annotations

from feast import FeatureService

from feature_repo.feature_views import FeatureViews
from glamcast.core.features import FEED_RANKING_SERVICE


def build_feature_services(views: FeatureViews) -> list[FeatureService]:
    """`feed_ranking_v1`: what the feed ranking reads per (user, candidate product)."""
    feed_ranking_v1 = FeatureService(
        name=FEED_RANKING_SERVICE,
        features=[
            views.user_activity_fv,
            views.product_popularity_fv,
            views.user_embedding_fv,
            views.item_embedding_fv,
            views.user_history_fv,
            views.user_preferences_fv,
        ],
        description="Features of GET /v1/feed/{user_id}: user activity, product popularity, "
        "user and item embeddings, products bought, explicit preferences.",
    )
    return [feed_ranking_v1]
