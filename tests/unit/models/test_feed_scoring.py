"""The feed's blend, candidates, filters and reasons on a six-product catalogue (glamcast.platform.feed_engine)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from glamcast.platform.feed_engine import (
    FeedWeights,
    build_snapshot,
    feed_message,
    rank_feed,
    user_signals,
)
from models.recommender_pyfunc import FactorRecommender

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
CORAL, RED, NUDE = "#F07850", "#B0182A", "#D8A890"  # coral, red, nude families
CATALOG = pd.DataFrame(
    {
        "product_id": ["p1", "p2", "p3", "p4", "p5", "p6"],
        "category": ["lipstick", "lipstick", "lipstick", "blush", "blush", "mascara"],
        "shade_hex": [CORAL, RED, NUDE, CORAL, NUDE, "#101010"],
        "finish": ["matte", "satin", "matte", "matte", "satin", "gloss"],
        "brand": ["Acme", "Acme", "Beta", "Beta", "Beta", "Acme"],
        # p1 launched today, p2 one half-life (30 d) ago, the rest a year ago
        "launched_at": [NOW, NOW - timedelta(days=30)] + [NOW - timedelta(days=365)] * 4,
    }
)
WEIGHTS = FeedWeights()


def recommender() -> FactorRecommender:
    """Two users, items p1..p5 (p6 only in the catalogue); u1 likes p2 > p3 > p5 > p4 > p1,
    and has seen p3."""
    items = ["p1", "p2", "p3", "p4", "p5"]
    item_factors = np.array([[0.1], [0.9], [0.8], [0.3], [0.4]], np.float32)
    return FactorRecommender.build(
        ["u1", "u2"], items, np.array([[1.0], [-1.0]], np.float32), item_factors, None,
        seen_users=np.array([0]), seen_items=np.array([2]),
        popularity=np.array([5.0, 1.0, 1.0, 3.0, 2.0]),
    )


def tries(**by_category: int) -> dict[str, int]:
    return {f"tries_7d_{category}": count for category, count in by_category.items()}


def test_family_and_category_signals_rank_coral_lipstick_first_with_reasons() -> None:
    snapshot = build_snapshot(CATALOG, None, now=NOW, trend_scores={"shade_family:coral": 4.0})
    features = {"fav_shade_family_7d": "coral", "fav_finish_7d": "matte", **tries(lipstick=3)}
    feed = rank_feed(snapshot, "someone", features, k=6, weights=WEIGHTS, now=NOW)
    assert feed.personalized and feed.model_version is None
    top = feed.items[0]
    assert top.product_id == "p1"
    assert top.reasons == ["because you tried coral lipsticks", "rising: coral", "new in"]
    # p1: taste = popularity percentile (no model: every popularity 0 → rank ties at 0)
    # affinity = 0.25 family + 0.15 * 1.0 share + 0.05 finish = 0.45;
    # trend = log 4 / log 4 = 1; freshness = 1 → 0.6*0.45 + 0.25*1 + 0.15*1
    assert top.score == pytest.approx(0.6 * 0.45 + 0.25 + 0.15, abs=1e-6)
    p4 = next(item for item in feed.items if item.product_id == "p4")  # coral blush, old
    fresh_p4 = 0.5 ** (365 / 30)
    assert p4.score == pytest.approx(0.6 * (0.25 + 0.05) + 0.25 + 0.15 * fresh_p4, abs=1e-6)
    assert p4.reasons == ["because you tried coral shades", "rising: coral"]


def test_model_taste_is_the_percentile_of_the_recommender_score_and_seen_is_dropped() -> None:
    snapshot = build_snapshot(CATALOG, recommender(), model_version=7, now=NOW)
    feed = rank_feed(snapshot, "u1", {}, k=10, weights=WEIGHTS, now=NOW)
    ids = [item.product_id for item in feed.items]
    assert feed.model_version == 7 and feed.personalized
    assert "p3" not in ids  # seen in training
    # taste percentiles over the 5 model items: p2 1.0, p3 .75, p5 .5, p4 .25, p1 0; p6 has none
    p2 = next(item for item in feed.items if item.product_id == "p2")
    assert p2.score == pytest.approx(0.6 * 0.55 * 1.0 + 0.15 * 0.5, abs=1e-6)
    assert p2.reasons[0] == "matches your taste"
    assert ids[0] == "p2"


def test_purchased_products_are_filtered_from_every_source() -> None:
    snapshot = build_snapshot(CATALOG, recommender(), model_version=1, now=NOW)
    features = {"fav_shade_family_7d": "coral", "purchased_products_7d": ["p1", "p2"],
                **tries(lipstick=1)}
    feed = rank_feed(snapshot, "u1", features, k=10, weights=WEIGHTS, now=NOW)
    ids = {item.product_id for item in feed.items}
    assert not ids & {"p1", "p2", "p3"}
    assert ids == {"p4", "p5", "p6"}


def test_unknown_user_without_features_gets_the_trending_feed() -> None:
    snapshot = build_snapshot(CATALOG, recommender(), model_version=2, now=NOW,
                              trend_scores={"category:blush": 2.0})
    feed = rank_feed(snapshot, "stranger", None, k=3, weights=WEIGHTS, now=NOW)
    assert not feed.personalized and feed.model_version == 2
    assert len(feed.items) == 3
    # popularity percentiles p1 1.0, p4 .8, p5 .6 (p6 has none); blush trend log 2 / log 4 = .5
    # p1: .6*.55*1 + .15 fresh = .48; p4: .6*.55*.8 + .25*.5 = .389; p5: .6*.55*.6 + .125 = .323
    assert [item.product_id for item in feed.items] == ["p1", "p4", "p5"]
    assert feed.items[0].score == pytest.approx(0.48, abs=1e-6)
    assert feed.items[0].reasons == ["new in"]
    assert feed.items[1].reasons == ["rising: blush"]
    scores = [item.score for item in feed.items]
    assert scores == sorted(scores, reverse=True)


def test_looks_for_the_persons_face_with_reasons_and_bought_products_excluded() -> None:
    looks = pd.DataFrame({
        "condition_tone": [5, 5, 5, 5, 2],
        "condition_undertone": ["warm", "warm", "warm", "warm", "cool"],
        "look": [0, 0, 1, 1, 0],
        "look_id": ["L0", "L0", "L1", "L1", "L2"],
        "product_id": ["p1", "p4", "p2", "p5", "p3"],
    })
    snapshot = build_snapshot(CATALOG, None, now=NOW, looks=looks, look_version=3)
    features = {"skin_tone": 5, "undertone": "warm", "purchased_products_7d": ["p2"]}
    feed = rank_feed(snapshot, "face", features, k=10, weights=WEIGHTS, now=NOW)
    looks_out = [item for item in feed.items if item.look_id]
    assert [item.look_id for item in looks_out] == ["L0"]  # L1 holds bought p2; L2 other face
    assert looks_out[0].products == ["p1", "p4"]
    assert looks_out[0].reasons[:1] == ["generated for your undertone"]
    # no taste signal, no trend: affinity 0 → score = freshness weight (a look is new)
    assert looks_out[0].score == pytest.approx(0.15, abs=1e-6)
    message = feed_message(feed).decode()
    assert '"look_id":"L0"' in message and '"product_id":null' not in message


def test_k_caps_the_feed_and_weights_move_the_order() -> None:
    snapshot = build_snapshot(CATALOG, None, now=NOW, trend_scores={"brand:beta": 4.0})
    trend_only = FeedWeights(affinity=0.0, trend=1.0, freshness=0.0)
    fresh_only = FeedWeights(affinity=0.0, trend=0.0, freshness=1.0)
    by_trend = rank_feed(snapshot, "x", None, k=3, weights=trend_only, now=NOW)
    by_fresh = rank_feed(snapshot, "x", None, k=2, weights=fresh_only, now=NOW)
    assert [item.product_id for item in by_trend.items] == ["p3", "p4", "p5"]  # Beta, id order
    assert [item.product_id for item in by_fresh.items] == ["p1", "p2"]
    assert by_fresh.items[1].score == pytest.approx(0.5, abs=1e-6)


def test_user_signals_clean_nulls_and_shares() -> None:
    signals = user_signals({"fav_shade_family_7d": None, "skin_tone": math.nan,
                            **tries(lipstick=3, blush=1)})
    assert signals["family"] is None and signals["skin_tone"] is None
    assert signals["category_share"]["lipstick"] == pytest.approx(0.75)
    assert signals["top_category"] == "lipstick" and signals["active"]
    assert user_signals(None)["active"] is False
