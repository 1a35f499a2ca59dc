"""The feed's learned ranker against today's blend, offline, on the simulated world (time split).

For each seed: a simulated world (`--users` people, `--days` days) written to a temporary lake;
the Feast repository applied on a temporary state dir and its offline store filled as the
feature stage fills it (after each try-on event, that person's and that product's feature rows,
`streams.features.FeatureState`); a torch factorization recommender (the platform's model and
defaults but `--epochs`) trained in process on the first `--rec-days` days only; then
`jobs.train_ranker.build_ranker_data` on the days after them: requests sampled per day, the
feed's candidates for each (the recommender's top N unseen, trending, favourite family), every
feature read through Feast `training_set` as of the request, labels from the next
`--horizon-hours`. The ranker (LightGBM lambdarank, `models.feed_ranker`) trains on the requests
whose label windows end before the last `--test-days`, and the three orders of the SAME holdout
candidates are scored: (a) the candidate model's own (u·v + b), (b) today's blend
(`models.feed_scoring.rank_feed`), (c) the ranker; NDCG@10 and recall@10 (binary: a candidate
the person tried, liked, carted or bought next), overall and per Monk skin tone.

No trend counts are simulated here (no social stream), so the blend's and the ranker's trend
term is 0 for every product alike.

Prints a table per seed and overall, then ``RESULT {"candidates_ndcg", "blend_ndcg",
"ranker_ndcg", "min_group_ratio", "lift", "per_seed": [...]}`` (means over seeds; the group
ratio is the lowest of any Monk group with ≥ 30 holdout requests, over the ranker's overall).

`--validation` never reads the test days: the window ends one label horizon before they begin
and its own last `--test-days` are the holdout; with `--grid` (a JSON list of `RankerConfig`
overrides) each setting is fit and scored there too (RESULT `grid_ndcg`, means over seeds):
how the ranker's defaults were chosen (docs/ranker.md).

    .venv/bin/python bench/ranker_offline.py [--seeds 7,11,42] [--users 4000] [--days 28]
        [--validation] [--grid '[{"n_estimators": 200, "learning_rate": 0.05}]']
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from glamcast.core.features import (
    EVENT_COLUMNS,
    PRODUCT_POPULARITY_VIEW,
    USER_ACTIVITY_VIEW,
)
from glamcast.core.names import TRYON
from glamcast.core.settings import Settings
from glamcast.platform import features, lake
from glamcast.platform.feed_engine import load_catalog
from glamcast.simulator import SimulationConfig, World
from glamcast.simulator.looks import write_world_lake
from jobs.train_ranker import TrainRankerConfig, build_ranker_data, evaluate_orders
from jobs.train_recommender import Indexed
from models import feed_ranker as fr
from models import interactions as ix
from models.factorization import FactorizationConfig, train_factorization
from streams.features import FeatureState

K = 10


def backfill_offline(store, events: pd.DataFrame) -> tuple[int, int]:
    """The feature stage's offline rows: after each event, its person's and product's rows."""
    state = FeatureState()
    users, products = [], []
    columns = [events[name].to_numpy(object) for name in EVENT_COLUMNS]
    for n in range(len(events)):
        row = [column[n] for column in columns]
        row[1] = pd.Timestamp(row[1]).to_pydatetime()
        for position in (8, 9):  # dwell_ms, skin tone: NaN → None
            if row[position] is not None and pd.isna(row[position]):
                row[position] = None
            elif row[position] is not None:
                row[position] = int(row[position])
        if row[10] is not None and pd.isna(row[10]):
            row[10] = None
        state.add(*row)
        rows = state.snapshot()
        users.extend(rows.users)
        products.extend(rows.products)
    features.write_offline(store, USER_ACTIVITY_VIEW, users)
    features.write_offline(store, PRODUCT_POPULARITY_VIEW, products)
    return len(users), len(products)


def fit_recommender(events: pd.DataFrame, catalog: pd.DataFrame, config: FactorizationConfig):
    """The platform's torch recommender, in process, on `events` (the first days)."""
    events = ix.add_shade_family(events)
    train = ix.build_interactions(events, ix.InteractionWeights(), dwell_col=ix.DWELL_COL)
    users = ix.attribute_table(events, ix.USER_COL, ix.USER_ATTRIBUTES)
    items = ix.attribute_table(events, ix.PRODUCT_COL, ix.ITEM_ATTRIBUTES)
    items = items.join(ix.catalog_attributes(catalog), how="left")
    data = Indexed.from_interactions(train, users, items)
    positive = data.positive
    result = train_factorization(
        data.users[positive], data.items[positive], data.confidence[positive],
        len(data.user_ids), len(data.item_ids), asdict(config), data.user_codes, data.item_codes)
    return data.recommender(result.user_factors, result.item_factors, result.item_bias)


def run_seed(seed: int, args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ranker-bench-") as tmp:
        settings = Settings(state_dir=Path(tmp) / "state", lake_uri=str(Path(tmp) / "lake"),
                            feast_project=f"rb{os.getpid()}s{seed}")
        world = World.build(SimulationConfig(users=args.users, days=args.days, seed=seed,
                                             start=date(2025, 1, 6), looks=0))
        write_world_lake(settings, world)
        events = lake.read_dataset(settings, TRYON)
        events = events.sort_values("ts", kind="stable").reset_index(drop=True)
        catalog = load_catalog(settings)
        print(f"seed {seed}: {len(events)} events, {catalog.shape[0]} products "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
        features.apply(settings)
        store = features.feature_store(settings)
        n_users, n_products = backfill_offline(store, events)
        print(f"  offline store: {n_users} user rows, {n_products} product rows "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
        start = pd.Timestamp(date(2025, 1, 6), tz="UTC")
        rec_end = start + pd.Timedelta(days=args.rec_days)
        end = start + pd.Timedelta(days=args.days)
        if args.validation:
            # the test days are never looked at: the window ends where their requests would
            # begin, less one label horizon, and its own last `test_days` are the holdout
            end -= pd.Timedelta(days=args.test_days) + pd.Timedelta(hours=args.horizon_hours)
        recommender = fit_recommender(events[events["ts"] < rec_end], catalog,
                                      FactorizationConfig(epochs=args.epochs, seed=seed,
                                                          threads=1))
        print(f"  recommender on days 0-{args.rec_days}: {len(recommender.user_ids)} people "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
        config = TrainRankerConfig(test_days=args.test_days, horizon_hours=args.horizon_hours,
                                   max_requests_per_day=args.requests_per_day, seed=seed,
                                   ranker=fr.RankerConfig(seed=seed))
        data = build_ranker_data(settings, events, catalog, recommender, rec_end, end, config,
                                 store=store)
        print(f"  training set: {data.rows} ({time.perf_counter() - started:.0f} s)", flush=True)
        ndcg, recall = f"ndcg@{K}", f"recall@{K}"
        grid = {}
        for overrides in args.grid:
            candidate = replace(config.ranker, **overrides)
            fitted = fr.train_ranker(data.train, candidate)
            grid[json.dumps(overrides)] = round(
                evaluate_orders(data.test, fitted, K)["ranker"][ndcg], 4)
            print(f"  {'validation' if args.validation else 'holdout'} NDCG@{K} with "
                  f"{overrides}: {grid[json.dumps(overrides)]}", flush=True)
        fit_started = time.perf_counter()
        ranker = fr.train_ranker(data.train, config.ranker)
        fit_s = time.perf_counter() - fit_started
        evaluation = evaluate_orders(data.test, ranker, K)
        if args.xgboost:
            evaluation["xgboost"], xgboost_fit_s = xgboost_ranker(data.train, data.test,
                                                                  config.ranker)
            print(f"  XGBoost rank:ndcg: NDCG@{K} {evaluation['xgboost'][ndcg]:.4f} "
                  f"(fit {xgboost_fit_s:.1f} s; LightGBM {evaluation['ranker'][ndcg]:.4f}, "
                  f"fit {fit_s:.1f} s)", flush=True)
    out = {"seed": seed, "fit_s": round(fit_s, 2), "total_s": round(time.perf_counter() - started),
           "rows": data.rows,
           **{f"{order}_{m}": round(evaluation[order][key], 4) for order in evaluation
              for m, key in (("ndcg", ndcg), ("recall", recall))},
           "min_group_ratio": _finite(fr.min_group_ratio(evaluation["ranker"], K)),
           "groups": {order: {g: round(v[ndcg], 4) for g, v in evaluation[order]["groups"].items()}
                      for order in evaluation},
           "group_requests": {g: v["requests"] for g, v in evaluation["ranker"]["groups"].items()},
           "importances": ranker.importances().round(1).head(8).to_dict(), "grid": grid}
    return out


def xgboost_ranker(train: pd.DataFrame, test: pd.DataFrame, config: fr.RankerConfig
                   ) -> tuple[dict, float]:
    """XGBoost's `rank:ndcg` on the same training table and settings as the LightGBM ranker
    (rounds, learning rate, leaves, row and feature sampling, L2; requests without a positive
    dropped alike), scored on the same holdout: the measurement behind the choice of library
    (docs/ranker.md). Returns the evaluation and the fit's seconds."""
    import xgboost

    useful = train.groupby(fr.REQUEST_COL, sort=False)[fr.LABEL_COL].transform("max") > 0
    train = train[useful]
    request_codes = pd.factorize(train[fr.REQUEST_COL])[0]
    model = xgboost.XGBRanker(
        objective="rank:ndcg", n_estimators=config.n_estimators,
        learning_rate=config.learning_rate, max_leaves=config.num_leaves, max_depth=0,
        grow_policy="lossguide", tree_method="hist", subsample=config.subsample,
        colsample_bytree=config.colsample_bytree, reg_lambda=config.reg_lambda,
        min_child_weight=1.0, eval_metric=f"ndcg@{config.eval_at}",
        lambdarank_pair_method="topk", lambdarank_num_pair_per_sample=config.eval_at,
        random_state=config.seed, n_jobs=config.threads)
    started = time.perf_counter()
    model.fit(train[list(fr.FEATURES)].to_numpy(np.float64),
              train[fr.LABEL_COL].to_numpy(np.int64), qid=request_codes)
    fit_s = time.perf_counter() - started
    scores = model.predict(test[list(fr.FEATURES)].to_numpy(np.float64))
    ranks = fr.ranks_by_score(test[fr.REQUEST_COL].to_numpy(), scores)
    return fr.evaluate_ranks(test, ranks, K), fit_s


def _finite(value: float) -> float | None:
    return round(value, 3) if np.isfinite(value) else None


def print_seed(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"seed {result['seed']}: holdout NDCG@{K} / recall@{K} of the same "
                        f"candidates ({result['rows']['rows.test_positive_groups']} requests "
                        "with a positive)")
    for column in ("order", "NDCG@10", "recall@10", "× blend"):
        table.add_column(column, justify="left" if column == "order" else "right")
    for order in ("candidates", "blend", "ranker"):
        table.add_row(order, f"{result[f'{order}_ndcg']:.4f}", f"{result[f'{order}_recall']:.4f}",
                      f"{result[f'{order}_ndcg'] / result['blend_ndcg']:.2f}")
    console.print(table)
    names = sorted(result["group_requests"], key=lambda g: (not g.isdigit(), g.zfill(3)))
    console.print(f"NDCG@{K} per Monk skin tone (holdout requests with a positive):")
    console.print("  tone       " + " ".join(f"{name:>7}" for name in names))
    console.print("  requests   " + " ".join(f"{result['group_requests'][name]:>7}"
                                             for name in names))
    for order in ("candidates", "blend", "ranker"):
        console.print(f"  {order:<10} " + " ".join(
            f"{result['groups'][order].get(name, float('nan')):>7.3f}" for name in names))
    console.print(f"ranker fit {result['fit_s']} s; top features {result['importances']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="7,11,42")
    parser.add_argument("--users", type=int, default=4_000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--rec-days", type=int, default=14)
    parser.add_argument("--test-days", type=float, default=4.0)
    parser.add_argument("--horizon-hours", type=float, default=24.0)
    parser.add_argument("--requests-per-day", type=int, default=2_000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--xgboost", action="store_true",
                        help="also XGBoost rank:ndcg with the same settings (pip install "
                             "-e '.[bench]')")
    parser.add_argument("--validation", action="store_true",
                        help="hold out the last --test-days before the test days instead")
    parser.add_argument("--grid", type=json.loads, default=[],
                        help='ranker settings to compare, e.g. \'[{"n_estimators": 200}]\'')
    args = parser.parse_args()
    results = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        results.append(run_seed(seed, args))
        print_seed(results[-1])
    mean = {key: round(float(np.mean([r[key] for r in results])), 4)
            for key in ("candidates_ndcg", "blend_ndcg", "ranker_ndcg", "candidates_recall",
                        "blend_recall", "ranker_recall")}
    summary = {**mean, "lift": round(mean["ranker_ndcg"] / mean["blend_ndcg"], 3),
               "min_group_ratio": min((r["min_group_ratio"] for r in results
                                       if r["min_group_ratio"] is not None), default=None),
               "per_seed": [{key: r[key] for key in ("seed", "candidates_ndcg", "blend_ndcg",
                                                     "ranker_ndcg", "min_group_ratio",
                                                     "total_s")} for r in results],
               "users": args.users, "days": args.days, "rec_days": args.rec_days,
               "test_days": args.test_days, "validation": args.validation}
    if args.xgboost:
        summary["xgboost_ndcg"] = round(float(np.mean([r["xgboost_ndcg"] for r in results])), 4)
        summary["xgboost_per_seed"] = [r["xgboost_ndcg"] for r in results]
    if args.grid:
        summary["grid_ndcg"] = {key: round(float(np.mean([r["grid"][key] for r in results])), 4)
                                for key in results[0]["grid"]}
    print("RESULT " + json.dumps(summary))


if __name__ == "__main__":
    main()
