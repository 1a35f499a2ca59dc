"""MovieLens-100k: our recommenders beside the best public peers, same split, same evaluator.

Protocol (Microsoft Recommenders' MovieLens-100k table): every rating is an interaction of
weight 1; per-user stratified random 75/25 split (`jobs.train_recommender.prepare_holdout`,
one split per seed); top-10 per user with the items seen in training excluded; Precision@10,
Recall@10, NDCG@10 and MAP@10 from `jobs.train_recommender.evaluate` (`models.ranking_metrics`)
for every model, averaged over the test users. Every model gets the same binary training pairs
and is scored through the same `FactorRecommender` (factors → top-k, seen items excluded).

Models (`--models`, default all):

- `torch`: our candidate model (models/factorization.py), trained as the recommender job trains
  it (`fit_torch`: TorchDistributor, local mode), with `TORCH_MOVIELENS` below; `--in-process`
  calls `train_factorization` directly (no Spark; the tuning runs).
- `als`: Spark MLlib ALS (implicitPrefs) on a local[2] Spark, as the job runs it.
- `bivae`, `bpr`: Cornac's BiVAE and BPR with the settings of the Microsoft Recommenders
  benchmark notebooks; `ials`: the `implicit` package's ALS (CPU). These peers are bench-only
  dependencies: `pip install -e '.[bench]'`.

`--validation` carves a validation split out of each seed's training split (the same stratified
75/25 protocol, same seed) and evaluates there instead of on the test part: hyperparameters are
chosen on it, never on the test split (docs/recommender.md, "Torch on MovieLens").

`fit_s` is each fit's wall time (Spark job or distributor start included for `als`/`torch`).
Prints a table per seed and a summary, then one line
``RESULT {"seeds": {"42": {model: {ndcg@10, precision@10, recall@10, map@10, map_legacy@10,
fit_s}}, ...}, "ndcg@10": {model: [per seed]}, "torch_ge_bivae": [per seed]}``.

    .venv/bin/python bench/recommender_movielens.py [--seeds 42,7,1] [--models torch,bivae]
        [--validation] [--in-process] [--epochs N --weight-decay W ...]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any, get_args

import numpy as np
import scipy.sparse as sp

from glamcast.core.settings import Settings
from jobs.train_recommender import (
    AlsConfig,
    Holdout,
    Indexed,
    TrainRecommenderConfig,
    evaluate,
    fit_als,
    fit_torch,
    load_events,
    prepare_holdout,
)
from models import interactions as ix
from models.factorization import (
    FactorizationConfig,
    ItemModel,
    Objective,
    UserModel,
    train_factorization,
)

K = 10
MODELS = ("torch", "bivae", "bpr", "ials", "als")
LABELS = {"torch": "torch (ours)", "als": "Spark ALS implicit (ours)",
          "bivae": "BiVAE (Cornac)", "bpr": "BPR (Cornac)", "ials": "ALS (implicit)"}
#: Microsoft Recommenders README, MovieLens-100k table (k=10); MAP there is the legacy `map`.
PUBLISHED = {
    "BiVAE (Cornac)": {"map": 0.146126, "ndcg": 0.475077, "precision": 0.411771, "recall": 0.219145},
    "BPR (Cornac)": {"map": 0.132478, "ndcg": 0.441997, "precision": 0.388229, "recall": 0.212522},
    "SAR": {"map": 0.110591, "ndcg": 0.382461, "precision": 0.330753, "recall": 0.176385},
}
#: Spark ALS, tuned on this protocol (docs/recommender.md).
ALS_MOVIELENS = AlsConfig(rank=64, max_iter=15, reg_param=0.05, alpha=10.0)
#: Torch: chosen on the validation splits carved from training at seeds 42, 7 and 1, by their
#: mean NDCG@10 (docs/recommender.md, "Peers on MovieLens-100k"): BiVAE's Poisson likelihood on
#: our history encoder, binary pairs (the confidence is one constant here). One thread, as more
#: only contend on a shared machine.
TORCH_MOVIELENS = FactorizationConfig(
    objective="poisson", user_model="history", dim=128, epochs=140, batch_size=32, lr=2e-3,
    weight_decay=4.0, dropout=0.6, use_confidence=False, threads=1,
)
#: Cornac peers with the Microsoft Recommenders benchmark settings (BiVAE deep-dive and
#: cornac BPR notebooks); `implicit` ALS with the Spark ALS settings above.
BIVAE = {"k": 50, "encoder_structure": [100], "act_fn": "tanh", "likelihood": "pois",
         "n_epochs": 500, "batch_size": 128, "learning_rate": 0.001}
BPR = {"k": 200, "max_iter": 100, "learning_rate": 0.01, "lambda_reg": 0.001}
IALS = {"factors": 64, "regularization": 0.05, "alpha": 10.0, "iterations": 15}


def tunable_fields(config: FactorizationConfig) -> list[str]:
    """Numeric torch fields that get a command-line option (not `seed`: --seeds seeds both the
    split and the model)."""
    return [name for name, value in asdict(config).items() if name != "seed"
            and isinstance(value, (int, float)) and not isinstance(value, bool)]


def validation_holdout(holdout: Holdout, seed: int) -> Holdout:
    """The training part split again (stratified, same ratio and seed): fit on the first part,
    score on the second. The test part is never read."""
    fit, held = ix.stratified_split(holdout.train, 0.75, seed)
    return replace(holdout, train=fit, truth=ix.holdout_truth(fit, held))


def _positive_pairs(data: Indexed) -> tuple[np.ndarray, np.ndarray]:
    return data.users[data.positive], data.items[data.positive]


def fit_cornac(data: Indexed, name: str, seed: int) -> tuple[Any, float]:
    """Cornac BiVAE or BPR on the binary positive pairs → (FactorRecommender, fit seconds).

    BiVAE scores sigmoid(θ_u·β_i), BPR ⟨u, i⟩ + b_i: both rank as their factors' dot product
    (+ bias), so the shared `FactorRecommender` ranks them exactly as Cornac would."""
    import cornac
    import torch

    users, items = _positive_pairs(data)
    dataset = cornac.data.Dataset.from_uir(
        [(str(u), str(i), 1.0) for u, i in zip(users, items, strict=True)], seed=seed)
    started = time.perf_counter()
    if name == "bivae":
        model = cornac.models.BiVAECF(**BIVAE, seed=seed, use_gpu=torch.cuda.is_available(),
                                      verbose=False)
    else:
        model = cornac.models.BPR(**BPR, seed=seed, verbose=False)
    model.fit(dataset)
    fit_s = time.perf_counter() - started
    if name == "bivae":
        user_vectors = model.bivae.mu_theta.detach().cpu().numpy()
        item_vectors = model.bivae.mu_beta.detach().cpu().numpy()
        item_bias = None
    else:
        user_vectors, item_vectors, item_bias = model.u_factors, model.i_factors, model.i_biases
    return _reindexed(data, dataset.uid_map, dataset.iid_map, user_vectors, item_vectors,
                      item_bias), fit_s


def _reindexed(data: Indexed, uid_map: dict[str, int], iid_map: dict[str, int],
               user_vectors: np.ndarray, item_vectors: np.ndarray,
               item_bias: np.ndarray | None) -> Any:
    """Cornac's internal order → our dense indices (an id Cornac never saw gets zeros)."""
    dim = user_vectors.shape[1]
    users = np.zeros((len(data.user_ids), dim), np.float32)
    items = np.zeros((len(data.item_ids), dim), np.float32)
    bias = np.zeros(len(data.item_ids), np.float32)
    for ours, theirs in ((u, uid_map.get(str(u))) for u in range(len(data.user_ids))):
        if theirs is not None:
            users[ours] = user_vectors[theirs]
    for ours, theirs in ((i, iid_map.get(str(i))) for i in range(len(data.item_ids))):
        if theirs is not None:
            items[ours] = item_vectors[theirs]
            if item_bias is not None:
                bias[ours] = item_bias[theirs]
    return data.recommender(users, items, bias if item_bias is not None else None)


def fit_implicit_als(data: Indexed, seed: int) -> tuple[Any, float]:
    """implicit's ALS (CPU) on the binary positive pairs → (FactorRecommender, fit seconds)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    users, items = _positive_pairs(data)
    matrix = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)),
                           shape=(len(data.user_ids), len(data.item_ids)))
    model = AlternatingLeastSquares(**IALS, random_state=seed)
    started = time.perf_counter()
    with threadpool_limits(1, "blas"):  # implicit's advice: its own threads, BLAS single
        model.fit(matrix, show_progress=False)
    fit_s = time.perf_counter() - started
    return data.recommender(model.user_factors, model.item_factors, None), fit_s


def fit_torch_in_process(data: Indexed, config: FactorizationConfig) -> tuple[Any, float]:
    """`train_factorization` in this process (no Spark, no distributor) → (recommender, s)."""
    users, items = _positive_pairs(data)
    started = time.perf_counter()
    result = train_factorization(users, items, data.confidence[data.positive],
                                 len(data.user_ids), len(data.item_ids), asdict(config),
                                 data.user_codes, data.item_codes)
    return (data.recommender(result.user_factors, result.item_factors, result.item_bias),
            time.perf_counter() - started)


def run_seed(seed: int, models: list[str], torch_config: FactorizationConfig,
             als_config: AlsConfig, *, validation: bool, in_process: bool,
             spark_factory: Callable[[], Any]) -> dict[str, dict[str, float]]:
    """Every requested model on one seed's split → {model: metrics + fit_s}."""
    settings = Settings()
    config = TrainRecommenderConfig(source="movielens", seed=seed, k=K)
    holdout = prepare_holdout(load_events(settings, config), config)
    if validation:
        holdout = validation_holdout(holdout, seed)
    data = Indexed.from_interactions(holdout.train)
    part = "validation (carved from training)" if validation else "test"
    print(f"\nseed {seed}: {len(holdout.train)} training ratings, {len(holdout.truth)} {part} "
          f"pairs, {holdout.truth[ix.USER_COL].nunique()} users, {len(data.item_ids)} items",
          flush=True)
    results: dict[str, dict[str, float]] = {}
    for name in models:
        started = time.perf_counter()
        print(f"  fitting {name} ...", flush=True)
        if name == "torch":
            seeded = replace(torch_config, seed=seed)
            if in_process:
                recommender, fit_s = fit_torch_in_process(data, seeded)
            else:
                fit = fit_torch(spark_factory(), data, seeded)
                recommender, fit_s = fit.recommender, fit.train_s
        elif name == "als":
            fit = fit_als(spark_factory(), data, replace(als_config, seed=seed))
            recommender, fit_s = fit.recommender, fit.train_s
        elif name == "ials":
            recommender, fit_s = fit_implicit_als(data, seed)
        else:
            recommender, fit_s = fit_cornac(data, name, seed)
        metrics = evaluate(recommender, holdout, K).metrics
        results[name] = {
            **{f"{m}@{K}": round(metrics[f"{m}@{K}"], 4)
               for m in ("ndcg", "precision", "recall", "map", "map_legacy")},
            "fit_s": round(fit_s, 1),
        }
        print(f"  {name}: NDCG@10 {results[name]['ndcg@10']:.4f}, fit {fit_s:.1f} s "
              f"({time.perf_counter() - started:.0f} s with evaluation)", flush=True)
    return results


def print_table(seed: int, results: dict[str, dict[str, float]]) -> None:
    header = (f"{'seed ' + str(seed):<28}{'NDCG@10':>9}{'P@10':>9}{'R@10':>9}{'MAP@10':>9}"
              f"{'MAP(legacy)':>12}{'fit s':>9}")
    print("\n" + header + "\n" + "-" * len(header))
    for name, row in sorted(results.items(), key=lambda item: -item[1]["ndcg@10"]):
        print(f"{LABELS[name]:<28}{row['ndcg@10']:>9.4f}{row['precision@10']:>9.4f}"
              f"{row['recall@10']:>9.4f}{row['map@10']:>9.4f}{row['map_legacy@10']:>12.4f}"
              f"{row['fit_s']:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="42,7,1",
                        help="comma-separated seeds; each seeds its split and every model")
    parser.add_argument("--models", default=",".join(MODELS), help=f"subset of {MODELS}")
    parser.add_argument("--validation", action="store_true",
                        help="score on a validation split carved from training (tuning)")
    parser.add_argument("--in-process", action="store_true",
                        help="train the torch model in this process, without TorchDistributor")
    parser.add_argument("--objective", choices=get_args(Objective),
                        default=TORCH_MOVIELENS.objective)
    parser.add_argument("--user-model", choices=get_args(UserModel),
                        default=TORCH_MOVIELENS.user_model)
    parser.add_argument("--item-model", choices=get_args(ItemModel),
                        default=TORCH_MOVIELENS.item_model)
    parser.add_argument("--confidence", action=argparse.BooleanOptionalAction,
                        default=TORCH_MOVIELENS.use_confidence,
                        help="weight the torch model's pairs by confidence (a constant here)")
    for name, value in asdict(TORCH_MOVIELENS).items():
        if name in tunable_fields(TORCH_MOVIELENS):
            parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    for name, value in asdict(ALS_MOVIELENS).items():
        if name != "seed":
            parser.add_argument(f"--als-{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    models = [name.strip() for name in args.models.split(",")]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {MODELS}")
    torch_config = replace(TORCH_MOVIELENS, objective=args.objective, user_model=args.user_model,
                           item_model=args.item_model, use_confidence=args.confidence,
                           **{name: getattr(args, name) for name in tunable_fields(TORCH_MOVIELENS)})
    als_config = replace(ALS_MOVIELENS, **{name: getattr(args, f"als_{name}")
                                           for name in asdict(ALS_MOVIELENS) if name != "seed"})
    print(f"torch: {asdict(torch_config)}\nbivae: {BIVAE}\nbpr: {BPR}\nials: {IALS}\n"
          f"als: {asdict(als_config)}", flush=True)

    spark = None

    def spark_factory() -> Any:
        nonlocal spark
        if spark is None:
            from glamcast.platform.spark import spark_session
            spark = spark_session(Settings(), app_name="bench_recommender_movielens",
                                  master="local[2]")
        return spark

    per_seed: dict[str, dict[str, dict[str, float]]] = {}
    try:
        for seed in seeds:
            per_seed[str(seed)] = run_seed(seed, models, torch_config, als_config,
                                           validation=args.validation,
                                           in_process=args.in_process,
                                           spark_factory=spark_factory)
    finally:
        if spark is not None:
            spark.stop()

    for seed, results in per_seed.items():
        print_table(int(seed), results)
    ndcg = {name: [per_seed[str(seed)][name]["ndcg@10"] for seed in seeds] for name in models}
    print(f"\n{'NDCG@10 by seed':<28}" + "".join(f"{seed:>9}" for seed in seeds) + f"{'mean':>9}")
    for name, values in sorted(ndcg.items(), key=lambda item: -float(np.mean(item[1]))):
        print(f"{LABELS[name]:<28}" + "".join(f"{value:>9.4f}" for value in values)
              + f"{np.mean(values):>9.4f}")
    for name, row in PUBLISHED.items():
        print(f"{name + ' [published]':<28}{row['ndcg']:>9.4f} (seed 42 split in their run)")
    summary: dict[str, Any] = {"seeds": per_seed, "ndcg@10": ndcg,
                               "split": "validation" if args.validation else "test"}
    if "torch" in models and "bivae" in models:
        summary["torch_ge_bivae"] = [t >= b for t, b in zip(ndcg["torch"], ndcg["bivae"],
                                                            strict=True)]
    print("RESULT " + json.dumps(summary))


if __name__ == "__main__":
    main()
