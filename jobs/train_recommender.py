"""Recommenders for the feed: implicit ALS on Spark MLlib and a torch factorization model.

Reads
    The lake dataset `tryon` (default: user_id, product_id, action, dwell_ms, ts, category,
    finish, shade_hex, face_skin_tone, face_undertone) with --start <= ts < --end, or the lake's
    `commerce` dataset (REES46 rows), and the lake's `catalog` (brand, price) when present; or a
    file: MovieLens-100k (``<data_dir>/movielens-100k/u.data``) or a REES46 CSV export.

Does
    Builds implicit-feedback interactions (`models.interactions`: action weights, dwell,
    dismiss as a negative, confidence as in implicit ALS), holds out the last --test-fraction of
    the time window (MovieLens: the per-user stratified random 75/25 split of the Microsoft
    Recommenders benchmark), fits Spark ALS (``implicitPrefs=True``) and the torch model
    (`models.factorization`, trained in a `TorchDistributor` process, CUDA when present), ranks
    the top k unseen items of every holdout user and scores them (`models.ranking_metrics`)
    beside a popularity baseline, overall and per Monk skin tone.

Logs (MLflow experiment `recommender_experiment` of the settings, default `recommender`)
    A parent run per job: every option, the data window (data.*), row counts (rows.*), the
    popularity baseline's metrics, the champion decision, plots/metrics_by_k.png for all models.
    A child run per model (`als`, `torch`): its hyperparameters (params and
    config/hyperparameters.json), data window and row counts, metrics (ndcg_at_10,
    precision_at_10, recall_at_10, map_at_10, map_legacy_at_10, coverage_at_10,
    lift_over_popularity, train_s, ndcg_at_10.skin_tone_<n>), the pyfunc model ``model``
    (`models.recommender_pyfunc`: user_id → top-k unseen product ids), plots/metrics_by_k.png and
    evaluation/*.csv.

Writes
    Registers the best child's model as a new version of the settings' `recommender_model_name`
    (default `glamcast-recommender`), and moves the alias ``champion`` to it only when its NDCG@k
    beats the current champion evaluated on this same holdout
    (`glamcast.platform.model_registry.register_and_promote`). When the alias moves, the
    champion's embeddings are written for the Feast batch feature views:
    ``<lake>/embeddings/users/`` (user_id, embedding list<float>, event_timestamp,
    model_version) and ``<lake>/embeddings/items/`` (product_id, embedding, bias,
    event_timestamp, model_version), one Parquet file per model version.

Entry points: ``glamcast train recommender ...`` and ``spark-submit jobs/train_recommender.py ...``
(the same options); tests call `train_recommender` directly.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from glamcast.core.names import (
    CATALOG,
    COMMERCE,
    EVENT_TIMESTAMP_COL,
    MODEL_VERSION_COL,
    TRYON,
    TS_COL,
)
from glamcast.core.progress import ProgressCallback
from glamcast.core.settings import Settings
from glamcast.platform import lake
from glamcast.platform.commands import (
    Opt,
    comma_list,
    console,
    job_command,
    run_command_line,
    run_spark_job,
)
from glamcast.platform.model_registry import (
    Registration,
    pip_requirements,
    register_and_promote,
    use_experiment,
)
from glamcast.platform.spark import torch_distributor
from models import interactions as ix
from models.factorization import FactorizationConfig, FactorizationResult, train_factorization
from models.ranking_metrics import metric_name, metrics_by_group, metrics_by_k, ranking_metrics
from models.recommender_pyfunc import (
    ARTIFACT_KEY,
    DEFAULT_K,
    EMBEDDING_COL,
    FactorRecommender,
    RecommenderModel,
    input_example,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: Sources: lake datasets and files.
SOURCES = ("tryon", "commerce", "movielens", "rees46")
MODELS = ("als", "torch")
POPULARITY = "popularity"
SKIN_TONE_COL = "face_skin_tone"
#: Lake paths of the embedding tables the Feast batch feature views read.
USER_EMBEDDINGS = "embeddings/users"
ITEM_EMBEDDINGS = "embeddings/items"
#: Cut-offs of the metric-by-k plot.
PLOT_KS = (1, 3, 5, 10, 20)
REES46_SAMPLE = "rees46-sample/2019-Oct_head17433.csv"
MOVIELENS_DIR = "movielens-100k"



class RecommenderInputError(ValueError):
    """The data cannot train or evaluate a recommender (empty window, no holdout users...)."""


@dataclass
class AlsConfig:
    """Hyperparameters of Spark MLlib ALS with implicitPrefs=True (saved with every run)."""

    rank: int = 64  # latent factors per user and item
    max_iter: int = 15  # alternating least-squares sweeps
    reg_param: float = 0.05  # L2 regularisation (lambda), scaled by Spark per rating count
    alpha: float = 10.0  # confidence = 1 + alpha · |strength|
    seed: int = 42  # seeds factor initialisation

    def to_params(self, prefix: str = "als.") -> dict[str, Any]:
        return {f"{prefix}{name}": value for name, value in asdict(self).items()}


@dataclass
class TrainRecommenderConfig:
    """What one run of the job reads, fits and registers."""

    source: str = "tryon"  # tryon | commerce (lake datasets) | movielens | rees46 (files)
    data_path: Path | None = None  # file sources: u.data directory or CSV (default: data_dir)
    start: datetime | None = None  # lake sources: first event time (inclusive)
    end: datetime | None = None  # lake sources: last event time (exclusive)
    split: str | None = None  # "time" or "stratified"; None: stratified for movielens, else time
    test_fraction: float = 0.2  # time holdout: the last share of the window is the test part
    split_ratio: float = 0.75  # stratified split: each user's share of training rows
    k: int = DEFAULT_K  # cut-off of the ranking metrics and the champion comparison
    models: tuple[str, ...] = MODELS  # which models to fit
    als: AlsConfig = field(default_factory=AlsConfig)
    torch: FactorizationConfig = field(default_factory=FactorizationConfig)
    weights: ix.InteractionWeights | None = None  # None: the source's default weights
    experiment: str | None = None  # MLflow experiment; default: settings.recommender_experiment
    registered_model: str | None = None  # model name; default: settings.recommender_model_name
    register: bool = True  # register the best model and maybe move the champion alias
    write_embeddings: bool = True  # write the champion's embeddings when the alias moves
    seed: int = 42  # seeds the stratified split

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown source {self.source!r}; choose from {SOURCES}")
        unknown = [name for name in self.models if name not in MODELS]
        if unknown or not self.models:
            raise ValueError(f"models must be a non-empty subset of {MODELS}, got {self.models}")
        if self.split not in (None, "time", "stratified"):
            raise ValueError(f"split must be 'time' or 'stratified', got {self.split!r}")
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")

    @property
    def split_kind(self) -> str:
        return self.split or ("stratified" if self.source == "movielens" else "time")

    def as_params(self) -> dict[str, Any]:
        """Flat run parameters (hyperparameters of both models included)."""
        return {
            "source": self.source, "data_path": str(self.data_path or ""),
            "start": str(self.start or ""), "end": str(self.end or ""),
            "split": self.split_kind, "test_fraction": self.test_fraction,
            "split_ratio": self.split_ratio, "k": self.k, "models": ",".join(self.models),
            "seed": self.seed, **self.als.to_params(), **self.torch.to_params(),
            **{f"weights.{key}": value for key, value in asdict(self.source_weights).items()},
        }

    @property
    def source_weights(self) -> ix.InteractionWeights:
        if self.weights is not None:
            return self.weights
        if self.source == "movielens":
            return ix.RATING_WEIGHTS
        if self.source in ("commerce", "rees46"):
            return ix.COMMERCE_WEIGHTS
        return ix.InteractionWeights()


# --- data --------------------------------------------------------------------------------------


@dataclass
class Holdout:
    """Training interactions and the held-out truth of one evaluation."""

    train: pd.DataFrame  # interactions (models.interactions columns)
    truth: pd.DataFrame  # relevant (user_id, product_id) pairs
    user_groups: pd.Series | None  # user_id → Monk skin tone (consented users only)
    window: dict[str, str]  # data.* parameters
    rows: dict[str, int]  # rows.* counts
    user_attributes: pd.DataFrame  # user_id → consented face attributes (may have no columns)
    item_attributes: pd.DataFrame  # product_id → category, finish, shade family (idem)


def _file_path(settings: Settings, config: TrainRecommenderConfig) -> Path:
    if config.data_path is not None:
        return Path(config.data_path)
    default = MOVIELENS_DIR if config.source == "movielens" else REES46_SAMPLE
    return settings.data_dir.expanduser() / default


def _utc(moment: datetime) -> pd.Timestamp:
    """A timestamp in UTC (naive ones are read as UTC)."""
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)


def load_events(settings: Settings, config: TrainRecommenderConfig) -> pd.DataFrame:
    """The source's events as a DataFrame with user_id, product_id, ts and an action column."""
    if config.source == "tryon":
        columns = ["user_id", "product_id", "action", "dwell_ms", TS_COL, "category",
                   "finish", "shade_hex", *ix.USER_ATTRIBUTES]
        events = lake.read_dataset(settings, TRYON, config.start, config.end, columns)
        return ix.add_shade_family(events)
    if config.source == "commerce":
        columns = ["user_id", "product_id", "event_type", TS_COL]
        events = lake.read_dataset(settings, COMMERCE, config.start, config.end, columns)
        return events.rename(columns={"event_type": ix.ACTION_COL})
    path = _file_path(settings, config)
    if config.source == "movielens":
        return ix.read_movielens_100k(path).assign(**{ix.ACTION_COL: ix.RATED})
    if not path.is_file():
        raise RecommenderInputError(f"REES46 export not found: {path}")
    raw = pd.read_csv(path, dtype={"user_id": str, "product_id": str})
    events = pd.DataFrame({
        ix.USER_COL: raw["user_id"], ix.PRODUCT_COL: raw["product_id"],
        ix.ACTION_COL: raw["event_type"],
        ix.TIME_COL: pd.to_datetime(raw["event_time"].str.replace(" UTC", "", regex=False),
                                    utc=True),
    })
    bounds = pd.Series(True, index=events.index)
    if config.start is not None:
        bounds &= events[ix.TIME_COL] >= _utc(config.start)
    if config.end is not None:
        bounds &= events[ix.TIME_COL] < _utc(config.end)
    return events[bounds].reset_index(drop=True)


def load_catalog(settings: Settings, config: TrainRecommenderConfig) -> pd.DataFrame | None:
    """Catalogue attributes (brand, price band) per product from the lake's `catalog` dataset,
    for the lake sources; None when the lake has no catalogue."""
    if config.source not in ("tryon", "commerce"):
        return None
    catalog = lake.read_dataset(settings, CATALOG,
                                columns=["product_id", "brand", "category", "price"])
    return ix.catalog_attributes(catalog) if len(catalog) else None


def _skin_tones(user_attributes: pd.DataFrame) -> pd.Series | None:
    """user_id → the user's most frequent consented Monk skin tone (None without any)."""
    if SKIN_TONE_COL not in user_attributes.columns:
        return None
    tones = user_attributes[SKIN_TONE_COL].dropna()
    return tones.astype(int) if len(tones) else None


def _iso(value: Any) -> str:
    return pd.Timestamp(value).isoformat() if value is not None and not pd.isna(value) else ""


def prepare_holdout(events: pd.DataFrame, config: TrainRecommenderConfig,
                    catalog: pd.DataFrame | None = None) -> Holdout:
    """Split the events (time or stratified), build interactions, and the truth to rank against.

    User and item attributes (for the torch model) come from the events and, when given, the
    catalogue attributes (`load_catalog`)."""
    if events.empty:
        raise RecommenderInputError(
            f"no {config.source} events in the window {config.start or '-'} .. {config.end or '-'}")
    weights = config.source_weights
    dwell = ix.DWELL_COL if ix.DWELL_COL in events.columns else None

    def build(frame: pd.DataFrame) -> pd.DataFrame:
        return ix.build_interactions(frame, weights, dwell_col=dwell)

    if config.split_kind == "stratified":
        # Every rating is one interaction: split the interactions themselves.
        pairs = build(events)
        train, test = ix.stratified_split(pairs, config.split_ratio, config.seed)
        cutoff = "stratified"
        n_train_events, n_test_events = len(train), len(test)
    else:
        split = ix.time_holdout(events, test_fraction=config.test_fraction)
        train, test = build(split.train_events), build(split.test_events)
        cutoff = _iso(split.cutoff)
        n_train_events, n_test_events = len(split.train_events), len(split.test_events)
    if train.empty:
        raise RecommenderInputError("the training part of the split holds no interactions")
    truth = ix.holdout_truth(train, test)
    if truth.empty:
        raise RecommenderInputError(
            "no holdout user has a new positive interaction; widen the window or the test part")
    window = {
        "data.source": config.source, "data.split": config.split_kind,
        "data.start": _iso(config.start), "data.end": _iso(config.end),
        "data.first_event": _iso(events[ix.TIME_COL].min()),
        "data.last_event": _iso(events[ix.TIME_COL].max()), "data.cutoff": cutoff,
    }
    rows = {
        "rows.events": len(events), "rows.train_events": n_train_events,
        "rows.test_events": n_test_events, "rows.train_interactions": len(train),
        "rows.train_positives": int(train[ix.PREFERENCE_COL].sum()),
        "rows.test_interactions": len(test), "rows.truth_pairs": len(truth),
        "rows.users": int(train[ix.USER_COL].nunique()),
        "rows.items": int(train[ix.PRODUCT_COL].nunique()),
        "rows.eval_users": int(truth[ix.USER_COL].nunique()),
    }
    users = ix.attribute_table(events, ix.USER_COL, ix.USER_ATTRIBUTES)
    items = ix.attribute_table(events, ix.PRODUCT_COL, ix.ITEM_ATTRIBUTES)
    if catalog is not None:
        items = items.join(catalog, how="left")
    return Holdout(train, truth, _skin_tones(users), window, rows, users, items)


@dataclass
class Indexed:
    """Training interactions on dense integer ids (what both models fit on)."""

    user_ids: np.ndarray  # (n_users,) str
    item_ids: np.ndarray  # (n_items,) str
    users: np.ndarray  # (pairs,) int: every training interaction, negatives included
    items: np.ndarray  # (pairs,) int
    strength: np.ndarray  # (pairs,) signed, damped weight (ALS rating)
    confidence: np.ndarray  # (pairs,)
    positive: np.ndarray  # (pairs,) bool
    popularity: np.ndarray  # (n_items,) users with a positive interaction
    user_codes: np.ndarray | None = None  # (n_users, user attributes) codes, −1 unknown
    item_codes: np.ndarray | None = None  # (n_items, item attributes) codes, −1 unknown
    attributes: tuple[str, ...] = ()  # names of the attribute columns, users' then items'

    @classmethod
    def from_interactions(cls, train: pd.DataFrame, user_attributes: pd.DataFrame | None = None,
                          item_attributes: pd.DataFrame | None = None) -> Indexed:
        user_ids = np.asarray(sorted(train[ix.USER_COL].astype(str).unique()), dtype=str)
        item_ids = np.asarray(sorted(train[ix.PRODUCT_COL].astype(str).unique()), dtype=str)
        users = pd.Index(user_ids).get_indexer(train[ix.USER_COL].astype(str))
        items = pd.Index(item_ids).get_indexer(train[ix.PRODUCT_COL].astype(str))
        positive = train[ix.PREFERENCE_COL].to_numpy() == 1
        user_codes = item_codes = None
        names: list[str] = []
        if user_attributes is not None and len(user_attributes.columns):
            user_codes, _ = ix.encode_attributes(user_attributes, user_ids)
            names += list(user_attributes.columns)
        if item_attributes is not None and len(item_attributes.columns):
            item_codes, _ = ix.encode_attributes(item_attributes, item_ids)
            names += list(item_attributes.columns)
        return cls(
            user_ids=user_ids, item_ids=item_ids, users=users.astype(np.int64),
            items=items.astype(np.int64),
            strength=train[ix.STRENGTH_COL].to_numpy(np.float32),
            confidence=train[ix.CONFIDENCE_COL].to_numpy(np.float32), positive=positive,
            popularity=np.bincount(items[positive], minlength=len(item_ids)).astype(np.float64),
            user_codes=user_codes, item_codes=item_codes, attributes=tuple(names),
        )

    def recommender(self, user_factors: np.ndarray, item_factors: np.ndarray,
                    item_bias: np.ndarray | None) -> FactorRecommender:
        return FactorRecommender.build(self.user_ids, self.item_ids, user_factors, item_factors,
                                       item_bias, self.users, self.items, self.popularity)

    def popularity_recommender(self) -> FactorRecommender:
        """Everyone gets the most popular unseen items (the baseline)."""
        share = self.popularity / max(self.popularity.sum(), 1.0)
        return self.recommender(np.zeros((len(self.user_ids), 1), np.float32),
                                np.zeros((len(self.item_ids), 1), np.float32), share)


# --- models ------------------------------------------------------------------------------------


@dataclass
class ModelFit:
    """One fitted model, ready to evaluate and log."""

    name: str
    recommender: FactorRecommender
    train_s: float  # wall time of the fit, distributor or Spark overhead included
    params: dict[str, Any]
    hyperparameters: dict[str, Any]
    losses: list[float] = field(default_factory=list)
    device: str = "cpu"


def fit_als(spark: SparkSession, data: Indexed, config: AlsConfig) -> ModelFit:
    """Spark MLlib ALS, implicit preferences, on every training interaction (negatives give
    preference 0 with confidence 1 + alpha·|strength|)."""
    from pyspark.ml.recommendation import ALS

    started = time.perf_counter()
    frame = spark.createDataFrame(pd.DataFrame({
        "user": data.users.astype(np.int32), "item": data.items.astype(np.int32),
        "strength": data.strength.astype(np.float32),
    }))
    als = ALS(rank=config.rank, maxIter=config.max_iter, regParam=config.reg_param,
              alpha=config.alpha, implicitPrefs=True, userCol="user", itemCol="item",
              ratingCol="strength", seed=config.seed, coldStartStrategy="drop")
    model = als.fit(frame)
    user_factors = np.zeros((len(data.user_ids), config.rank), np.float32)
    item_factors = np.zeros((len(data.item_ids), config.rank), np.float32)
    for table, target in ((model.userFactors, user_factors), (model.itemFactors, item_factors)):
        factors = table.toPandas()
        target[factors["id"].to_numpy()] = np.stack(factors["features"].to_numpy())
    train_s = time.perf_counter() - started
    return ModelFit("als", data.recommender(user_factors, item_factors, None), train_s,
                    config.to_params(), asdict(config))


def fit_torch(spark: SparkSession, data: Indexed, config: FactorizationConfig) -> ModelFit:
    """The torch model, trained by `TorchDistributor` in one process: beside the driver on a
    local master, in an executor on a cluster master (`torch_distributor`); CUDA when present
    (use_gpu when the driver, or on a cluster the tasks, hold a GPU resource, and the train
    function itself picks CUDA whenever PyTorch sees one)."""
    started = time.perf_counter()
    distributor = torch_distributor(spark, num_processes=1)
    positive = data.positive
    result: FactorizationResult = distributor.run(
        train_factorization, data.users[positive], data.items[positive],
        data.confidence[positive], len(data.user_ids), len(data.item_ids), asdict(config),
        data.user_codes, data.item_codes,
    )
    train_s = time.perf_counter() - started
    recommender = data.recommender(result.user_factors, result.item_factors, result.item_bias)
    params = {**config.to_params(), "torch.fit_s": round(result.train_s, 3),
              "torch.attributes": ",".join(data.attributes) if config.use_features else ""}
    return ModelFit("torch", recommender, train_s, params, asdict(config), result.losses,
                    result.device)


# --- evaluation ----------------------------------------------------------------------------------


@dataclass
class Evaluation:
    metrics: dict[str, float]  # ndcg@k, precision@k, ... , coverage@k, users
    by_k: pd.DataFrame  # k, ndcg, precision, recall, map, map_legacy
    by_group: pd.DataFrame | None  # group (skin tone), users, metrics
    recommendations: pd.DataFrame


def evaluate(recommender: FactorRecommender, holdout: Holdout, k: int, *,
             exclude: dict[str, np.ndarray] | None = None) -> Evaluation:
    """Rank for every holdout user and score against the truth.

    `exclude`: items to skip per user instead of the recommender's own training items (used to
    score an older champion on a newer training window).
    """
    users = holdout.truth[ix.USER_COL].drop_duplicates().tolist()
    depth = max(k, max(PLOT_KS))
    recommended = recommender.recommend(users, depth, exclude=exclude,
                                        exclude_seen=exclude is None)
    n_items = holdout.train[ix.PRODUCT_COL].nunique()
    metrics = ranking_metrics(recommended, holdout.truth, k, n_items=n_items)
    by_k = metrics_by_k(recommended, holdout.truth, PLOT_KS)
    by_group = None
    if holdout.user_groups is not None:
        by_group = metrics_by_group(recommended, holdout.truth, holdout.user_groups, k)
    return Evaluation(metrics, by_k, by_group, recommended)


def seen_items(train: pd.DataFrame) -> dict[str, np.ndarray]:
    """user_id → product ids the user interacted with in `train`."""
    grouped = train.groupby(ix.USER_COL, sort=False)[ix.PRODUCT_COL]
    return {str(user): items.astype(str).to_numpy() for user, items in grouped}


def mlflow_metrics(evaluation: Evaluation, k: int, baseline: Evaluation | None) -> dict[str, float]:
    """Metric names MLflow accepts (``ndcg_at_10``), per-group NDCG and the lift over popularity."""
    out = {name.replace("@", "_at_"): value for name, value in evaluation.metrics.items()
           if name != "users"}
    out["eval_users"] = evaluation.metrics["users"]
    ndcg = metric_name("ndcg", k)
    if baseline is not None and baseline.metrics[ndcg] > 0:
        out["lift_over_popularity"] = evaluation.metrics[ndcg] / baseline.metrics[ndcg]
    if evaluation.by_group is not None:
        for row in evaluation.by_group.itertuples(index=False):
            out[f"ndcg_at_{k}.skin_tone_{row.group}"] = float(row.ndcg)
        overall = evaluation.metrics[ndcg]
        known = evaluation.by_group[evaluation.by_group["group"] != "unknown"]
        if overall > 0 and len(known):
            out[f"ndcg_at_{k}.worst_skin_tone_ratio"] = float(known["ndcg"].min() / overall)
    return out


# --- MLflow ------------------------------------------------------------------------------------


def _plot_metrics_by_k(curves: dict[str, pd.DataFrame], title: str) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = ("ndcg", "precision", "recall", "map")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.4), sharex=True)
    for axis, metric in zip(axes, metrics, strict=True):
        for name, table in curves.items():
            axis.plot(table["k"], table[metric], marker="o", label=name)
        axis.set_title(f"{metric}@k")
        axis.set_xlabel("k")
        axis.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _plot_losses(losses: list[float]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(5, 3.4))
    axis.plot(range(1, len(losses) + 1), losses)
    axis.set_xlabel("epoch")
    axis.set_ylabel("training loss")
    axis.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _log_model_run(fit: ModelFit, evaluation: Evaluation, baseline: Evaluation, holdout: Holdout,
                   config: TrainRecommenderConfig) -> Any:
    """One child run: params, data window, row counts, metrics, plots, tables and the pyfunc."""
    import matplotlib.pyplot as plt
    import mlflow
    mlflow.log_params({**fit.params, **holdout.window, "model": fit.name, "k": config.k,
                       "device": fit.device})
    mlflow.log_metrics({**{key: float(value) for key, value in holdout.rows.items()},
                        **mlflow_metrics(evaluation, config.k, baseline),
                        "train_s": fit.train_s})
    mlflow.log_dict(fit.hyperparameters, "config/hyperparameters.json")
    for epoch, loss in enumerate(fit.losses):
        mlflow.log_metric("train_loss", loss, step=epoch)
    fig = _plot_metrics_by_k({fit.name: evaluation.by_k, POPULARITY: baseline.by_k},
                             f"{fit.name} on {config.source} ({holdout.window['data.split']} holdout)")
    mlflow.log_figure(fig, "plots/metrics_by_k.png")
    plt.close(fig)
    if fit.losses:
        fig = _plot_losses(fit.losses)
        mlflow.log_figure(fig, "plots/training_loss.png")
        plt.close(fig)
    with tempfile.TemporaryDirectory() as scratch:
        evaluation.by_k.to_csv(Path(scratch) / "metrics_by_k.csv", index=False)
        if evaluation.by_group is not None:
            evaluation.by_group.to_csv(Path(scratch) / "ndcg_by_skin_tone.csv", index=False)
        mlflow.log_artifacts(scratch, "evaluation")
        artifact = fit.recommender.save(Path(scratch) / "recommender.npz")
        # No `signature`: MLflow derives it from `RecommenderModel.predict`'s type hint, and
        # the example is records, the payload (``{"inputs": [...]}``) a hinted model serves.
        return mlflow.pyfunc.log_model(
            name="model", python_model=RecommenderModel(),
            artifacts={ARTIFACT_KEY: str(artifact)},
            input_example=input_example(fit.recommender.user_ids[:2].tolist(), k=3),
            pip_requirements=pip_requirements(),
        )


def write_embeddings(settings: Settings, recommender: FactorRecommender, version: int,
                     model_name: str) -> list[str]:
    """The champion's user and item embeddings as Parquet under the lake; returns the paths."""
    now = pd.Timestamp.now(tz=UTC)
    vector = pa.list_(pa.float32())
    users, items = recommender.user_embeddings(), recommender.item_embeddings()
    tables = {
        USER_EMBEDDINGS: pa.table({
            "user_id": pa.array(users["user_id"].astype(str), pa.string()),
            EMBEDDING_COL: pa.array(users[EMBEDDING_COL].map(list), vector),
            EVENT_TIMESTAMP_COL: pa.array([now] * len(users), lake.TIMESTAMP),
            MODEL_VERSION_COL: pa.array([version] * len(users), pa.int32()),
        }),
        ITEM_EMBEDDINGS: pa.table({
            "product_id": pa.array(items["product_id"].astype(str), pa.string()),
            EMBEDDING_COL: pa.array(items[EMBEDDING_COL].map(list), vector),
            "bias": pa.array(items["bias"], pa.float32()),
            EVENT_TIMESTAMP_COL: pa.array([now] * len(items), lake.TIMESTAMP),
            MODEL_VERSION_COL: pa.array([version] * len(items), pa.int32()),
        }),
    }
    return [
        lake.write_file(settings.lake_root, f"{path}/{model_name}-v{version}.parquet", table,
                        metadata={"model": model_name, "version": str(version)})
        for path, table in tables.items()
    ]


# --- the job -----------------------------------------------------------------------------------


@dataclass
class TrainRecommenderResult:
    """What a run produced (also what the CLI prints)."""

    run_id: str | None
    window: dict[str, str]
    rows: dict[str, int]
    metrics: dict[str, dict[str, float]]  # model (and "popularity") → metric@k → value
    by_group: dict[str, pd.DataFrame]  # model → per-skin-tone table
    train_s: dict[str, float]
    child_runs: dict[str, str] = field(default_factory=dict)
    best: str | None = None
    registration: Registration | None = None  # the best model's version and the champion decision
    embeddings: list[str] = field(default_factory=list)


def train_recommender(
    spark: SparkSession,
    settings: Settings,
    config: TrainRecommenderConfig,
    on_progress: ProgressCallback | None = None,
    log_to_mlflow: bool = True,
) -> TrainRecommenderResult:
    """Read, split, fit every model in `config.models`, evaluate, log, register, promote.

    `on_progress(stage, done, total)` hears about each stage. Without `log_to_mlflow` nothing is
    logged or registered (the benchmark uses that).
    """
    report = on_progress or (lambda stage, done, total: None)
    report("reading events", None, None)
    events = load_events(settings, config)
    catalog = load_catalog(settings, config)
    report("building interactions", None, None)
    holdout = prepare_holdout(events, config, catalog)
    data = Indexed.from_interactions(holdout.train, holdout.user_attributes,
                                     holdout.item_attributes)
    del events

    fits: list[ModelFit] = []
    for name in config.models:
        report(f"fitting {name}", None, None)
        fits.append(fit_als(spark, data, config.als) if name == "als"
                    else fit_torch(spark, data, config.torch))
    report("evaluating", 0, len(fits) + 1)
    baseline = evaluate(data.popularity_recommender(), holdout, config.k)
    evaluations = {}
    for done, fit in enumerate(fits, start=1):
        evaluations[fit.name] = evaluate(fit.recommender, holdout, config.k)
        report("evaluating", done + 1, len(fits) + 1)
    ndcg = metric_name("ndcg", config.k)
    best = max(fits, key=lambda fit: evaluations[fit.name].metrics[ndcg])
    result = TrainRecommenderResult(
        run_id=None, window=holdout.window, rows=holdout.rows,
        metrics={POPULARITY: baseline.metrics,
                 **{name: evaluation.metrics for name, evaluation in evaluations.items()}},
        by_group={name: evaluation.by_group for name, evaluation in evaluations.items()
                  if evaluation.by_group is not None},
        train_s={fit.name: fit.train_s for fit in fits}, best=best.name,
    )
    if not log_to_mlflow:
        report("done", 1, 1)
        return result
    _log_and_register(settings, config, holdout, fits, evaluations, baseline, best, result, report)
    report("done", 1, 1)
    return result


def _log_and_register(settings: Settings, config: TrainRecommenderConfig, holdout: Holdout,
                      fits: list[ModelFit], evaluations: dict[str, Evaluation],
                      baseline: Evaluation, best: ModelFit, result: TrainRecommenderResult,
                      report: ProgressCallback) -> None:
    import matplotlib.pyplot as plt
    import mlflow

    report("logging to MLflow", None, None)
    use_experiment(settings, config.experiment or settings.recommender_experiment)
    ndcg = metric_name("ndcg", config.k)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    with mlflow.start_run(run_name=f"recommender {config.source} {stamp}") as parent:
        result.run_id = parent.info.run_id
        mlflow.log_params({**config.as_params(), **holdout.window})
        mlflow.log_metrics({**{key: float(value) for key, value in holdout.rows.items()},
                            **{f"{POPULARITY}.{key}": value for key, value in
                               mlflow_metrics(baseline, config.k, None).items()},
                            **{f"{fit.name}.{key}": value for fit in fits for key, value in
                               mlflow_metrics(evaluations[fit.name], config.k, baseline).items()},
                            **{f"{fit.name}.train_s": fit.train_s for fit in fits}})
        fig = _plot_metrics_by_k({**{fit.name: evaluations[fit.name].by_k for fit in fits},
                                  POPULARITY: baseline.by_k}, f"{config.source} holdout")
        mlflow.log_figure(fig, "plots/metrics_by_k.png")
        plt.close(fig)
        logged = {}
        for fit in fits:
            with mlflow.start_run(run_name=fit.name, nested=True) as child:
                logged[fit.name] = _log_model_run(fit, evaluations[fit.name], baseline, holdout,
                                                  config)
                result.child_runs[fit.name] = child.info.run_id
        mlflow.set_tag("best_model", best.name)
        if not config.register:
            return
        report("registering", None, None)
        new_score = evaluations[best.name].metrics[ndcg]
        ndcg_key = ndcg.replace("@", "_at_")

        def champion_ndcg(champion: Any) -> float:
            # the champion skips this run's training items, not those of its own training window
            recommender = champion.unwrap_python_model().recommender
            return evaluate(recommender, holdout, config.k,
                            exclude=seen_items(holdout.train)).metrics[ndcg]

        registration = register_and_promote(
            settings, config.registered_model or settings.recommender_model_name,
            logged[best.name].model_uri, new_score, champion_ndcg,
            greater_is_better=True, score_name=ndcg_key,
            version_tags={f"holdout_{ndcg_key}": f"{new_score:.6f}", "model": best.name,
                          "source": config.source},
        )
        result.registration = registration
        if registration.promoted and config.write_embeddings:
            report("writing embeddings", None, None)
            result.embeddings = write_embeddings(settings, best.recommender,
                                                 registration.version, registration.model_name)


# --- entry points ------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def print_report(result: TrainRecommenderResult, config: TrainRecommenderConfig, console: Any
                 ) -> None:
    """Metrics of every model beside popularity, per-skin-tone NDCG, and the registry outcome."""
    from rich.table import Table

    w, k = result.window, config.k
    console.print(f"[bold]{w['data.source']}[/] {w['data.first_event']} .. {w['data.last_event']}"
                  f" (cutoff {w['data.cutoff']}): {result.rows['rows.events']} events, "
                  f"{result.rows['rows.train_interactions']} training interactions, "
                  f"{result.rows['rows.eval_users']} holdout users")
    table = Table(title=f"Holdout ranking metrics @{k}")
    names = ("ndcg", "precision", "recall", "map", "map_legacy", "coverage")
    for column in ("model", *names, "train s"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for model, metrics in result.metrics.items():
        table.add_row(model, *(_fmt(metrics.get(metric_name(m, k))) for m in names),
                      f"{result.train_s[model]:.1f}" if model in result.train_s else "-")
    console.print(table)
    for model, groups in result.by_group.items():
        overall = result.metrics[model][metric_name("ndcg", k)]
        cells = ", ".join(f"{row.group}: {row.ndcg:.3f} ({row.ndcg / overall:.2f}x, n={row.users})"
                          for row in groups.itertuples(index=False)) if overall else "-"
        console.print(f"{model} NDCG@{k} by skin tone: {cells}")
    registration = result.registration
    if registration is not None:
        verdict = ("[green]promoted to champion[/]" if registration.promoted else
                   f"[yellow]champion stays v{registration.champion_before}[/]")
        before = ("" if registration.champion_score_before is None else
                  f" (champion on this holdout: {registration.champion_score_before:.4f})")
        console.print(f"registered {registration.model_name} v{registration.version} "
                      f"({result.best}): {verdict}{before}")
    for path in result.embeddings:
        console.print(f"wrote {path}")
    if result.run_id:
        console.print(f"MLflow run {result.run_id}")


# --- the command ----------------------------------------------------------------------------------


def run_command(settings: Settings, config: TrainRecommenderConfig) -> TrainRecommenderResult:
    """Train on a Spark session with a progress display, then print the report."""
    result = run_spark_job(
        settings, "train_recommender",
        lambda spark, on_progress: train_recommender(spark, settings, config, on_progress=on_progress),
        input_error=RecommenderInputError, gpu=True,
    )
    print_report(result, config, console)
    return result


#: `glamcast train recommender`: options of TrainRecommenderConfig and its two model configs.
command = job_command(
    TrainRecommenderConfig,
    [
        "source",
        Opt("data_path", typer={"exists": True}),
        "start", "end", "split",
        Opt("test_fraction", typer={"min": 0.01, "max": 0.99}),
        Opt("k", typer={"min": 1}),
        Opt("models", parse=comma_list, kind=str, default=",".join(MODELS)),
        Opt("als.rank", flag="als-rank", typer={"min": 1}),
        Opt("als.max_iter", flag="als-iter", typer={"min": 1}),
        Opt("als.reg_param", flag="als-reg", typer={"min": 0}),
        Opt("als.alpha", flag="als-alpha", typer={"min": 0}),
        "torch.objective", "torch.user_model", "torch.item_model",
        *(Opt(f"torch.{name}", typer={"min": 1}) for name in ("dim", "epochs", "batch_size")),
        *(Opt(f"torch.{name}", typer={"min": 0}) for name in ("lr", "weight_decay")),
        Opt("torch.dropout", typer={"min": 0, "max": 0.95}),
        Opt("torch.negatives", typer={"min": 1}),
        "register",
        Opt("write_embeddings", flag="embeddings"),
        "experiment",
        Opt("registered_model", flag="model-name"),
        Opt("seed", also=("als.seed", "torch.seed"),
            help="Seed of the stratified split and of both models."),
    ],
    run_command,
    doc="Fit implicit ALS (Spark) and the torch model, evaluate, log to MLflow, register the best.",
)


def main(argv: Sequence[str] | None = None) -> None:
    """``spark-submit jobs/train_recommender.py [options]``: the options of
    ``glamcast train recommender``."""
    run_command_line(command, argv, prog_name="train_recommender.py")


if __name__ == "__main__":
    main()
