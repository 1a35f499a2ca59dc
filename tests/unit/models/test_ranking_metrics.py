"""Ranking metrics on tiny tables with hand-computed values (Microsoft Recommenders definitions)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from models.ranking_metrics import (
    coverage,
    metrics_by_group,
    metrics_by_k,
    per_user_metrics,
    ranking_metrics,
)


def recs(rows: dict[str, list[str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(user, item, rank) for user, items in rows.items() for rank, item in enumerate(items, 1)],
        columns=["user_id", "product_id", "rank"],
    )


def truth(rows: dict[str, list[str]]) -> pd.DataFrame:
    return pd.DataFrame([(user, item) for user, items in rows.items() for item in items],
                        columns=["user_id", "product_id"])


RECOMMENDED = recs({"a": ["x", "q", "y"], "b": ["q", "r", "s"], "c": ["a", "b", "x"]})
TRUTH = truth({"a": ["x", "y", "z"], "b": ["w"], "c": ["a", "b", "c", "d", "e"]})
IDCG3 = 1 + 1 / math.log2(3) + 0.5


def test_per_user_values_match_the_definitions() -> None:
    users = per_user_metrics(RECOMMENDED, TRUTH, k=3).set_index("user_id")
    a, b, c = users.loc["a"], users.loc["b"], users.loc["c"]
    # a: hits at ranks 1 and 3 of 3 relevant
    assert a["hits"] == 2 and a["relevant"] == 3
    assert a["precision"] == pytest.approx(2 / 3)
    assert a["recall"] == pytest.approx(2 / 3)
    assert a["ndcg"] == pytest.approx((1 + 0.5) / IDCG3)
    assert a["map"] == pytest.approx((1 / 1 + 2 / 3) / 3)
    assert a["map_legacy"] == pytest.approx((1 / 1 + 2 / 3) / 3)
    # b: no hit
    assert (b[["precision", "recall", "ndcg", "map", "map_legacy"]] == 0).all()
    # c: 5 relevant, hits at 1 and 2; map divides by min(k, 5) = 3, the legacy map by 5
    assert c["recall"] == pytest.approx(2 / 5)
    assert c["ndcg"] == pytest.approx((1 + 1 / math.log2(3)) / IDCG3)
    assert c["map"] == pytest.approx(2 / 3)
    assert c["map_legacy"] == pytest.approx(2 / 5)


def test_means_over_truth_users_and_coverage() -> None:
    metrics = ranking_metrics(RECOMMENDED, TRUTH, k=3, n_items=10)
    assert metrics["users"] == 3
    assert metrics["precision@3"] == pytest.approx((2 / 3 + 0 + 2 / 3) / 3)
    assert metrics["recall@3"] == pytest.approx((2 / 3 + 0 + 2 / 5) / 3)
    assert metrics["map@3"] == pytest.approx(((1 + 2 / 3) / 3 + 0 + 2 / 3) / 3)
    assert metrics["map_legacy@3"] == pytest.approx(((1 + 2 / 3) / 3 + 0 + 2 / 5) / 3)
    # distinct recommended: x q y r s a b = 7 of 10
    assert metrics["coverage@3"] == pytest.approx(0.7)


def test_cutoff_ignores_deeper_ranks_and_ideal_uses_min_k_relevant() -> None:
    users = per_user_metrics(RECOMMENDED, TRUTH, k=1).set_index("user_id")
    assert users.loc["a", "ndcg"] == pytest.approx(1.0)  # one slot, filled with a hit
    assert users.loc["a", "precision"] == pytest.approx(1.0)
    assert users.loc["a", "recall"] == pytest.approx(1 / 3)
    assert users.loc["a", "map"] == pytest.approx(1.0)
    assert users.loc["a", "map_legacy"] == pytest.approx(1 / 3)
    assert coverage(RECOMMENDED, 10, k=1) == pytest.approx(0.3)


def test_user_without_recommendations_counts_zero() -> None:
    metrics = ranking_metrics(RECOMMENDED, truth({"a": ["x"], "zz": ["x"]}), k=3)
    assert metrics["users"] == 2
    assert metrics["ndcg@3"] == pytest.approx(0.5)


def test_duplicate_truth_rows_count_once() -> None:
    doubled = pd.concat([TRUTH, TRUTH])
    assert ranking_metrics(RECOMMENDED, doubled, 3) == ranking_metrics(RECOMMENDED, TRUTH, 3)


def test_by_k_and_by_group() -> None:
    table = metrics_by_k(RECOMMENDED, TRUTH, [1, 3])
    assert table["k"].tolist() == [1, 3]
    assert table.loc[1, "ndcg"] == pytest.approx(ranking_metrics(RECOMMENDED, TRUTH, 3)["ndcg@3"])
    groups = metrics_by_group(RECOMMENDED, TRUTH, pd.Series({"a": 3, "b": 3}), k=3)
    assert groups["group"].tolist() == ["3", "unknown"]
    assert groups["users"].tolist() == [2, 1]
    assert groups.loc[0, "precision"] == pytest.approx(1 / 3)


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        per_user_metrics(RECOMMENDED, TRUTH, k=0)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['rank'\]"):
        per_user_metrics(RECOMMENDED.drop(columns="rank"), TRUTH, k=3)
