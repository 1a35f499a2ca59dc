"""Top-k ranking metrics: Precision@k, Recall@k, NDCG@k, MAP@k and catalogue coverage.

In: the recommendations (one row per user and recommended item with its 1-based `rank`) and the
held-out truth (one row per relevant (user, item) pair). Out: one number per metric, averaged over
the users of the truth, or one row per user (`per_user_metrics`) for group breakdowns.

Definitions follow Microsoft Recommenders (`recommenders/evaluation/python_evaluation.py`) with
binary relevance:

- precision@k = hits in the top k / k
- recall@k    = hits in the top k / relevant items
- ndcg@k      = Σ_hits 1/log2(1 + rank) / Σ_{r ≤ min(k, relevant)} 1/log2(1 + r)
- map@k       = Σ_hits precision@rank / min(k, relevant)        (their current `map_at_k`)
- map_legacy@k = Σ_hits precision@rank / relevant                (their older `map`, which the
  published MovieLens table used; it is lower whenever a user has more than k relevant items)
- coverage@k  = distinct items recommended to anyone / catalogue size

One deliberate difference: a user of the truth who got no recommendation counts with zeros
(Microsoft Recommenders averages over the users present in both frames only). Every user the
models here evaluate gets k items, so the two agree on every number reported.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from glamcast.core.names import PRODUCT_COL, USER_COL

RANK_COL = "rank"
#: Names of the per-user metrics, in report order.
METRICS = ("ndcg", "precision", "recall", "map", "map_legacy")


def metric_name(metric: str, k: int) -> str:
    """``ndcg@10`` style name used in reports and the bench RESULT line."""
    return f"{metric}@{k}"


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; it has {list(frame.columns)}")


def per_user_metrics(
    recommended: pd.DataFrame,
    truth: pd.DataFrame,
    k: int,
    *,
    user_col: str = USER_COL,
    item_col: str = PRODUCT_COL,
    rank_col: str = RANK_COL,
) -> pd.DataFrame:
    """One row per user of `truth`: ``relevant, hits`` and the `METRICS` at `k`.

    `recommended`: (user, item, rank) with ranks 1, 2, ... per user; rows past rank k are
    ignored. `truth`: (user, item) relevant pairs; duplicates count once.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    _require(recommended, [user_col, item_col, rank_col], "recommended")
    _require(truth, [user_col, item_col], "truth")
    truth = truth[[user_col, item_col]].drop_duplicates()
    relevant = truth.groupby(user_col, sort=True).size().rename("relevant")
    top = recommended.loc[recommended[rank_col] <= k, [user_col, item_col, rank_col]]
    hits = top.merge(truth, on=[user_col, item_col], how="inner")
    hits = hits.sort_values([user_col, rank_col], kind="stable")
    ranks = hits[rank_col].to_numpy(dtype=np.float64)
    # n-th hit of its user at rank r contributes precision@r = n / r to average precision.
    ordinal = hits.groupby(user_col, sort=False).cumcount().to_numpy() + 1.0
    hits = hits.assign(gain=1.0 / np.log2(1.0 + ranks), precision_at_hit=ordinal / ranks)
    sums = hits.groupby(user_col, sort=True).agg(
        hits=(rank_col, "size"), dcg=("gain", "sum"), ap_sum=("precision_at_hit", "sum")
    )
    out = pd.DataFrame(relevant).join(sums, how="left").fillna(
        {"hits": 0, "dcg": 0.0, "ap_sum": 0.0}
    )
    n_relevant = out["relevant"].to_numpy(dtype=np.int64)
    ideal = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(2.0 + np.arange(k)))])
    capped = np.minimum(n_relevant, k)
    out["ndcg"] = out["dcg"].to_numpy() / ideal[capped]
    out["precision"] = out["hits"] / k
    out["recall"] = out["hits"] / n_relevant
    out["map"] = out["ap_sum"] / capped
    out["map_legacy"] = out["ap_sum"] / n_relevant
    out["hits"] = out["hits"].astype(np.int64)
    return out[["relevant", "hits", *METRICS]].reset_index()


def coverage(recommended: pd.DataFrame, n_items: int, k: int, *, item_col: str = PRODUCT_COL,
             rank_col: str = RANK_COL) -> float:
    """Share of the catalogue (`n_items`) recommended to at least one user in a top k."""
    if n_items <= 0:
        return 0.0
    return float(recommended.loc[recommended[rank_col] <= k, item_col].nunique() / n_items)


def ranking_metrics(
    recommended: pd.DataFrame,
    truth: pd.DataFrame,
    k: int,
    *,
    n_items: int | None = None,
    user_col: str = USER_COL,
    item_col: str = PRODUCT_COL,
    rank_col: str = RANK_COL,
) -> dict[str, float]:
    """``{"ndcg@k", "precision@k", "recall@k", "map@k", "map_legacy@k", "coverage@k", "users"}``.

    Averages over the users of `truth`; coverage needs `n_items` (left out: not reported).
    """
    users = per_user_metrics(recommended, truth, k, user_col=user_col, item_col=item_col,
                             rank_col=rank_col)
    result = {metric_name(m, k): float(users[m].mean()) if len(users) else 0.0 for m in METRICS}
    if n_items is not None:
        result[metric_name("coverage", k)] = coverage(recommended, n_items, k, item_col=item_col,
                                                      rank_col=rank_col)
    result["users"] = float(len(users))
    return result


def metrics_by_k(
    recommended: pd.DataFrame,
    truth: pd.DataFrame,
    ks: Sequence[int],
    *,
    user_col: str = USER_COL,
    item_col: str = PRODUCT_COL,
    rank_col: str = RANK_COL,
) -> pd.DataFrame:
    """One row per k in `ks`: the mean of each of `METRICS` (for a metric-by-k plot)."""
    rows = []
    for k in ks:
        users = per_user_metrics(recommended, truth, k, user_col=user_col, item_col=item_col,
                                 rank_col=rank_col)
        rows.append({"k": k, **{m: float(users[m].mean()) if len(users) else 0.0
                                for m in METRICS}})
    return pd.DataFrame(rows)


def metrics_by_group(
    recommended: pd.DataFrame,
    truth: pd.DataFrame,
    groups: pd.Series,
    k: int,
    *,
    user_col: str = USER_COL,
    item_col: str = PRODUCT_COL,
    rank_col: str = RANK_COL,
) -> pd.DataFrame:
    """Mean metrics per group of users: `groups` maps user id (index) → group label.

    Users without a label form the group ``"unknown"``. Columns: group, users, `METRICS`.
    """
    users = per_user_metrics(recommended, truth, k, user_col=user_col, item_col=item_col,
                             rank_col=rank_col)
    mapped = users[user_col].map(groups.astype(object))
    label = [str(value) if not pd.isna(value) else "unknown" for value in mapped]
    table = users.assign(group=label).groupby("group", sort=True).agg(
        users=(user_col, "size"), **{m: (m, "mean") for m in METRICS}
    )
    table = table.reset_index()
    numeric = pd.to_numeric(table["group"], errors="coerce")
    order = np.lexsort((table["group"].to_numpy(), numeric.fillna(np.inf).to_numpy()))
    return table.iloc[order].reset_index(drop=True)  # 1, 2, ..., 10, then labels, then unknown
