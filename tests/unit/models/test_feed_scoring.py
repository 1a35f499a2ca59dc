"""The feed's snapshot, candidates, blend, filters and reasons on a six-product catalogue
(models.feed_scoring)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from glamcast.core.settings import Settings
from models.feed_scoring import (
    FeedWeights,
    build_snapshot,
    candidate_indices,
    rank_feed,
    shade_boldness,
    snapshot_trend_terms,
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


# --- the snapshot -----------------------------------------------------------------------------

OLD = 0.5 ** (365 / 30)  # freshness of a product launched a year ago


def test_snapshot_attributes_freshness_and_trend_per_product() -> None:
    scores = {"shade_family:coral": 2.0, "brand:acme": 4.0, "finish:satin": 0.5}
    snapshot = build_snapshot(CATALOG, None, now=NOW, trend_scores=scores)
    assert snapshot.item_ids.tolist() == ["p1", "p2", "p3", "p4", "p5", "p6"]
    assert snapshot.family.tolist() == ["coral", "red", "nude", "coral", "nude", "black"]
    assert snapshot.brand.tolist() == ["acme", "acme", "beta", "beta", "beta", "acme"]
    assert snapshot.freshness.tolist() == pytest.approx([1.0, 0.5, OLD, OLD, OLD, OLD])
    # a product's trend is its most trending term's score s: log s / log 4, clipped to [0, 1]
    assert snapshot.trend_term.tolist() == ["acme", "acme", None, "coral", "satin", "acme"]
    assert snapshot.trend_raw.tolist() == [4.0, 4.0, 0.0, 2.0, 0.5, 4.0]
    assert snapshot.trend.tolist() == pytest.approx([1.0, 1.0, 0.0, 0.5, 0.0, 1.0])
    # no model, no live tries: every popularity 0, percentiles tie at 0; trending by trend, then
    # item order
    assert snapshot.popularity_pct.tolist() == [0.0] * 6
    assert snapshot.trending_order.tolist() == [0, 1, 5, 3, 2, 4]
    assert {name: pool.tolist() for name, pool in snapshot.family_pools.items()} == {
        "coral": [0, 3], "red": [1], "nude": [2, 4], "black": [5]}
    assert snapshot.codes == {"black": 0, "coral": 1, "gloss": 2, "matte": 3, "nude": 4,
                              "red": 5, "satin": 6}
    assert snapshot.family_code.tolist() == [1, 5, 4, 1, 4, 0]
    assert snapshot.finish_code.tolist() == [3, 6, 3, 3, 6, 2]
    assert snapshot.category_code.tolist() == [0, 0, 0, 7, 7, 5]  # lipstick, blush, mascara
    assert snapshot.model_version is None and snapshot.user_rows == {}


def test_snapshot_puts_model_items_first_and_adds_live_tries_to_popularity() -> None:
    snapshot = build_snapshot(CATALOG.iloc[::-1], recommender(), model_version=4, now=NOW,
                              live_popularity={"p6": 3.0, "p1": 1.0}, candidates=2)
    assert snapshot.item_ids.tolist() == ["p1", "p2", "p3", "p4", "p5", "p6"]
    assert snapshot.index == {"p1": 0, "p2": 1, "p3": 2, "p4": 3, "p5": 4, "p6": 5}
    assert snapshot.user_rows == {"u1": 0, "u2": 1}
    # training share (5, 1, 1, 3, 2) / 12 plus live share (p1 1/4, p6 3/4)
    assert snapshot.popularity.tolist() == pytest.approx(
        [5 / 12 + 0.25, 1 / 12, 1 / 12, 3 / 12, 2 / 12, 0.75])
    assert snapshot.popularity_pct.tolist() == pytest.approx([0.8, 0.0, 0.0, 0.6, 0.4, 1.0])
    # `candidates` caps the trending order and each family pool, most popular first
    assert snapshot.trending_order.tolist() == [5, 0]
    assert {name: pool.tolist() for name, pool in snapshot.family_pools.items()} == {
        "coral": [0, 3], "red": [1], "nude": [4, 2], "black": [5]}
    assert snapshot.candidates == 2 and snapshot.model_version == 4


def test_snapshot_of_a_bare_catalogue_keeps_the_last_row_per_product() -> None:
    catalog = pd.DataFrame({"product_id": ["a", "b", "a"], "finish": ["matte", None, "gloss"]})
    snapshot = build_snapshot(catalog, None, now=NOW)
    assert snapshot.item_ids.tolist() == ["b", "a"]
    assert snapshot.finish.tolist() == [None, "gloss"]
    assert snapshot.family.tolist() == [None, None]
    assert snapshot.category.tolist() == [None, None]
    assert snapshot.freshness.tolist() == [0.0, 0.0]  # no launch date
    assert snapshot.trend.tolist() == [0.0, 0.0] and snapshot.family_pools == {}
    assert snapshot.codes == {"gloss": 0}
    assert snapshot.finish_code.tolist() == [-1, 0]
    assert snapshot.category_code.tolist() == [-1, -1]
    assert snapshot_trend_terms(snapshot) == ["finish:gloss"]


def test_snapshot_groups_looks_by_face_and_drops_unknown_products() -> None:
    looks = pd.DataFrame({
        "condition_tone": [5, 5, 5, 2, 2],
        "condition_undertone": ["warm", "warm", "warm", "cool", "cool"],
        "look": [0, 0, 1, 0, 1],
        "product_id": ["p1", "p4", "p9", "p3", "p2"],
    })
    snapshot = build_snapshot(CATALOG, None, now=NOW, looks=looks, look_version=3)
    # no look_id column: ids from the face; look 1 of (5, warm) matches no product, so it is gone
    assert snapshot.looks.look_ids.tolist() == ["look-t2-cool-0", "look-t2-cool-1",
                                                "look-t5-warm-0"]
    assert [products.tolist() for products in snapshot.looks.products] == [[2], [1], [0, 3]]
    assert {face: chosen.tolist() for face, chosen in snapshot.looks.by_condition.items()} == {
        (2, "cool"): [0, 1], (5, "warm"): [2]}
    assert snapshot.look_version == 3


def test_snapshot_trend_terms_are_every_attribute_of_every_product() -> None:
    snapshot = build_snapshot(CATALOG, None, now=NOW)
    assert snapshot_trend_terms(snapshot) == [
        "brand:acme", "brand:beta",
        "category:blush", "category:lipstick", "category:mascara",
        "finish:gloss", "finish:matte", "finish:satin",
        "shade_family:black", "shade_family:coral", "shade_family:nude", "shade_family:red",
    ]


# --- candidates --------------------------------------------------------------------------------


def test_cold_candidates_are_the_trending_and_favourite_family_pools_minus_purchases() -> None:
    snapshot = build_snapshot(CATALOG, None, now=NOW, trend_scores={"category:blush": 2.0},
                              candidates=2)
    assert snapshot.trending_order.tolist() == [3, 4]  # the blushes p4, p5
    signals = user_signals({"fav_shade_family_7d": "coral",
                            "purchased_products_7d": ["p4", "not-in-catalogue"]})
    candidates, taste, known = candidate_indices(snapshot, "someone", signals)
    # trending {p4, p5} + coral pool {p1, p4}, minus bought p4
    assert candidates.tolist() == [0, 4]
    assert taste is None and known is False
    assert candidate_indices(snapshot, "someone", user_signals(None))[0].tolist() == [3, 4]
    teal = user_signals({"fav_shade_family_7d": "teal"})  # no product of that family
    assert candidate_indices(snapshot, "someone", teal)[0].tolist() == [3, 4]


def test_known_candidates_add_the_models_top_unseen_unbought_items_and_taste() -> None:
    snapshot = build_snapshot(CATALOG, recommender(), now=NOW, candidates=2)
    assert snapshot.trending_order.tolist() == [0, 3]  # most popular: p1, p4
    signals = user_signals({"purchased_products_7d": ["p2"]})
    candidates, taste, known = candidate_indices(snapshot, "u1", signals)
    # u1's scores: p2 .9 (bought), p3 .8 (seen), p5 .4, p4 .3, p1 .1 → the model's top 2: p5, p4
    assert candidates.tolist() == [0, 3, 4]
    assert known is True
    # taste: score percentile over the model's items; p6 is not in the model
    assert taste.tolist() == pytest.approx([0.0, 1.0, 0.75, 0.25, 0.5, 0.0])
    stranger = candidate_indices(snapshot, "u9", signals)
    assert stranger[0].tolist() == [0, 3] and stranger[1] is None and stranger[2] is False


# --- weights and thresholds are settings ---------------------------------------------------------


def test_weights_default_to_todays_values_and_are_read_from_settings() -> None:
    assert FeedWeights() == FeedWeights(
        affinity=0.6, trend=0.25, freshness=0.15, taste=0.55, family=0.25, category=0.15,
        finish=0.05, half_life_days=30.0, full_trend_score=4.0, rising_trend_score=1.5,
        taste_reason_pct=0.9, new_in_freshness=0.8)
    settings = Settings(
        feed_weight_affinity=0.5, feed_weight_trend=0.3, feed_weight_freshness=0.2,
        feed_affinity_taste=0.4, feed_affinity_family=0.3, feed_affinity_category=0.2,
        feed_affinity_finish=0.1, feed_freshness_half_life_days=10.0, feed_full_trend_score=2.0,
        feed_rising_trend_score=1.2, feed_taste_reason_percentile=0.75, feed_new_in_freshness=0.4)
    assert FeedWeights.from_settings(settings) == FeedWeights(
        affinity=0.5, trend=0.3, freshness=0.2, taste=0.4, family=0.3, category=0.2,
        finish=0.1, half_life_days=10.0, full_trend_score=2.0, rising_trend_score=1.2,
        taste_reason_pct=0.75, new_in_freshness=0.4)


def test_trend_and_reason_thresholds_come_from_the_weights() -> None:
    scores = {"category:blush": 2.0}
    half = build_snapshot(CATALOG, None, now=NOW, trend_scores=scores)
    full = build_snapshot(CATALOG, None, now=NOW, trend_scores=scores,
                          weights=replace(WEIGHTS, full_trend_score=2.0))
    assert half.trend[3] == pytest.approx(0.5) and full.trend[3] == pytest.approx(1.0)
    loose = replace(WEIGHTS, new_in_freshness=0.5, rising_trend_score=2.5)
    by_id = {item.product_id: item.reasons
             for item in rank_feed(half, "x", None, k=6, weights=loose, now=NOW).items}
    assert by_id["p2"] == ["new in"]  # freshness 0.5 (one half-life)
    assert by_id["p4"] == ["trending now"]  # blush at 2× is no longer "rising"
    snapshot = build_snapshot(CATALOG, recommender(), now=NOW)
    top_half = {item.product_id: item.reasons for item in rank_feed(
        snapshot, "u1", {}, k=6, weights=replace(WEIGHTS, taste_reason_pct=0.5), now=NOW).items}
    assert top_half["p5"][0] == "matches your taste"  # taste percentile 0.5
    top_only = {item.product_id: item.reasons for item in rank_feed(
        snapshot, "u1", {}, k=6, weights=replace(WEIGHTS, taste_reason_pct=1.0), now=NOW).items}
    assert top_only["p2"][0] == "matches your taste" and top_only["p5"] == ["popular now"]


# --- explicit preferences (user_preferences_fv) ----------------------------------------------

PRICED = CATALOG.assign(price=[12.0, 30.0, 18.0, 25.0, 40.0, 9.5])
# boldness = 0.5 min(C*/60, 1) + 0.25 clip((75 - L*)/50, 0, 1) + 0.25 finish; L*, C* of the hexes:
# coral 63.789, 60.865; red 37.938, 66.108; nude 72.641, 23.924; #101010 4.680, 0
BOLD = {
    "p1": 0.5 + 0.25 * (75 - 63.789) / 50,  # coral matte ≈ 0.556
    "p2": 0.5 + 0.25 * (75 - 37.938) / 50 + 0.25 * 0.25,  # red satin ≈ 0.748
    "p3": 0.5 * 23.924 / 60 + 0.25 * (75 - 72.641) / 50,  # nude matte ≈ 0.211
    "p4": 0.5 + 0.25 * (75 - 63.789) / 50,  # coral matte blush
    "p5": 0.5 * 23.924 / 60 + 0.25 * (75 - 72.641) / 50 + 0.25 * 0.25,  # nude satin ≈ 0.274
    "p6": 0.25 + 0.25 * 0.6,  # black (no chroma, fully deep) gloss = 0.4
}


def test_shade_boldness_counts_chroma_depth_and_finish() -> None:
    snapshot = build_snapshot(PRICED, None, now=NOW)
    by_id = dict(zip(snapshot.item_ids, snapshot.boldness, strict=True))
    assert by_id == {p: pytest.approx(value, abs=1e-4) for p, value in BOLD.items()}
    assert shade_boldness(["#FFFFFF", "#FFFFFF", None], ["metallic", "matte", "unknown"]) == (
        pytest.approx([0.25, 0.0, 0.5], abs=1e-6))  # white: no chroma, no depth


def test_never_shown_categories_and_the_price_cap_filter_with_a_budget_reason() -> None:
    snapshot = build_snapshot(PRICED, None, now=NOW)
    features = {"never_categories": ["blush"], "price_cap": 25.0}
    feed = rank_feed(snapshot, "x", features, k=10, weights=WEIGHTS, now=NOW)
    reasons = {item.product_id: item.reasons for item in feed.items}
    # p4, p5: blush; p2: 30 > 25; p1 (12), p3 (18), p6 (9.5) stay
    assert reasons == {"p1": ["new in", "within your €25 budget"],
                       "p3": ["within your €25 budget"], "p6": ["within your €25 budget"]}
    assert [item.product_id for item in rank_feed(
        snapshot, "x", {"price_cap": 25.0}, k=10, weights=WEIGHTS, now=NOW).items] == [
        "p1", "p3", "p4", "p6"]  # a product at the cap (p4, 25) is within it; ties by index
    cents = rank_feed(snapshot, "x", {"price_cap": 12.5}, k=1, weights=WEIGHTS, now=NOW)
    assert cents.items[0].reasons == ["new in", "within your €12.50 budget"]


def test_bold_slider_moves_bold_items_up_with_exact_scores_and_reasons() -> None:
    snapshot = build_snapshot(PRICED, None, now=NOW)
    weights = replace(WEIGHTS, bold_reason=0.65)
    plain = {item.product_id: item.score
             for item in rank_feed(snapshot, "x", None, k=10, weights=weights, now=NOW).items}
    assert plain == {"p1": pytest.approx(0.15), "p2": pytest.approx(0.075),  # scores: 6 decimals
                     **{p: pytest.approx(0.15 * OLD, abs=1e-6) for p in ("p3", "p4", "p5", "p6")}}
    bold = rank_feed(snapshot, "x", {"boldness": 1.0}, k=10, weights=weights, now=NOW)
    assert [item.product_id for item in bold.items][:2] == ["p2", "p1"]  # was p1, p2
    for item in bold.items:  # score' = (1 - 0.3) score + 0.3 boldness
        assert item.score == pytest.approx(0.7 * plain[item.product_id]
                                           + 0.3 * BOLD[item.product_id], abs=1e-4)
    assert [item.product_id for item in bold.items if "bold, as you asked" in item.reasons] == [
        "p2"]
    natural = rank_feed(snapshot, "x", {"boldness": 0.25}, k=10, weights=weights, now=NOW)
    for item in natural.items:  # s = |2·0.25 - 1| = 0.5: score' = 0.85 score + 0.15 (1 - boldness)
        assert item.score == pytest.approx(0.85 * plain[item.product_id]
                                           + 0.15 * (1 - BOLD[item.product_id]), abs=1e-4)
    assert sorted(item.product_id for item in natural.items
                  if "natural, as you asked" in item.reasons) == ["p3", "p5"]
    middle = rank_feed(snapshot, "x", {"boldness": 0.5}, k=10, weights=weights, now=NOW)
    assert {item.product_id: item.score for item in middle.items} == plain


def test_looks_with_a_hidden_product_are_dropped() -> None:
    looks = pd.DataFrame({
        "condition_tone": [5, 5, 5, 5], "condition_undertone": ["warm"] * 4,
        "look": [0, 0, 1, 1], "look_id": ["L0", "L0", "L1", "L1"],
        "product_id": ["p1", "p4", "p2", "p3"],
    })
    snapshot = build_snapshot(PRICED, None, now=NOW, looks=looks, look_version=3)
    face = {"skin_tone": 5, "undertone": "warm"}
    def look_ids(**preferences: object) -> list[str]:
        feed = rank_feed(snapshot, "x", {**face, **preferences}, k=20, weights=WEIGHTS, now=NOW)
        return [item.look_id for item in feed.items if item.look_id]
    assert look_ids() == ["L0", "L1"]
    assert look_ids(never_categories=["blush"]) == ["L1"]  # L0 holds blush p4
    assert look_ids(price_cap=25.0) == ["L0"]  # L1 holds p2 at 30


def test_user_signals_read_preferences_as_feast_returns_them() -> None:
    signals = user_signals({"boldness": 0.8, "price_cap": math.nan,
                            "never_categories": np.array(["blush", "mascara"], dtype=object)})
    assert (signals["boldness"], signals["price_cap"], signals["never"]) == (
        0.8, None, ["blush", "mascara"])
    unset = user_signals({"boldness": None, "price_cap": None, "never_categories": None})
    assert (unset["boldness"], unset["price_cap"], unset["never"]) == (None, None, [])
