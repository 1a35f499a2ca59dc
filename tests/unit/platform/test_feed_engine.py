"""The feed engine's pure parts: the feed topic's message and the one online read (no services)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from glamcast.core.features import CATEGORIES
from glamcast.platform.feed_engine import USER_REFS, feed_message
from models.feed_scoring import Feed, FeedItem


def test_feed_message_is_compact_json_without_the_other_targets_nulls() -> None:
    feed = Feed(
        user_id="u1", generated_at=datetime(2026, 3, 1, 12, tzinfo=UTC), model_version=None,
        personalized=True,
        items=[FeedItem(product_id="p1", score=0.5, reasons=["new in"]),
               FeedItem(look_id="L0", products=["p1", "p4"], score=0.15,
                        reasons=["generated for your undertone"])],
    )
    message = feed_message(feed).decode()
    assert '"product_id":null' not in message and ", " not in message
    assert json.loads(message) == {
        "user_id": "u1", "generated_at": "2026-03-01T12:00:00Z", "model_version": None,
        "ranker_version": None, "personalized": True,
        "items": [{"product_id": "p1", "score": 0.5, "reasons": ["new in"]},
                  {"look_id": "L0", "products": ["p1", "p4"], "score": 0.15,
                   "reasons": ["generated for your undertone"]}],
    }


def test_one_online_read_holds_every_feature_the_ranking_reads() -> None:
    assert USER_REFS == (
        "user_activity_fv:fav_shade_family_7d",
        "user_activity_fv:fav_finish_7d",
        "user_activity_fv:skin_tone",
        "user_activity_fv:undertone",
        "user_activity_fv:last_event_ms",
        *(f"user_activity_fv:tries_7d_{category}" for category in CATEGORIES),
        "user_history_fv:purchased_products_7d",
        "user_preferences_fv:boldness",
        "user_preferences_fv:price_cap",
        "user_preferences_fv:never_categories",
    )
