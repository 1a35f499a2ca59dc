"""The feed's learned ranker (models.feed_ranker): requests, label windows, graded labels,
features, lambdarank, evaluation, serving order and reasons, and the pyfunc round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from models import feed_ranker as fr
from models.feed_scoring import FeedWeights, build_snapshot, rank_feed, user_signals
from models.recommender_pyfunc import FactorRecommender

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
T = pd.Timestamp("2026-03-02 09:00:00", tz="UTC")
CORAL, RED, NUDE = "#F07850", "#B0182A", "#D8A890"
CATALOG = pd.DataFrame({
    "product_id": ["p1", "p2", "p3", "p4", "p5", "p6"],
    "category": ["lipstick", "lipstick", "lipstick", "blush", "blush", "mascara"],
    "shade_hex": [CORAL, RED, NUDE, CORAL, NUDE, "#101010"],
    "finish": ["matte", "satin", "matte", "matte", "satin", "gloss"],
    "brand": ["Acme", "Acme", "Beta", "Beta", "Beta", "Acme"],
    "price": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
    "launched_at": [NOW] + [NOW - timedelta(days=365)] * 5,
})
#: Every phrase the feed may say (models.feed_scoring), for the ranker's reasons.
PHRASES = ("because you tried ", "matches your taste", "rising: ", "new in", "popular now",
           "trending now", "bold, as you asked", "natural, as you asked", "within your ")


def recommender() -> FactorRecommender:
    items = ["p1", "p2", "p3", "p4", "p5"]
    return FactorRecommender.build(
        ["u1", "u2"], items, np.array([[1.0], [-1.0]], np.float32),
        np.array([[0.1], [0.9], [0.8], [0.3], [0.4]], np.float32), None,
        seen_users=np.array([0]), seen_items=np.array([2]),
        popularity=np.array([5.0, 1.0, 1.0, 3.0, 2.0]))


# --- requests and labels -------------------------------------------------------------------------


def test_requests_are_one_second_before_a_persons_first_event_of_each_day() -> None:
    events = pd.DataFrame({
        "user_id": ["a", "a", "b", "a", "b"],
        "ts": pd.to_datetime(["2026-03-02 09:00:00", "2026-03-02 15:00:00",
                              "2026-03-02 11:30:00", "2026-03-03 08:00:00",
                              "2026-03-05 00:00:00"], utc=True),
    })
    requests = fr.sample_requests(events, "2026-03-02", "2026-03-04")
    assert requests[["user_id", "request_ts"]].values.tolist() == [
        ["a", pd.Timestamp("2026-03-02 08:59:59", tz="UTC")],
        ["b", pd.Timestamp("2026-03-02 11:29:59", tz="UTC")],
        ["a", pd.Timestamp("2026-03-03 07:59:59", tz="UTC")],
    ]
    assert requests["request_id"].is_unique
    assert (pd.to_datetime(requests["pool_ts"], utc=True) <= requests["request_ts"]).all()
    assert (requests["pool_ts"] == requests["request_ts"].dt.floor("D")).all()
    capped = fr.sample_requests(events, "2026-03-02", "2026-03-04", max_per_day=1, seed=3)
    assert capped.groupby(capped["request_ts"].dt.floor("D")).size().tolist() == [1, 1]


def test_label_window_starts_strictly_after_the_request_and_ends_at_the_horizon() -> None:
    requests = pd.DataFrame({"request_id": ["r1"], "user_id": ["a"], "request_ts": [T]})
    events = pd.DataFrame({
        "user_id": ["a", "a", "a", "a", "a", "b"],
        "product_id": ["at_t", "just_after", "at_horizon", "after_horizon", "before", "other"],
        "action": ["purchase"] * 6,
        "ts": [T, T + pd.Timedelta(milliseconds=1), T + pd.Timedelta(hours=24),
               T + pd.Timedelta(hours=24, seconds=1), T - pd.Timedelta(seconds=1),
               T + pd.Timedelta(hours=1)],
    })
    actions = fr.label_window_actions(events, requests, pd.Timedelta(hours=24))
    assert sorted(actions["product_id"]) == ["at_horizon", "just_after"]


def test_graded_labels_take_the_highest_action_and_a_dismiss_zeroes_the_pair() -> None:
    actions = pd.DataFrame({
        "request_id": ["r1"] * 7 + ["r2"],
        "product_id": ["p1", "p1", "p2", "p3", "p3", "p4", "p5", "p1"],
        "action": ["try_on", "add_to_cart", "like", "purchase", "dismiss", "shade_swap",
                   "unknown", "save"],
    })
    labels = fr.label_grades(actions)
    assert labels.to_dict() == {("r1", "p1"): 3, ("r1", "p2"): 2, ("r1", "p3"): 0,
                                ("r1", "p4"): 1, ("r1", "p5"): 0, ("r2", "p1"): 2}
    with pytest.raises(ValueError, match="action"):
        fr.label_grades(actions.drop(columns="action"))


# --- features --------------------------------------------------------------------------------------


def test_candidate_features_from_signals_snapshot_and_product_stats() -> None:
    snapshot = build_snapshot(CATALOG, recommender(), now=NOW)
    features = {"fav_shade_family_7d": "coral", "fav_finish_7d": "satin",
                "tries_7d_lipstick": 3, "tries_7d_blush": 1, "skin_tone": 6,
                "boldness": 1.0, "price_cap": 20.0}
    signals = user_signals(features)
    index = {p: i for i, p in enumerate(snapshot.item_ids)}
    candidates = np.array([index["p1"], index["p5"], index["p6"]])
    taste = np.linspace(0, 1, snapshot.n_items)
    raw = fr.recommender_scores(snapshot, "u1")
    stats = fr.product_stat_matrix(snapshot, pd.DataFrame(
        {"product_tries_24h": [7], "product_conversion_7d": [0.5]}, index=["p5"]))
    table = fr.candidate_features(snapshot, signals, features, candidates, taste, raw, stats)
    assert table.shape == (3, len(fr.FEATURES))
    row = {name: table[:, i] for i, name in enumerate(fr.FEATURES)}
    assert row["family_match"].tolist() == [1.0, 0.0, 0.0]  # p1 coral
    assert row["finish_match"].tolist() == [0.0, 1.0, 0.0]  # p5 satin
    assert row["category_share"].tolist() == [0.75, 0.25, 0.0]
    assert row["user_tries_7d"].tolist() == [4.0] * 3
    assert row["price_to_cap"].tolist() == [0.5, 2.5, 3.0]
    assert row["skin_tone"].tolist() == [6.0] * 3
    assert row["taste_score"][:2] == pytest.approx([0.1, 0.4])  # u1 · item + 0 bias
    assert np.isnan(row["taste_score"][2])  # p6 is only in the catalogue
    assert row["taste_pct"].tolist() == pytest.approx(taste[candidates].tolist())
    assert np.isnan(row["product_tries_24h"][0]) and row["product_tries_24h"][1] == 7.0
    assert row["product_conversion_7d"][1] == 0.5
    np.testing.assert_allclose(row["boldness_match"], 1.0 - np.abs(1.0 - row["boldness"]))
    # an unknown person: no taste, no slider, no tone, no cap
    cold = fr.candidate_features(snapshot, user_signals({}), {}, candidates, None, None, None)
    for name in ("taste_pct", "taste_score", "price_to_cap", "boldness_match", "skin_tone",
                 "product_tries_24h"):
        assert np.isnan(cold[:, fr.FEATURES.index(name)]).all(), name


def test_request_candidates_are_the_blends_with_its_order_and_the_models() -> None:
    snapshot = build_snapshot(CATALOG, recommender(), now=NOW)
    rc = fr.request_candidates(snapshot, "u1", {}, None, now=NOW)
    feed = rank_feed(snapshot, "u1", {}, 10, now=NOW)
    blend_order = [item.product_id for item in feed.items]
    ids = snapshot.item_ids[rc.candidates]
    assert sorted(ids) == sorted(blend_order)  # the same candidates (p3, seen, is not one)
    assert [ids[i] for i in np.argsort(rc.blend_rank)] == blend_order
    # u1's model order p2 > p5 > p4 > p1 (p3 seen); p6 has no score and comes last
    assert [ids[i] for i in np.argsort(rc.model_rank)] == ["p2", "p5", "p4", "p1", "p6"]


# --- the model and its evaluation -------------------------------------------------------------------


def planted_table(seed: int, requests: int = 300, per_request: int = 20) -> pd.DataFrame:
    """Requests whose positives are the family-matching candidates (plus noise)."""
    rng = np.random.default_rng(seed)
    n = requests * per_request
    table = pd.DataFrame(rng.random((n, len(fr.FEATURES))), columns=list(fr.FEATURES))
    table["family_match"] = (rng.random(n) < 0.2).astype(float)
    chance = np.where(table["family_match"] == 1, 0.5, 0.03)
    table[fr.LABEL_COL] = (rng.random(n) < chance) * rng.integers(1, 5, n)
    table.insert(0, "product_id", [f"p{i % per_request}" for i in range(n)])
    table.insert(0, fr.REQUEST_COL, np.repeat([f"r{i:04d}" for i in range(requests)],
                                              per_request))
    table[fr.GROUP_COL] = np.repeat(rng.integers(1, 3, requests).astype(str), per_request)
    return table


def test_lambdarank_learns_a_planted_signal_and_beats_a_random_order() -> None:
    config = fr.RankerConfig(n_estimators=40, min_child_samples=20)
    ranker = fr.train_ranker(planted_table(1), config)
    test = planted_table(2)
    requests = test[fr.REQUEST_COL].to_numpy()
    learned = fr.evaluate_ranks(test, fr.ranks_by_score(requests, ranker.score(
        test[list(fr.FEATURES)].to_numpy())))
    shuffled = fr.evaluate_ranks(test, fr.ranks_by_score(
        requests, np.random.default_rng(0).random(len(test))))
    assert learned["ndcg@10"] > 1.5 * shuffled["ndcg@10"]
    assert ranker.importances().index[0] == "family_match"
    assert set(learned["groups"]) == {"1", "2"}
    assert 0 < fr.min_group_ratio(learned, min_requests=30) <= 1.0
    # same seed, same model
    again = fr.train_ranker(planted_table(1), config)
    np.testing.assert_array_equal(again.score(test[list(fr.FEATURES)].to_numpy()),
                                  ranker.score(test[list(fr.FEATURES)].to_numpy()))
    with pytest.raises(ValueError, match="positive"):
        fr.train_ranker(planted_table(1).assign(label=0), config)
    with pytest.raises(ValueError, match="grouped"):
        fr.train_ranker(planted_table(1).sample(frac=1.0, random_state=0), config)


def test_evaluate_ranks_is_binary_ndcg_and_recall_per_request() -> None:
    table = pd.DataFrame({fr.REQUEST_COL: ["a", "a", "a", "b", "b"],
                          "product_id": ["x", "y", "z", "x", "y"],
                          fr.LABEL_COL: [0, 4, 0, 0, 0],  # request b has no positive: left out
                          fr.GROUP_COL: ["1", "1", "1", "2", "2"]})
    ranks = fr.ranks_by_score(table[fr.REQUEST_COL].to_numpy(), np.array([3.0, 2, 1, 1, 2]))
    assert ranks.tolist() == [1, 2, 3, 2, 1]
    result = fr.evaluate_ranks(table, ranks, k=10)
    assert result["ndcg@10"] == pytest.approx(1 / np.log2(3))
    assert result["recall@10"] == 1.0 and result["requests"] == 1
    assert list(result["groups"]) == ["1"]


# --- serving ---------------------------------------------------------------------------------------


def served_ranker() -> fr.FeedRanker:
    """A ranker that learned to put the person's least-tasted products first."""
    rng = np.random.default_rng(5)
    table = planted_table(3, requests=200)
    table["taste_pct"] = rng.random(len(table))
    table[fr.LABEL_COL] = (table["taste_pct"] < 0.3).astype(int) * 2
    return fr.train_ranker(table, fr.RankerConfig(n_estimators=30, min_child_samples=10))


def test_ranked_feed_orders_products_by_the_ranker_with_blend_scores_and_feed_words() -> None:
    snapshot = build_snapshot(CATALOG, recommender(), now=NOW,
                              trend_scores={"shade_family:coral": 4.0})
    features = {"fav_shade_family_7d": "coral", "tries_7d_lipstick": 2, "price_cap": 55.0}
    ranker = served_ranker()
    feed = fr.ranked_feed(ranker, snapshot, "u1", features, 4, now=NOW)
    blend = rank_feed(snapshot, "u1", features, 4, now=NOW)
    assert len(feed.items) == 4 and feed.model_version == blend.model_version
    scores = [item.score for item in feed.items]
    assert scores == sorted(scores, reverse=True)
    assert scores == [item.score for item in blend.items]  # the blend's scores, in rank order
    signals = user_signals(features)
    table = fr.candidate_features(
        snapshot, signals, features, *fr.candidate_indices(snapshot, "u1", signals)[:2],
        fr.recommender_scores(snapshot, "u1"), None)
    candidates = fr.candidate_indices(snapshot, "u1", signals)[0]
    expected = snapshot.item_ids[candidates[np.lexsort((candidates, -ranker.score(table)))]]
    assert [item.product_id for item in feed.items] == list(expected[:4])
    assert "p6" not in expected and "p3" not in expected  # above the cap; seen
    for item in feed.items:
        assert item.reasons and all(r.startswith(PHRASES) for r in item.reasons), item.reasons


def test_contribution_reasons_speak_only_for_positive_true_contributions() -> None:
    snapshot = build_snapshot(CATALOG, None, now=NOW, trend_scores={"shade_family:coral": 4.0})
    signals = user_signals({"fav_shade_family_7d": "coral", "tries_7d_lipstick": 3})
    p1 = int(np.flatnonzero(snapshot.item_ids == "p1")[0])
    contributions = np.zeros(len(fr.FEATURES) + 1)
    for name, value in (("trend", 0.3), ("family_match", 0.5), ("freshness", 0.1),
                        ("taste_pct", 0.4), ("price", -0.9)):
        contributions[fr.FEATURES.index(name)] = value
    weights = FeedWeights()
    reasons = fr.contribution_reasons(contributions, snapshot, p1, signals, 0.95, weights, True)
    assert reasons == ["because you tried coral lipsticks", "matches your taste", "rising: coral"]
    # taste below the feed's threshold says nothing; nothing positive left → "popular now"
    only_taste = np.zeros(len(fr.FEATURES) + 1)
    only_taste[fr.FEATURES.index("taste_pct")] = 1.0
    assert fr.contribution_reasons(only_taste, snapshot, p1, signals, 0.2, weights,
                                   True) == ["popular now"]
    assert fr.contribution_reasons(only_taste, snapshot, p1, signals, None, weights,
                                   False) == ["trending now"]


def test_pyfunc_round_trip_scores_as_the_ranker(tmp_path: Path) -> None:
    from models.ranker_pyfunc import RankerModel, save_artifacts

    ranker = served_ranker()
    artifacts = save_artifacts(ranker, tmp_path)
    model = RankerModel()
    model.load_context(SimpleNamespace(artifacts=artifacts))
    rows = planted_table(9, requests=3)[list(fr.FEATURES)]
    scores = model.predict(None, rows)["score"].to_numpy()
    np.testing.assert_allclose(scores, ranker.score(rows.to_numpy()))
    assert model.ranker.config == ranker.config
    with pytest.raises(ValueError, match="taste_pct"):
        model.predict(None, rows.drop(columns="taste_pct"))


def test_items_past_the_reasoned_ones_carry_the_blends_reasons_for_the_same_product(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    snapshot = build_snapshot(CATALOG, recommender(), now=NOW,
                              trend_scores={"shade_family:coral": 4.0})
    features = {"fav_shade_family_7d": "coral", "tries_7d_lipstick": 2}
    monkeypatch.setattr(fr, "REASONED_ITEMS", 2)
    feed = fr.ranked_feed(served_ranker(), snapshot, "u1", features, 50, now=NOW)
    blend = rank_feed(snapshot, "u1", features, 50, now=NOW)
    assert len(feed.items) == len(blend.items) >= 4  # every candidate, in another order
    assert sorted(i.product_id for i in feed.items) == sorted(i.product_id for i in blend.items)
    assert [i.score for i in feed.items] == [i.score for i in blend.items]
    blend_reasons = {item.product_id: item.reasons for item in blend.items}
    assert all(item.reasons == blend_reasons[item.product_id] for item in feed.items[2:])
    assert feed.personalized == blend.personalized and feed.ranker_version is None
