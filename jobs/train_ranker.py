"""The feed's learned ranker: point-in-time training sets from Feast, LightGBM lambdarank.

Reads
    The lake dataset `tryon` (user_id, product_id, action, ts) with --start <= ts < --end plus
    --horizon-hours after it (label windows), the lake's `catalog`, its `trend_counts` when
    present, the recommender champion (or --recommender-version) from the MLflow registry, and
    the Feast offline store (the feature stage appends to it as it pushes online): every
    feature of a training row comes from `glamcast.platform.features.training_set`, point-in-time
    correct, as of the row's request time (the person's `feed_ranking_v1` user features:
    `glamcast.platform.feed_engine.USER_REFS`) or as of its pools' time (product features of
    `product_popularity_fv`, midnight of the request's day, never later than the request).

Does
    Samples (person, request time) pairs of the window (`models.feed_ranker.sample_requests`:
    one second before a person's first event of a day, at most --max-requests-per-day a day),
    builds for each the candidates the feed would have proposed then (`candidate_indices` on a
    snapshot of the pools at midnight: the champion's top N unseen products, trending, the
    favourite shade family's), labels each candidate with what the person did next within the
    horizon (`label_grades`: try 1 < like/save/share 2 < add to cart 3 < purchase 4, a dismiss
    0; the label window starts strictly after the request time), and fits LightGBM lambdarank
    (`models.feed_ranker.train_ranker`) on the requests whose label window ends before the
    holdout: the last --test-days of the window. On the holdout it scores NDCG@k and recall@k of
    three orders of the same candidates: the candidate model's own, today's blend
    (`models.feed_scoring.rank_feed`) and the ranker, overall and per Monk skin tone.

Logs (MLflow experiment `ranker_experiment` of the settings, default `ranker`)
    One run: every option and the ranker's hyperparameters (params, and
    config/hyperparameters.json), the data window (data.*), row and group counts (rows.*),
    metrics `<order>.ndcg_at_k`, `<order>.recall_at_k` for order in candidates, blend, ranker,
    `ranker.lift_over_blend`, `ranker.ndcg_at_k.skin_tone_<n>`, `ranker.worst_skin_tone_ratio`,
    `train_s`; plots/feature_importance.png; evaluation/metrics_by_skin_tone.csv; the pyfunc
    model ``model`` (`models.ranker_pyfunc.RankerModel`: `FEATURES` columns → ``score``).

Writes
    Registers the ranker as a new version of the settings' `ranker_model_name` (default
    `glamcast-ranker`) and moves its alias ``champion`` only when its holdout NDCG@k beats the
    current champion's on the same holdout rows (`register_and_promote`, the protocol of every
    Glamcast model). The feed engine then serves it (`glamcast.platform.feed_engine`).

Entry points: ``glamcast train ranker ...`` and ``spark-submit jobs/train_ranker.py ...`` (the same
options); tests and the benchmark call `build_ranker_data` and `train_ranker_job` directly.

Caveat: the candidate model is the recommender champion as registered now; where it was
trained on the ranker's window, its score (a ranker feature) has seen the labels' events and the
items it was trained on are not candidates. Train the ranker on days after the champion's
training window (`bench/ranker_offline.py` does) for an honest measure.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from glamcast.core.names import EVENT_TIMESTAMP_COL, TREND_COUNTS, TRYON
from glamcast.core.progress import ProgressCallback
from glamcast.core.settings import Settings
from glamcast.platform import lake
from glamcast.platform.commands import (
    Opt,
    console,
    job_command,
    run_command_line,
    run_spark_job,
)
from glamcast.platform.feed_engine import USER_REFS
from glamcast.platform.model_registry import (
    Registration,
    load_model,
    pip_requirements,
    register_and_promote,
    use_experiment,
)
from models import feed_ranker as fr
from models.feed_scoring import FeedSnapshot, FeedWeights, build_snapshot
from models.ranking_metrics import metric_name

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: Product features of the pools, as `view:feature` refs of `feed_ranking_v1`.
PRODUCT_REFS = tuple(f"product_popularity_fv:{name}" for name in fr.PRODUCT_STAT_FEATURES)
#: The three orders every evaluation compares.
ORDERS = ("candidates", "blend", "ranker")


class RankerInputError(ValueError):
    """The window holds too little to train or evaluate a ranker."""


@dataclass
class TrainRankerConfig:
    """What one run of the job reads, fits and registers."""

    start: datetime | None = None  # first request time (inclusive); default: the lake's first
    end: datetime | None = None  # last request time (exclusive); default: the lake's last event
    test_days: float = 2.0  # the last days of the window: held out, for metrics and gating
    horizon_hours: float = 24.0  # label window after a request: (t, t + horizon]
    max_requests_per_day: int = 400  # requests sampled per day (seeded)
    recommender_version: int | None = None  # candidate model version; default: its champion
    k: int = 10  # cut-off of the metrics and the champion comparison
    ranker: fr.RankerConfig = field(default_factory=fr.RankerConfig)
    experiment: str | None = None  # MLflow experiment; default: settings.ranker_experiment
    registered_model: str | None = None  # default: settings.ranker_model_name
    register: bool = True  # register the ranker and maybe move the champion alias
    seed: int = 42  # seeds the request sample and the ranker

    def __post_init__(self) -> None:
        if self.test_days <= 0 or self.horizon_hours <= 0:
            raise ValueError("test_days and horizon_hours must be positive")
        if self.k < 1 or self.max_requests_per_day < 1:
            raise ValueError("k and max_requests_per_day must be at least 1")

    def as_params(self) -> dict[str, Any]:
        return {"start": str(self.start or ""), "end": str(self.end or ""),
                "test_days": self.test_days, "horizon_hours": self.horizon_hours,
                "max_requests_per_day": self.max_requests_per_day,
                "recommender_version": str(self.recommender_version or "champion"),
                "k": self.k, "seed": self.seed, **self.ranker.to_params()}


# --- training data -------------------------------------------------------------------------------


@dataclass
class RankerData:
    """The training and holdout tables of one window, and what they were built from."""

    train: pd.DataFrame  # models.feed_ranker.training_table rows
    test: pd.DataFrame
    window: dict[str, str]  # data.* parameters
    rows: dict[str, int]  # rows.* counts


def _utc(moment: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)


def user_features_at(settings: Settings, requests: pd.DataFrame, store: Any = None
                     ) -> pd.DataFrame:
    """The `USER_REFS` features of each request's person as of its request time (Feast
    `training_set`), row for row with `requests`, columns named by feature."""
    from glamcast.platform.features import training_set

    rows = pd.DataFrame({"user_id": requests["user_id"].astype(str).to_numpy(),
                         EVENT_TIMESTAMP_COL: pd.to_datetime(requests["request_ts"], utc=True)})
    frame = training_set(settings, rows, list(USER_REFS), store=store)
    names = [ref.split(":", 1)[1] for ref in USER_REFS]
    return frame[[name for name in names if name in frame]].reset_index(drop=True)


def product_stats_at(settings: Settings, times: Sequence[pd.Timestamp], product_ids: Sequence[str],
                     store: Any = None) -> dict[pd.Timestamp, pd.DataFrame]:
    """`PRODUCT_STAT_FEATURES` of every product as of each of `times` (Feast `training_set`):
    time → frame indexed by product_id."""
    from glamcast.platform.features import training_set

    times = sorted({_utc(t) for t in times})
    products = [str(p) for p in product_ids]
    rows = pd.DataFrame({"product_id": np.tile(products, len(times)),
                         EVENT_TIMESTAMP_COL: np.repeat(np.array(times, dtype=object),
                                                        len(products))})
    if rows.empty:
        return {}
    rows[EVENT_TIMESTAMP_COL] = pd.to_datetime(rows[EVENT_TIMESTAMP_COL], utc=True)
    frame = training_set(settings, rows, list(PRODUCT_REFS), store=store)
    out = {}
    for moment, part in frame.groupby(EVENT_TIMESTAMP_COL, sort=True):
        out[_utc(moment)] = part.set_index("product_id")[list(fr.PRODUCT_STAT_FEATURES)]
    return out


def trend_scores_at(trend_counts: pd.DataFrame | None, moment: pd.Timestamp) -> dict[str, float]:
    """``term_type:term`` → trend score of the last complete hour before `moment` (the online
    `term_trends_fv` as the materializer would have written it then); {} without counts."""
    if trend_counts is None or trend_counts.empty:
        return {}
    from jobs.materialize import term_trend_rows

    frame, _ = term_trend_rows(trend_counts, moment.to_pydatetime())
    return dict(zip(frame["term"], frame["trend_score"].astype(float), strict=True))


def build_pools(catalog: pd.DataFrame, recommender: Any, times: Sequence[pd.Timestamp],
                stats: Mapping[pd.Timestamp, pd.DataFrame],
                trend_counts: pd.DataFrame | None = None, weights: FeedWeights | None = None,
                candidates: int = 100) -> dict[pd.Timestamp, tuple[FeedSnapshot, np.ndarray]]:
    """The feed's pools as of each time: `build_snapshot` with that time's live product tries
    and term trends, and the product stats matrix of its items."""
    weights = weights or FeedWeights()
    pools = {}
    for moment in sorted({_utc(t) for t in times}):
        frame = stats.get(moment)
        live = ({} if frame is None else
                {str(p): float(v) for p, v in frame["product_tries_24h"].items() if pd.notna(v)})
        snapshot = build_snapshot(catalog, recommender, trend_scores=trend_scores_at(
            trend_counts, moment), live_popularity=live, now=moment.to_pydatetime(),
            weights=weights, candidates=candidates)
        pools[moment] = (snapshot, fr.product_stat_matrix(snapshot, frame))
    return pools


def build_ranker_data(settings: Settings, events: pd.DataFrame, catalog: pd.DataFrame,
                      recommender: Any, start: Any, end: Any, config: TrainRankerConfig, *,
                      store: Any = None, trend_counts: pd.DataFrame | None = None,
                      weights: FeedWeights | None = None, candidates: int = 100,
                      on_progress: ProgressCallback | None = None) -> RankerData:
    """Requests of [start, end), their candidates, Feast features and labels, split in time:
    training requests have their whole label window before the cutoff (end − test_days), the
    holdout's requests start at the cutoff."""
    weights = weights or FeedWeights()
    report = on_progress or (lambda stage, done, total: None)
    start, end = _utc(start), _utc(end)
    cutoff = end - pd.Timedelta(days=config.test_days)
    horizon = pd.Timedelta(hours=config.horizon_hours)
    if cutoff <= start:
        raise RankerInputError(f"window {start} .. {end} is not longer than test_days")
    requests = fr.sample_requests(events, start, end, max_per_day=config.max_requests_per_day,
                                  seed=config.seed)
    in_train = requests["request_ts"] + horizon <= cutoff
    in_test = requests["request_ts"] >= cutoff
    requests = requests[in_train | in_test].reset_index(drop=True)
    if not in_train.any() or not in_test.any():
        raise RankerInputError("the window holds no training or no holdout requests")
    report("reading features (Feast training sets)", None, None)
    users = user_features_at(settings, requests, store)
    pool_times = sorted({_utc(t) for t in requests["pool_ts"]})
    stats = product_stats_at(settings, pool_times, catalog["product_id"].astype(str).unique(),
                             store)
    pools = build_pools(catalog, recommender, pool_times, stats, trend_counts, weights,
                        candidates)
    requests["pool_ts"] = [_utc(t) for t in requests["pool_ts"]]
    labels = fr.label_grades(fr.label_window_actions(events, requests, horizon))
    report("building candidates", 0, len(requests))
    table = fr.training_table(requests, users, pools, labels, weights,
                              on_progress=lambda done, total: report(
                                  "building candidates", done, total) if done % 200 == 0 else None)
    test_ids = set(requests.loc[requests["request_ts"] >= cutoff, fr.REQUEST_COL])
    is_test = table[fr.REQUEST_COL].isin(test_ids)
    train, test = table[~is_test].reset_index(drop=True), table[is_test].reset_index(drop=True)

    def positive_groups(frame: pd.DataFrame) -> int:
        return int(frame.groupby(fr.REQUEST_COL)[fr.LABEL_COL].max().gt(0).sum())

    window = {"data.start": str(start), "data.end": str(end), "data.cutoff": str(cutoff),
              "data.horizon_hours": str(config.horizon_hours),
              "data.first_request": str(requests["request_ts"].min()),
              "data.last_request": str(requests["request_ts"].max())}
    rows = {"rows.events": len(events), "rows.requests": len(requests),
            "rows.train_rows": len(train), "rows.test_rows": len(test),
            "rows.train_groups": int(train[fr.REQUEST_COL].nunique()),
            "rows.test_groups": int(test[fr.REQUEST_COL].nunique()),
            "rows.train_positive_groups": positive_groups(train),
            "rows.test_positive_groups": positive_groups(test),
            "rows.train_positive_rows": int((train[fr.LABEL_COL] > 0).sum()),
            "rows.pools": len(pools)}
    return RankerData(train, test, window, rows)


# --- evaluation ----------------------------------------------------------------------------------


def evaluate_orders(test: pd.DataFrame, ranker: fr.FeedRanker | None, k: int
                    ) -> dict[str, dict[str, Any]]:
    """NDCG@k and recall@k (overall and per skin tone) of the candidate model's order, the
    blend's and, when given, the ranker's, on the same holdout rows."""
    out = {"candidates": fr.evaluate_ranks(test, test["model_rank"].to_numpy(), k),
           "blend": fr.evaluate_ranks(test, test["blend_rank"].to_numpy(), k)}
    if ranker is not None:
        scores = ranker.score(test[list(fr.FEATURES)].to_numpy(np.float64))
        out["ranker"] = fr.evaluate_ranks(test, fr.ranks_by_score(
            test[fr.REQUEST_COL].to_numpy(), scores), k)
    return out


# --- the job ---------------------------------------------------------------------------------------


@dataclass
class TrainRankerResult:
    """What a run produced (also what the CLI prints)."""

    run_id: str | None
    window: dict[str, str]
    rows: dict[str, int]
    evaluation: dict[str, dict[str, Any]]  # order → evaluate_ranks output
    train_s: float
    importances: pd.Series
    recommender_version: int | None = None
    registration: Registration | None = None


def load_events(settings: Settings, start: datetime | None, end: datetime | None
                ) -> pd.DataFrame:
    """Try-on events (user_id, product_id, action, ts) of the window, sorted by time."""
    events = lake.read_dataset(settings, TRYON, start, end,
                               ["user_id", "product_id", "action", "ts"])
    return events.sort_values("ts", kind="stable").reset_index(drop=True)


def _optional_dataset(settings: Settings, name: str) -> pd.DataFrame | None:
    try:
        frame = lake.read_dataset(settings, name)
    except (FileNotFoundError, lake.LakeError):
        return None
    return frame if len(frame) else None


def train_ranker_job(spark: SparkSession | None, settings: Settings, config: TrainRankerConfig,
                     on_progress: ProgressCallback | None = None, log_to_mlflow: bool = True,
                     store: Any = None) -> TrainRankerResult:
    """Read, build the training sets, fit, evaluate, log, register, promote (see the module
    docstring). Without `log_to_mlflow` nothing is logged or registered."""
    from glamcast.platform.feed_engine import load_catalog
    from glamcast.platform.model_registry import champion_version

    report = on_progress or (lambda stage, done, total: None)
    report("reading events", None, None)
    horizon = timedelta(hours=config.horizon_hours)
    events = load_events(settings, config.start,
                         None if config.end is None else config.end + horizon)
    if events.empty:
        raise RankerInputError("no try-on events in the window")
    start = config.start or events["ts"].min().floor("D")
    end = config.end or events["ts"].max()
    catalog = load_catalog(settings)
    if catalog.empty:
        raise RankerInputError("the lake has no catalogue")
    version = config.recommender_version or champion_version(
        settings, settings.recommender_model_name)
    if version is None:
        raise RankerInputError(f"no {settings.recommender_model_name} champion: train the "
                               "recommender first")
    recommender = load_model(settings, settings.recommender_model_name,
                             version).unwrap_python_model().recommender
    data = build_ranker_data(settings, events, catalog, recommender, start, end, config,
                             store=store, trend_counts=_optional_dataset(settings, TREND_COUNTS),
                             weights=FeedWeights.from_settings(settings),
                             candidates=settings.feed_candidates, on_progress=report)
    report("fitting the ranker", None, None)
    started = time.perf_counter()
    ranker = fr.train_ranker(data.train, config.ranker)
    train_s = time.perf_counter() - started
    report("evaluating", None, None)
    evaluation = evaluate_orders(data.test, ranker, config.k)
    result = TrainRankerResult(None, {**data.window, "data.recommender_version": str(version)},
                               data.rows, evaluation, train_s, ranker.importances(), version)
    if log_to_mlflow:
        _log_and_register(settings, config, data, ranker, result, report)
    report("done", 1, 1)
    return result


def mlflow_metrics(evaluation: Mapping[str, Mapping[str, Any]], k: int) -> dict[str, float]:
    """Flat MLflow metrics of `evaluate_orders` (see the module docstring)."""
    ndcg, recall = metric_name("ndcg", k), metric_name("recall", k)
    key = ndcg.replace("@", "_at_")
    out: dict[str, float] = {}
    for order, values in evaluation.items():
        out[f"{order}.{key}"] = values[ndcg]
        out[f"{order}.{recall.replace('@', '_at_')}"] = values[recall]
        out[f"{order}.requests"] = float(values["requests"])
    if "ranker" in evaluation:
        ranker = evaluation["ranker"]
        blend = evaluation["blend"][ndcg]
        out["ranker.lift_over_blend"] = ranker[ndcg] / blend if blend else float("nan")
        for group, values in ranker["groups"].items():
            out[f"ranker.{key}.skin_tone_{group}"] = values[ndcg]
        ratio = fr.min_group_ratio(ranker, k)
        if math.isfinite(ratio):
            out["ranker.worst_skin_tone_ratio"] = ratio
    return out


def _plot_importance(importances: pd.Series) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    shown = importances.iloc[::-1]
    ax.barh(shown.index, shown.to_numpy())
    ax.set_xlabel("total gain")
    ax.set_title("Feed ranker: feature importance")
    fig.tight_layout()
    return fig


def _log_and_register(settings: Settings, config: TrainRankerConfig, data: RankerData,
                      ranker: fr.FeedRanker, result: TrainRankerResult,
                      report: ProgressCallback) -> None:
    import matplotlib.pyplot as plt
    import mlflow

    from models.ranker_pyfunc import RankerModel, save_artifacts

    report("logging to MLflow", None, None)
    use_experiment(settings, config.experiment or settings.ranker_experiment)
    ndcg = metric_name("ndcg", config.k)
    key = ndcg.replace("@", "_at_")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    with mlflow.start_run(run_name=f"ranker {stamp}") as run:
        result.run_id = run.info.run_id
        mlflow.log_params({**config.as_params(), **result.window})
        mlflow.log_dict(asdict(config.ranker), "config/hyperparameters.json")
        mlflow.log_metrics({**{name: float(value) for name, value in data.rows.items()},
                            **mlflow_metrics(result.evaluation, config.k),
                            "train_s": result.train_s})
        fig = _plot_importance(result.importances)
        mlflow.log_figure(fig, "plots/feature_importance.png")
        plt.close(fig)
        groups = pd.DataFrame([
            {"order": order, "skin_tone": group, ndcg: values[ndcg], "requests": values["requests"]}
            for order, evaluation in result.evaluation.items()
            for group, values in evaluation["groups"].items()])
        mlflow.log_text(groups.to_csv(index=False), "evaluation/metrics_by_skin_tone.csv")
        mlflow.log_text(result.importances.to_csv(header=["gain"]),
                        "evaluation/feature_importance.csv")
        with tempfile.TemporaryDirectory() as tmp:
            artifacts = save_artifacts(ranker, Path(tmp))
            example = data.test[list(fr.FEATURES)].head(5)
            info = mlflow.pyfunc.log_model(
                name="model", python_model=RankerModel(), artifacts=artifacts,
                input_example=example, pip_requirements=pip_requirements("lightgbm"))
        if not config.register:
            return
        report("registering", None, None)
        new_score = result.evaluation["ranker"][ndcg]
        test = data.test

        def champion_ndcg(champion: Any) -> float:
            scores = champion.predict(test[list(fr.FEATURES)])["score"].to_numpy()
            return fr.evaluate_ranks(test, fr.ranks_by_score(
                test[fr.REQUEST_COL].to_numpy(), scores), config.k, group_col=None)[ndcg]

        result.registration = register_and_promote(
            settings, config.registered_model or settings.ranker_model_name, info.model_uri,
            new_score, champion_ndcg, greater_is_better=True, score_name=key,
            version_tags={f"holdout_{key}": f"{new_score:.6f}",
                          "recommender_version": str(result.recommender_version)})


# --- entry points ------------------------------------------------------------------------------


def print_report(result: TrainRankerResult, config: TrainRankerConfig, out: Any) -> None:
    """Holdout metrics of the three orders, per skin tone, and the registry outcome."""
    from rich.table import Table

    k = config.k
    ndcg, recall = metric_name("ndcg", k), metric_name("recall", k)
    rows = result.rows
    out.print(f"requests {result.window['data.first_request']} .. "
              f"{result.window['data.last_request']} (cutoff {result.window['data.cutoff']}): "
              f"{rows['rows.train_groups']} training requests ({rows['rows.train_rows']} rows), "
              f"{rows['rows.test_groups']} holdout requests ({rows['rows.test_rows']} rows)")
    table = Table(title=f"Holdout ranking of the feed's candidates @{k}")
    for column in ("order", ndcg, recall, "requests"):
        table.add_column(column, justify="left" if column == "order" else "right")
    for order, values in result.evaluation.items():
        table.add_row(order, f"{values[ndcg]:.4f}", f"{values[recall]:.4f}",
                      str(values["requests"]))
    out.print(table)
    ranker = result.evaluation.get("ranker")
    if ranker:
        cells = ", ".join(f"{g}: {v[ndcg]:.3f} (n={v['requests']})"
                          for g, v in ranker["groups"].items())
        out.print(f"ranker NDCG@{k} by skin tone: {cells}")
    out.print("top features: " + ", ".join(result.importances.index[:5]))
    registration = result.registration
    if registration is not None:
        verdict = ("[green]promoted to champion[/]" if registration.promoted else
                   f"[yellow]champion stays v{registration.champion_before}[/]")
        out.print(f"registered {registration.model_name} v{registration.version}: {verdict}")
    if result.run_id:
        out.print(f"MLflow run {result.run_id}")


def run_command(settings: Settings, config: TrainRankerConfig) -> TrainRankerResult:
    """Train with a progress display, then print the report."""
    result = run_spark_job(
        settings, "train_ranker",
        lambda spark, on_progress: train_ranker_job(spark, settings, config,
                                                    on_progress=on_progress),
        input_error=RankerInputError,
    )
    print_report(result, config, console)
    return result


#: `glamcast train ranker`.
command = job_command(
    TrainRankerConfig,
    [
        "start", "end",
        Opt("test_days", typer={"min": 0.01}),
        Opt("horizon_hours", typer={"min": 0.01}),
        Opt("max_requests_per_day", typer={"min": 1}),
        "recommender_version",
        Opt("k", typer={"min": 1}),
        Opt("ranker.n_estimators", flag="trees", typer={"min": 1}),
        Opt("ranker.learning_rate", flag="learning-rate", typer={"min": 0}),
        Opt("ranker.num_leaves", flag="leaves", typer={"min": 2}),
        Opt("ranker.min_child_samples", flag="min-leaf-rows", typer={"min": 1}),
        "register", "experiment",
        Opt("registered_model", flag="model-name"),
        Opt("seed", also=("ranker.seed",), help="Seed of the request sample and the ranker."),
    ],
    run_command,
    doc="Train the feed's ranker on point-in-time Feast training sets; register its champion.",
)


def main(argv: Sequence[str] | None = None) -> None:
    """``spark-submit jobs/train_ranker.py [options]``: the options of ``glamcast train ranker``."""
    run_command_line(command, argv, prog_name="train_ranker.py")


if __name__ == "__main__":
    main()
