"""The feed's learned ranker (pure numpy/pandas/LightGBM): features, labels, model, evaluation,
reasons.

Two stages: the candidates are the feed's own (`models.feed_scoring.candidate_indices`: the
recommender champion's top N unseen products, the trending products, the favourite shade
family's most popular), and a LightGBM `lambdarank` model orders them, trained on what people did
next after a (person, request time) (`jobs/train_ranker.py`). Training and serving build the
ranker's features with the SAME function, `candidate_features`, from the same inputs:

- the person's `feed_ranking_v1` user features (`user_activity_fv`, `user_history_fv`,
  `user_preferences_fv`: the one online read of the feed, `glamcast.platform.feed_engine.USER_REFS`),
  cleaned by `models.feed_scoring.user_signals`;
- the snapshot's item arrays (`FeedSnapshot`: popularity, trend, freshness, price, boldness,
  shade family, finish, category) and the recommender's score u·v + b;
- the product features of `product_popularity_fv` (`PRODUCT_STAT_FEATURES`, one row per item,
  read into the pools, not per request).

`FEATURES` lists the columns (`(n_candidates, len(FEATURES))` float64; NaN = unknown, which
LightGBM routes on its own). Labels are graded (`label_grades`): nothing 0, try 1, like / save /
share 2, add to cart 3, purchase 4; a dismiss makes the pair 0 whatever else happened.

`ranked_feed` serves: it orders a person's product candidates by the ranker and keeps the feed's
answer as it is (looks, reasons' wording, scores in [0, 1]): the products take the blend's own
scores, sorted, in the ranker's order, so looks interleave as they do today. Reasons come from
the ranker's largest positive feature contributions (`pred_contrib`), each written in the words
the feed already uses ("matches your taste", "because you tried coral lipsticks", "rising:
coral", "new in", "popular now", "bold, as you asked", "within your €25 budget").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from glamcast.core.features import CATEGORIES
from models.feed_scoring import (
    _CATEGORY_CODE,
    Feed,
    FeedItem,
    FeedSnapshot,
    FeedWeights,
    _money,
    _plural,
    blend_scores,
    candidate_indices,
    look_entries,
    product_reasons,
    rank_feed,
    user_signals,
)
from models.ranking_metrics import metric_name, ranking_metrics

#: Product features of `product_popularity_fv` the ranker reads per item (pools, not requests).
PRODUCT_STAT_FEATURES = (
    "product_tries_24h",
    "product_tries_7d",
    "product_purchases_7d",
    "product_conversion_7d",
)
#: The ranker's feature columns, in order (`candidate_features`).
FEATURES = (
    "taste_pct",  # percentile of u·v + b among all products (NaN: person unknown to the model)
    "taste_score",  # u·v + b of the recommender champion (NaN: unknown person)
    "popularity_pct",  # percentile of training popularity (+ live tries)
    "family_match",  # shade family = the person's favourite of 7 d (1/0)
    "finish_match",  # finish = favourite of 7 d
    "category_share",  # share of the person's 7 d tries in the product's category
    "user_tries_7d",  # the person's tries over 7 d (all categories)
    "trend",  # the product's trend term score in [0, 1]
    "freshness",  # 0.5 ** (launch age / half-life)
    *PRODUCT_STAT_FEATURES,
    "price",  # NaN: unknown
    "price_to_cap",  # price / the person's price cap (NaN: no cap)
    "boldness",  # the product's boldness in [0, 1]
    "boldness_match",  # 1 - |slider - boldness| (NaN: no slider)
    "skin_tone",  # consented Monk tone 1..10 (NaN: not consented)
    "category_code",  # index in CATEGORIES (-1 unknown)
)
#: Label grade of each action on a candidate within the horizon; the highest counts.
ACTION_GRADES: dict[str, int] = {
    "try_on": 1, "shade_swap": 1, "like": 2, "save": 2, "share": 2, "add_to_cart": 3,
    "purchase": 4,
}
NEGATIVE_ACTIONS = frozenset({"dismiss"})
#: Column names of the training table besides FEATURES.
REQUEST_COL, LABEL_COL, GROUP_COL = "request_id", "label", "skin_tone_group"


# --- features ------------------------------------------------------------------------------------


def recommender_scores(snapshot: FeedSnapshot, user_id: str) -> np.ndarray | None:
    """(n_items,) u·v + b of the snapshot's recommender for a known person (None otherwise);
    the snapshot's catalogue-only items (past the model's) get NaN."""
    recommender = snapshot.recommender
    row = snapshot.user_rows.get(user_id)
    if recommender is None or row is None:
        return None
    raw = recommender.user_factors[row] @ recommender.item_factors.T + recommender.item_bias
    out = np.full(snapshot.n_items, np.nan)
    out[: len(raw)] = raw
    return out


def candidate_features(
    snapshot: FeedSnapshot,
    signals: Mapping[str, Any],
    features: Mapping[str, Any] | None,
    candidates: np.ndarray,
    taste: np.ndarray | None,
    raw_taste: np.ndarray | None,
    product_stats: np.ndarray | None,
) -> np.ndarray:
    """(len(candidates), len(FEATURES)) float64 features of a person's candidates.

    `signals` is `user_signals(features)`; `taste` the percentile and `raw_taste` the score of
    the recommender per item (None: unknown person); `product_stats` (n_items,
    len(PRODUCT_STAT_FEATURES)) of the snapshot's items (None or NaN: unknown)."""
    c = np.asarray(candidates, dtype=np.int64)
    n = len(c)
    out = np.full((n, len(FEATURES)), np.nan)
    col = {name: i for i, name in enumerate(FEATURES)}
    if taste is not None:
        out[:, col["taste_pct"]] = taste[c]
    if raw_taste is not None:
        out[:, col["taste_score"]] = raw_taste[c]
    out[:, col["popularity_pct"]] = snapshot.popularity_pct[c]
    codes = snapshot.codes
    out[:, col["family_match"]] = snapshot.family_code[c] == codes.get(signals["family"], -2)
    out[:, col["finish_match"]] = snapshot.finish_code[c] == codes.get(signals["finish"], -2)
    share = signals["category_share"]
    shares = np.array([share[name] for name in CATEGORIES] + [0.0])
    out[:, col["category_share"]] = shares[snapshot.category_code[c]]
    features = features or {}
    out[:, col["user_tries_7d"]] = sum(float(features.get(f"tries_7d_{name}") or 0)
                                       for name in CATEGORIES)
    out[:, col["trend"]] = snapshot.trend[c]
    out[:, col["freshness"]] = snapshot.freshness[c]
    if product_stats is not None and len(product_stats) == snapshot.n_items:
        start = col[PRODUCT_STAT_FEATURES[0]]
        out[:, start:start + len(PRODUCT_STAT_FEATURES)] = product_stats[c]
    if len(snapshot.price) == snapshot.n_items:
        price = snapshot.price[c]
        out[:, col["price"]] = price
        cap = signals.get("price_cap")
        if cap is not None and cap > 0:
            out[:, col["price_to_cap"]] = price / cap
    if len(snapshot.boldness) == snapshot.n_items:
        bold = snapshot.boldness[c]
        out[:, col["boldness"]] = bold
        slider = signals.get("boldness")
        if slider is not None:
            out[:, col["boldness_match"]] = 1.0 - np.abs(slider - bold)
    if signals.get("skin_tone") is not None:
        out[:, col["skin_tone"]] = signals["skin_tone"]
    out[:, col["category_code"]] = snapshot.category_code[c]
    return out


def product_stat_matrix(snapshot: FeedSnapshot, stats: pd.DataFrame | None) -> np.ndarray:
    """(n_items, len(PRODUCT_STAT_FEATURES)) float64 of the snapshot's items from a frame
    indexed by product_id (missing products and values: NaN)."""
    if stats is None or stats.empty:
        return np.full((snapshot.n_items, len(PRODUCT_STAT_FEATURES)), np.nan)
    frame = stats.reindex(pd.Index(snapshot.item_ids, dtype=object))
    columns = [pd.to_numeric(frame[name], errors="coerce").to_numpy(float)
               if name in frame else np.full(snapshot.n_items, np.nan)
               for name in PRODUCT_STAT_FEATURES]
    return np.column_stack(columns)


def _everything(snapshot: FeedSnapshot, candidates: np.ndarray) -> int:
    """A `k` for `rank_feed` that keeps every candidate product and every look."""
    return max(len(candidates) + len(snapshot.looks.look_ids), 1)


@dataclass
class RequestCandidates:
    """A person's candidates at one request, their features and the blend's order of them."""

    candidates: np.ndarray  # (n,) item indices of the snapshot
    features: np.ndarray  # (n, len(FEATURES))
    blend_rank: np.ndarray  # (n,) 1 = the blend's first product
    model_rank: np.ndarray  # (n,) 1 = the recommender's best (popularity for unknown people)
    signals: dict[str, Any]
    taste: np.ndarray | None


def request_candidates(snapshot: FeedSnapshot, user_id: str, features: Mapping[str, Any] | None,
                       product_stats: np.ndarray | None, weights: FeedWeights | None = None,
                       now: datetime | None = None) -> RequestCandidates:
    """The feed's candidates for a person (exactly the blend's), their features, and the ranks
    the blend (`rank_feed`, products only) and the candidate model give them."""
    weights = weights or FeedWeights()
    signals = user_signals(features)
    candidates, taste, _ = candidate_indices(snapshot, user_id, signals)
    raw = recommender_scores(snapshot, user_id)
    table = candidate_features(snapshot, signals, features, candidates, taste, raw, product_stats)
    blend = rank_feed(snapshot, user_id, features, _everything(snapshot, candidates), weights,
                      now=now)
    position = {item.product_id: r for r, item in enumerate(
        (item for item in blend.items if item.product_id is not None), start=1)}
    blend_rank = np.array([position.get(str(snapshot.item_ids[i]), len(candidates) + 1)
                           for i in candidates], dtype=np.int64)
    model_score = raw[candidates] if raw is not None else snapshot.popularity[candidates]
    model_score = np.where(np.isnan(model_score), -np.inf, model_score)
    model_rank = np.empty(len(candidates), dtype=np.int64)
    model_rank[np.lexsort((candidates, -model_score))] = np.arange(1, len(candidates) + 1)
    return RequestCandidates(candidates, table, blend_rank, model_rank, signals, taste)


# --- labels --------------------------------------------------------------------------------------


def label_grades(actions: pd.DataFrame, *, request_col: str = REQUEST_COL,
                 item_col: str = "product_id", action_col: str = "action") -> pd.Series:
    """Graded label per (request, product) from the actions in its label window: the highest
    `ACTION_GRADES`, and 0 when any of them is a dismiss (`NEGATIVE_ACTIONS`). Unknown actions
    count 0. Returns a Series indexed by (request, product), int64."""
    for column in (request_col, item_col, action_col):
        if column not in actions:
            raise ValueError(f"actions lack column {column!r}; they have {list(actions.columns)}")
    grade = actions[action_col].map(ACTION_GRADES).fillna(0).astype(np.int64)
    negative = actions[action_col].isin(NEGATIVE_ACTIONS)
    frame = pd.DataFrame({request_col: actions[request_col], item_col: actions[item_col],
                          "grade": grade, "negative": negative})
    grouped = frame.groupby([request_col, item_col], sort=True)
    best = grouped["grade"].max()
    dismissed = grouped["negative"].any()
    return best.where(~dismissed, 0).astype(np.int64).rename(LABEL_COL)


def sample_requests(events: pd.DataFrame, start: datetime | pd.Timestamp,
                    end: datetime | pd.Timestamp, *, max_per_day: int | None = None,
                    seed: int = 42, user_col: str = "user_id", ts_col: str = "ts"
                    ) -> pd.DataFrame:
    """(person, request time) pairs of [start, end): for each person and UTC day with events,
    one request one second before their first event of the day (they open the feed, then act).
    At most `max_per_day` requests a day (sampled, seeded). Columns: `request_id`, `user_id`,
    `request_ts`, `pool_ts` (the day's midnight: the candidate pools as of then, never later
    than the request), sorted by request time."""
    ts = pd.to_datetime(events[ts_col], utc=True)
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    lo = lo.tz_localize("UTC") if lo.tzinfo is None else lo
    hi = hi.tz_localize("UTC") if hi.tzinfo is None else hi
    frame = pd.DataFrame({"user_id": events[user_col].astype(str).to_numpy(), "ts": ts})
    frame = frame[(frame["ts"] >= lo) & (frame["ts"] < hi)]
    frame["day"] = frame["ts"].dt.floor("D")
    first = frame.groupby(["day", "user_id"], sort=True)["ts"].min().reset_index()
    first["request_ts"] = first["ts"] - pd.Timedelta(seconds=1)
    first = first[first["request_ts"] >= lo]
    if max_per_day is not None:
        # a seeded random order within each day, the first `max_per_day` of it kept
        draw = np.random.default_rng(seed).random(len(first))
        order = first.assign(_draw=draw).groupby("day", sort=False)["_draw"].rank(method="first")
        first = first[order.to_numpy() <= max_per_day]
    out = pd.DataFrame({"user_id": first["user_id"].to_numpy(),
                        "request_ts": first["request_ts"].to_numpy(),
                        "pool_ts": first["request_ts"].dt.floor("D").to_numpy()})
    out = out.sort_values(["request_ts", "user_id"], kind="stable").reset_index(drop=True)
    out.insert(0, REQUEST_COL, [f"r{i:07d}" for i in range(len(out))])
    return out


def label_window_actions(events: pd.DataFrame, requests: pd.DataFrame, horizon: pd.Timedelta,
                         *, ts_col: str = "ts") -> pd.DataFrame:
    """The person's actions in each request's label window, request_ts < ts <= request_ts +
    horizon (strictly after the request: what they did next). Columns: `request_id`,
    `product_id`, `action`."""
    frame = pd.DataFrame({"user_id": events["user_id"].astype(str).to_numpy(),
                          "product_id": events["product_id"].astype(str).to_numpy(),
                          "action": events["action"].to_numpy(),
                          "ts": pd.to_datetime(events[ts_col], utc=True).to_numpy()})
    joined = requests[[REQUEST_COL, "user_id", "request_ts"]].merge(frame, on="user_id")
    request_ts = pd.to_datetime(joined["request_ts"], utc=True)
    event_ts = pd.to_datetime(joined["ts"], utc=True)
    inside = (event_ts > request_ts) & (event_ts <= request_ts + horizon)
    return joined.loc[inside, [REQUEST_COL, "product_id", "action"]].reset_index(drop=True)


def training_table(
    requests: pd.DataFrame,
    user_features: pd.DataFrame,
    pools: Mapping[Any, tuple[FeedSnapshot, np.ndarray | None]],
    labels: pd.Series,
    weights: FeedWeights | None = None,
    on_progress: Any = None,
) -> pd.DataFrame:
    """One row per (request, candidate): `request_id`, `user_id`, `product_id`, `FEATURES`,
    `label` (0 without an action), `blend_rank`, `model_rank`, `skin_tone_group` (the person's
    consented Monk tone at the request, "unknown" without).

    `user_features` holds, row for row with `requests`, the person's `feed_ranking_v1` user
    features as of the request time (Feast `training_set`); `pools` maps each `pool_ts` to the
    snapshot and product stats of then; `labels` is `label_grades` of the label windows."""
    weights = weights or FeedWeights()
    parts = []
    label_map = labels.to_dict()
    records = user_features.to_dict("records")
    for n, request in enumerate(requests.itertuples(index=False)):
        snapshot, stats = pools[request.pool_ts]
        features = {key: (None if isinstance(value, float) and math.isnan(value) else value)
                    for key, value in records[n].items()}
        rc = request_candidates(snapshot, request.user_id, features, stats, weights,
                                now=pd.Timestamp(request.pool_ts).to_pydatetime())
        if not len(rc.candidates):
            continue
        products = snapshot.item_ids[rc.candidates].astype(str)
        part = pd.DataFrame(rc.features, columns=list(FEATURES))
        part.insert(0, "product_id", products)
        part.insert(0, "user_id", request.user_id)
        part.insert(0, REQUEST_COL, request.request_id)
        part[LABEL_COL] = [label_map.get((request.request_id, p), 0) for p in products]
        part["blend_rank"] = rc.blend_rank
        part["model_rank"] = rc.model_rank
        tone = rc.signals.get("skin_tone")
        part[GROUP_COL] = "unknown" if tone is None else str(tone)
        parts.append(part)
        if on_progress is not None:
            on_progress(n + 1, len(requests))
    if not parts:
        return pd.DataFrame(columns=[REQUEST_COL, "user_id", "product_id", *FEATURES, LABEL_COL,
                                     "blend_rank", "model_rank", GROUP_COL])
    return pd.concat(parts, ignore_index=True)


# --- the model -----------------------------------------------------------------------------------


@dataclass
class RankerConfig:
    """LightGBM lambdarank hyperparameters (saved with every run)."""

    # small trees, few rounds: the feed computes pred_contrib (TreeSHAP, ∝ trees × leaves ×
    # depth²) for every answer's first items; 300 trees of 31 leaves cost ~18× more per request.
    # 200 × 0.05 was the best of six settings on a validation split carved from the training
    # days, at each of three seeds (bench/ranker_offline.py --validation, docs/ranker.md)
    n_estimators: int = 200  # boosting rounds
    learning_rate: float = 0.05  # shrinkage per round
    num_leaves: int = 15  # leaves per tree
    min_child_samples: int = 50  # rows per leaf at least (guards small groups)
    subsample: float = 0.8  # rows sampled per round (bagging)
    colsample_bytree: float = 0.8  # features sampled per tree
    reg_lambda: float = 1.0  # L2 on leaf values
    eval_at: int = 10  # NDCG cut-off that lambdarank optimises (lambdarank_truncation_level)
    seed: int = 42  # bagging and feature sampling
    threads: int = 1  # LightGBM threads (the shared machines: 1)

    def to_params(self, prefix: str = "ranker.") -> dict[str, Any]:
        return {f"{prefix}{name}": value for name, value in asdict(self).items()}


@dataclass
class FeedRanker:
    """A trained LightGBM lambdarank booster over `FEATURES`."""

    booster: Any  # lightgbm.Booster
    features: tuple[str, ...] = FEATURES
    config: RankerConfig = field(default_factory=RankerConfig)

    def score(self, table: np.ndarray) -> np.ndarray:
        """(n,) ranking scores (higher first) of (n, len(features)) rows."""
        if not len(table):
            return np.empty(0)
        return np.asarray(self.booster.predict(table, num_threads=self.config.threads))

    def contributions(self, table: np.ndarray) -> np.ndarray:
        """(n, len(features) + 1) SHAP contributions of each feature (last: the bias)."""
        if not len(table):
            return np.empty((0, len(self.features) + 1))
        return np.asarray(self.booster.predict(table, pred_contrib=True,
                                               num_threads=self.config.threads))

    def importances(self) -> pd.Series:
        """Total gain per feature, largest first."""
        gain = self.booster.feature_importance(importance_type="gain")
        return pd.Series(gain, index=list(self.features)).sort_values(ascending=False)

    def to_string(self) -> str:
        return self.booster.model_to_string()

    @classmethod
    def from_string(cls, text: str, config: RankerConfig | None = None) -> FeedRanker:
        import lightgbm

        booster = lightgbm.Booster(model_str=text)
        names = tuple(booster.feature_name())
        if names != FEATURES:
            raise ValueError(f"ranker features {names} differ from this code's {FEATURES}")
        return cls(booster, names, config or RankerConfig())


def _group_sizes(requests: np.ndarray) -> np.ndarray:
    """Sizes of the runs of equal request ids (rows must be grouped by request)."""
    if not len(requests):
        return np.empty(0, dtype=np.int64)
    change = np.flatnonzero(requests[1:] != requests[:-1]) + 1
    bounds = np.concatenate([[0], change, [len(requests)]])
    if len(np.unique(requests)) != len(bounds) - 1:
        raise ValueError("training rows must be grouped by request (contiguous request ids)")
    return np.diff(bounds)


def train_ranker(table: pd.DataFrame, config: RankerConfig | None = None) -> FeedRanker:
    """Fit lambdarank on a training table (`FEATURES`, `label`, `request_id`; rows of a request
    contiguous). Requests without a positive label teach lambdarank nothing and are dropped."""
    config = config or RankerConfig()
    import lightgbm

    missing = [name for name in (*FEATURES, LABEL_COL, REQUEST_COL) if name not in table]
    if missing:
        raise ValueError(f"training table lacks column(s) {missing}")
    useful = table.groupby(REQUEST_COL, sort=False)[LABEL_COL].transform("max") > 0
    table = table[useful]
    if table.empty:
        raise ValueError("no request of the training table has a positive label")
    groups = _group_sizes(table[REQUEST_COL].to_numpy())
    params = {
        "objective": "lambdarank", "metric": "ndcg", "eval_at": [config.eval_at],
        "lambdarank_truncation_level": config.eval_at, "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves, "min_child_samples": config.min_child_samples,
        "subsample": config.subsample, "subsample_freq": 1 if config.subsample < 1 else 0,
        "colsample_bytree": config.colsample_bytree, "reg_lambda": config.reg_lambda,
        "seed": config.seed, "deterministic": True, "num_threads": config.threads,
        "verbosity": -1,
    }
    data = lightgbm.Dataset(table[list(FEATURES)].to_numpy(np.float64),
                            label=table[LABEL_COL].to_numpy(np.int64), group=groups,
                            feature_name=list(FEATURES), free_raw_data=True)
    booster = lightgbm.train(params, data, num_boost_round=config.n_estimators)
    return FeedRanker(booster, FEATURES, config)


# --- evaluation ----------------------------------------------------------------------------------


def ranks_by_score(requests: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """1-based rank of each row within its request, highest score first (ties: row order)."""
    frame = pd.DataFrame({"r": requests, "s": -np.asarray(scores, float),
                          "i": np.arange(len(requests))})
    order = frame.sort_values(["r", "s", "i"], kind="stable")
    ranks = np.empty(len(frame), dtype=np.int64)
    ranks[order["i"].to_numpy()] = order.groupby("r", sort=False).cumcount().to_numpy() + 1
    return ranks


def evaluate_ranks(table: pd.DataFrame, ranks: np.ndarray, k: int = 10,
                   group_col: str | None = GROUP_COL) -> dict[str, Any]:
    """NDCG@k and recall@k of one ordering of the table's candidates (binary relevance: label
    ≥ 1), averaged over the requests with a relevant candidate, overall and per `group_col`
    (``{"ndcg@k", "recall@k", "requests", "groups": {group: {"ndcg@k", "requests"}}}``)."""
    frame = pd.DataFrame({"user_id": table[REQUEST_COL].to_numpy(),
                          "product_id": table["product_id"].to_numpy(), "rank": ranks})
    truth = frame.loc[table[LABEL_COL].to_numpy() > 0, ["user_id", "product_id"]]
    metrics = ranking_metrics(frame, truth, k)
    ndcg, recall = metric_name("ndcg", k), metric_name("recall", k)
    out: dict[str, Any] = {ndcg: metrics[ndcg], recall: metrics[recall],
                           "requests": int(metrics["users"]), "groups": {}}
    if group_col and group_col in table:
        group_of = table.groupby(REQUEST_COL, sort=False)[group_col].first()
        for group, requests in group_of.groupby(group_of, sort=True):
            chosen = set(requests.index)
            sub = truth[truth["user_id"].isin(chosen)]
            if sub.empty:
                continue
            m = ranking_metrics(frame[frame["user_id"].isin(chosen)], sub, k)
            out["groups"][group] = {ndcg: m[ndcg], "requests": int(m["users"])}
    return out


def min_group_ratio(evaluation: Mapping[str, Any], k: int = 10, min_requests: int = 30,
                    skip: Sequence[str] = ("unknown",)) -> float:
    """Lowest NDCG@k of a group (with `min_requests` or more, not in `skip`) over the overall."""
    ndcg = metric_name("ndcg", k)
    overall = evaluation[ndcg]
    ratios = [g[ndcg] / overall for name, g in evaluation["groups"].items()
              if g["requests"] >= min_requests and str(name) not in skip and overall > 0]
    return float(min(ratios)) if ratios else math.nan


# --- serving -------------------------------------------------------------------------------------


def _reason(name: str, snapshot: FeedSnapshot, i: int, signals: Mapping[str, Any],
            taste_pct: float | None, weights: FeedWeights) -> str | None:
    """The feed's words for feature `name` of item `i`, when what they say is true."""
    if name in ("taste_pct", "taste_score"):
        return ("matches your taste" if taste_pct is not None
                and taste_pct >= weights.taste_reason_pct else None)
    category = snapshot.category[i]
    family_match = signals["family"] is not None and snapshot.family[i] == signals["family"]
    category_match = category is not None and category == signals["top_category"]
    if name == "family_match" and family_match:
        if category_match:
            return f"because you tried {signals['family']} {_plural(category)}"
        return f"because you tried {signals['family']} shades"
    if name == "category_share" and category_match:
        return f"because you tried {_plural(category)}"
    if name == "trend" and snapshot.trend_raw[i] >= weights.rising_trend_score \
            and snapshot.trend_term[i]:
        return f"rising: {snapshot.trend_term[i]}"
    if name == "freshness" and snapshot.freshness[i] >= weights.new_in_freshness:
        return "new in"
    if name == "boldness_match":
        slider = signals.get("boldness")
        if slider is not None and slider > 0.5 and snapshot.boldness[i] >= weights.bold_reason:
            return "bold, as you asked"
        if slider is not None and slider < 0.5 and snapshot.boldness[i] <= 1 - weights.bold_reason:
            return "natural, as you asked"
    if name == "price_to_cap":
        cap = signals.get("price_cap")
        if cap is not None and snapshot.price[i] <= cap:
            return f"within your {_money(cap, weights.currency)} budget"
    return None


def contribution_reasons(contributions: np.ndarray, snapshot: FeedSnapshot, i: int,
                         signals: Mapping[str, Any], taste_pct: float | None,
                         weights: FeedWeights, personalized: bool, limit: int = 3) -> list[str]:
    """Up to `limit` reasons from one row of `FeedRanker.contributions`: the features that
    raised the score most (positive contributions only), largest first, in the feed's words;
    "popular now" / "trending now" when none applies."""
    reasons: list[str] = []
    values = contributions[: len(FEATURES)]
    for position in np.argsort(-values, kind="stable"):
        if values[position] <= 0 or len(reasons) >= limit:
            break
        text = _reason(FEATURES[position], snapshot, i, signals, taste_pct, weights)
        if text is not None and text not in reasons:
            reasons.append(text)
    if not reasons:
        reasons.append("popular now" if personalized else "trending now")
    return reasons


#: How many of a ranked feed's first items get reasons from the ranker's contributions.
REASONED_ITEMS = 5


def ranked_feed(ranker: FeedRanker, snapshot: FeedSnapshot, user_id: str,
                features: Mapping[str, Any] | None, k: int, weights: FeedWeights | None = None,
                product_stats: np.ndarray | None = None, now: datetime | None = None) -> Feed:
    """A person's feed ordered by the ranker: the blend's candidates (`rank_feed`), the products
    re-ordered by `ranker`, each given the blend's scores sorted high to low (so the answer's
    scores stay in [0, 1] and looks keep their place among them), with reasons from the
    ranker's contributions (the first `REASONED_ITEMS`; the rest the blend's reasons)."""
    weights = weights or FeedWeights()
    signals = user_signals(features)
    candidates, taste, known = candidate_indices(snapshot, user_id, signals)
    if not len(candidates):
        return rank_feed(snapshot, user_id, features, k, weights, now=now)
    personalized = known or signals["active"]
    # the blend's scores of every candidate (the answer's scores) and its affinity (the looks'),
    # without building the blend's items: only the ranker's top k get items and reasons
    blend, affinity = blend_scores(snapshot, signals, candidates, taste, weights)
    blend_sorted = np.sort(np.round(blend, 6))[::-1]
    raw = recommender_scores(snapshot, user_id)
    table = candidate_features(snapshot, signals, features, candidates, taste, raw, product_stats)
    scores = ranker.score(table)
    order = np.lexsort((candidates, -scores))
    top = order[: min(k, len(order))]
    # TreeSHAP costs ~0.35 ms a row (100 trees × 15 leaves, one core): the first REASONED_ITEMS
    # items get the ranker's own reasons, the rest the blend's for the same product (as true)
    contributions = ranker.contributions(table[top[:REASONED_ITEMS]])
    entries: list[tuple[float, int, FeedItem]] = []
    for rank, position in enumerate(top):
        i = int(candidates[position])
        score = float(blend_sorted[rank])
        if rank < len(contributions):
            reasons = contribution_reasons(contributions[rank], snapshot, i, signals,
                                           None if taste is None else float(taste[i]),
                                           weights, personalized)
        else:
            reasons = product_reasons(snapshot, i, signals, taste, personalized, weights)
        entries.append((score, rank, FeedItem(product_id=str(snapshot.item_ids[i]), score=score,
                                              reasons=reasons)))
    looks = look_entries(snapshot, signals, affinity, weights)
    entries.extend((look.score, snapshot.n_items + n, look) for n, look in enumerate(looks))
    entries.sort(key=lambda entry: (-entry[0], entry[1]))
    return Feed(user_id=user_id, generated_at=now or datetime.now(UTC),
                items=[item for _, _, item in entries[:k]],
                model_version=snapshot.model_version, personalized=personalized)


#: The category codes `candidate_features` writes, by name (for readers of the table).
CATEGORY_CODES = dict(_CATEGORY_CODE)
