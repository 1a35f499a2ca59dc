"""Trend forecasts for marketing: one Prophet model per trend term, fitted in parallel on Spark.

Reads
    The lake dataset `trend_counts` (hour, term_type, term, source, weight, events): `weight`
    (or `events`) summed per term and UTC day over the window --since..--until. Default window:
    the two years up to the last complete day in the data (today, still filling, is left out).
    Or, with --input-csv, a CSV export with columns date|ds, value|y and optionally term and
    term_type (a file without `term` is one series named after the file).

Does
    Fills missing days explicitly (zero for counts, or linear interpolation for levels), sets
    aside terms with too little or too sparse history (each with its reason), then per term in
    ``groupBy(term_type, term).applyInPandas``: a rolling-origin backtest of Prophet and the
    statsforecast peers (AutoETS, AutoTheta) against seasonal-naive and naive forecasts (MASE,
    sMAPE, band coverage), a final fit with the beauty holiday calendar, a forecast with its band
    from the model the backtest ranks best, the class (breakout, rising, seasonal spike, steady,
    fading) with its evidence, the trust label of the chosen model, and an anomaly alert
    (models/trend_forecast.py holds the per-term logic). New breakouts and band exits are
    published to the alerts topic (`glamcast.platform.alerts`), each once.

Writes
    Lake dataset `forecasts` at ``forecasts/date=<until>/source=<source>/`` (replaced when the
    same window and source run again): term_type, term, ds, y (actual, null ahead), yhat,
    yhat_lower, yhat_upper, trend, weekly, yearly, holidays, holiday, is_forecast, origin,
    run_id, generated_at. One row per term and day, history and horizon, with no gaps;
    `latest_forecasts(settings)` reads the newest run back (for the API and dashboard).
    Report files under ``<state_dir>/reports/forecast_trends/<until>-<source>/``.
    Trend looks (lake input, unless --no-trend-looks): the look GAN champion's looks for the
    run's rising and breakout shade families and finishes, matched to the lake's catalogue, in
    the lake dataset ``trend_looks/date=<until>/`` (`glamcast.platform.trend_looks`; the feed
    offers them, `GET /v1/trend-looks` lists them) and in trend_looks.json.

Logs (MLflow experiment `forecast_experiment` of the settings, default `trend_forecast`)
    params: every field of the config, the data window and source; metrics: row counts
    (input rows, series rows, forecast rows), n_terms, n_forecast, n_set_aside, n_failed,
    share_beating_seasonal_naive, mean/median MASE and mean sMAPE per model, mean band coverage,
    n_<class>, n_trusted, n_chosen_<model>, mean_mase_chosen, n_alerts, n_alerts_sent,
    n_anomalies, n_trend_looks, n_trend_look_terms, fit_seconds; artifacts: backtest.csv, backtest_summary.csv, rising.csv,
    rising.json, set_aside.csv, alerts.json, trend_looks.json, config.json and plots/*.png
    (one per top rising/fading term, and overview.png).

Entry points: ``glamcast forecast ...`` and ``spark-submit jobs/forecast_trends.py ...`` (the same
options); tests call `forecast_trends` directly.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from glamcast.core.events import TrendAlert
from glamcast.core.names import (
    DATE_COL,
    EVENTS_COL,
    FORECASTS,
    TERM_COL,
    TERM_TYPE_COL,
    TREND_COUNTS,
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
from glamcast.platform.forecasts import CHOICE_COLUMNS, EVIDENCE_COLUMNS, RISING_COLUMNS
from glamcast.platform.model_registry import use_experiment
from models.trend_forecast import (
    BREAKOUT,
    COMPONENTS,
    FADING,
    FAILED,
    MODELS,
    OK,
    PEERS,
    PROPHET,
    RISING,
    SEASONAL_SPIKE,
    SET_ASIDE,
    STEADY,
    TREND_CLASSES,
    TRUSTED,
    TrendForecastConfig,
    config_for_freq,
    forecast_term,
    periods_between,
    set_aside_reason,
    trust_label,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

LAKE_SOURCE = TREND_COUNTS

KEYS = [TERM_TYPE_COL, TERM_COL]
CSV_TERM_TYPE = "series"  # term_type of CSV series that do not name one

CLASS_ORDER = {name: order for order, name in enumerate(TREND_CLASSES)}

# What the fit stage returns per term: its forecast rows, and one summary row (JSON payload).
_FIT_SCHEMA = (
    "term_type string, term string, record string, ds date, y double, yhat double, "
    "yhat_lower double, yhat_upper double, trend double, weekly double, yearly double, "
    "holidays double, holiday string, is_forecast boolean, payload string"
)
_FORECAST_RECORD, _SUMMARY_RECORD = "forecast", "summary"



@dataclass(frozen=True)
class ForecastTrendsConfig:
    """One run of the job: what to read, the per-term model config, what to produce."""

    model: TrendForecastConfig = field(default_factory=TrendForecastConfig)
    since: date | None = None  # first day of history; None: `history_days` before `until` (lake)
    until: date | None = None  # last day of history; None: last complete day in the data
    history_days: int = 730  # lake window when `since` is not given: two years
    input_csv: Path | None = None  # read this CSV export instead of the lake's trend_counts
    value_column: str = lake.WEIGHT_COL  # trend_counts column forecast: weight or events
    term_types: tuple[str, ...] = ()  # only these term types (hashtag, brand...); () = all
    top_plots: int = 6  # plots for this many top rising and as many top fading terms
    plot_history_days: int = 365  # history shown in a term's plot
    tasks_per_core: int = 4  # fit tasks per Spark core: balance and progress granularity
    write_lake: bool = True  # write the `forecasts` dataset
    publish_alerts: bool = True  # send new breakouts and band exits to the alerts topic (broker)
    alerts_topic: str | None = None  # that topic; unset: the settings' (prefixed) alerts topic
    trend_looks: bool = True  # make the look GAN champion's looks for rising families and finishes
    report_dir: Path | None = None  # None: <state_dir>/reports/forecast_trends/<until>-<source>
    experiment: str | None = None  # MLflow experiment; default: settings.forecast_experiment
    verbose_stan: bool = False  # let cmdstan/Prophet log to the console

    def as_params(self) -> dict[str, Any]:
        params = {f"model.{key}": value for key, value in self.model.as_params().items()}
        for key, value in asdict(self).items():
            if key != "model":
                params[key] = ",".join(value) if isinstance(value, tuple) else value
        return {key: "none" if value is None or value == "" else value for key, value in params.items()}


@dataclass
class ForecastResult:
    """What a run produced; the DataFrames are small (one row per term, or term × cutoff)."""

    config: ForecastTrendsConfig
    source: str  # "trend_counts" or "csv:<file name>"
    since: date
    until: date
    run_id: str | None
    rising: pd.DataFrame  # RISING_COLUMNS, ranked: rising, steady, fading
    backtest: pd.DataFrame  # term_type, term, cutoff, model, horizon, mase, smape, coverage
    backtest_summary: pd.DataFrame  # per term and model: mean mase, smape, coverage
    set_aside: pd.DataFrame  # term_type, term, status (set_aside/failed), reason, n_periods
    metrics: dict[str, float]
    forecasts_path: str | None
    report_dir: Path
    plots: list[Path] = field(default_factory=list)
    alerts: list[TrendAlert] = field(default_factory=list)  # raised by this run
    alerts_sent: list[TrendAlert] = field(default_factory=list)  # of them, new: published
    trend_looks: Any = None  # glamcast.platform.trend_looks.TrendLooksOutcome (None: not asked)


class ForecastInputError(ValueError):
    """The input cannot be read as trend series (missing dataset, column or rows)."""


# --- input -------------------------------------------------------------------------------------


def _today_utc() -> date:
    return datetime.now(UTC).date()


def source_name(config: ForecastTrendsConfig) -> str:
    if config.input_csv is None:
        return LAKE_SOURCE
    return "csv:" + re.sub(r"[^A-Za-z0-9_.-]+", "_", config.input_csv.stem)


def _pick(columns: Sequence[str], candidates: Sequence[str], what: str, path: Path) -> str:
    lowered = {name.lower(): name for name in columns}
    for candidate in candidates:
        if candidate in lowered:
            return lowered[candidate]
    raise ForecastInputError(
        f"{path}: no {what} column (expected one of {', '.join(candidates)}; found {', '.join(columns)})"
    )


def read_csv_series(spark: SparkSession, config: ForecastTrendsConfig) -> DataFrame:
    """A CSV export → (term_type, term, ds, y), values summed per term and period."""
    from pyspark.sql import functions as F

    path = config.input_csv
    assert path is not None
    if not path.is_file():
        raise ForecastInputError(f"input CSV not found: {path}")
    raw = spark.read.option("header", True).csv(str(path.resolve()))
    date_col = _pick(raw.columns, ("date", "ds", "day"), "date", path)
    value_col = _pick(raw.columns, ("value", "y", "count", "weight"), "value", path)
    lowered = {name.lower(): name for name in raw.columns}
    term = F.col(lowered["term"]) if "term" in lowered else F.lit(path.stem)
    term_type = F.col(lowered["term_type"]) if "term_type" in lowered else F.lit(CSV_TERM_TYPE)
    ds = F.to_date(F.col(date_col))
    if config.model.freq == "MS":
        ds = F.trunc(ds, "month")
    frame = raw.select(term_type.alias(TERM_TYPE_COL), term.alias(TERM_COL), ds.alias("ds"),
                       F.col(value_col).cast("double").alias("y"))
    frame = frame.where(F.col("ds").isNotNull() & F.col(TERM_COL).isNotNull())
    return frame.groupBy(*KEYS, "ds").agg(F.sum("y").alias("y"), F.count(F.lit(1)).alias("n_rows"))


def lake_days(settings: Settings, dataset: str = TREND_COUNTS) -> list[date]:
    """The dates that have a partition in a lake dataset, sorted (read from directory names)."""
    import pyarrow.fs as pafs

    fs, base = lake.filesystem(settings.lake_root)
    root = f"{base}/{dataset}"
    if fs.get_file_info(root).type == pafs.FileType.NotFound:
        raise ForecastInputError(
            f"no {dataset} dataset at {root}; run the streams (or the simulator) first, "
            "or pass --input-csv"
        )
    prefix = f"{DATE_COL}="
    days = []
    for info in fs.get_file_info(pafs.FileSelector(root)):
        name = info.base_name
        if info.type == pafs.FileType.Directory and name.startswith(prefix):
            days.append(date.fromisoformat(name[len(prefix):]))
    if not days:
        raise ForecastInputError(f"{dataset} at {root} has no date partitions")
    return sorted(days)


def read_lake_counts(spark: SparkSession, settings: Settings, days: Sequence[date]) -> DataFrame:
    """The `trend_counts` rows of the given date partitions (only those are listed and read)."""
    base = f"{settings.lake_root.rstrip('/')}/{TREND_COUNTS}"
    paths = [f"{base}/{lake.partition_dir(TREND_COUNTS, day).split('/', 1)[1]}" for day in days]
    # The schema is known (glamcast.platform.lake): giving it spares Spark a footer read per file.
    schema = (f"{lake.HOUR_COL} timestamp, {TERM_TYPE_COL} string, {TERM_COL} string, "
              f"{lake.SOURCE_COL} string, {lake.WEIGHT_COL} double, {EVENTS_COL} bigint, "
              f"{DATE_COL} date")
    return spark.read.schema(schema).option("basePath", base).parquet(*paths)


def resolve_window(last_day: date, first_day: date, config: ForecastTrendsConfig) -> tuple[date, date]:
    """(since, until) of a run, from the data's first and last day and the config."""
    if config.until is not None:
        until = config.until
    elif config.input_csv is None:
        until = min(last_day, _today_utc() - timedelta(days=1))  # today is still filling up
    else:
        until = last_day
    if config.since is not None:
        since = config.since
    elif config.input_csv is None:
        since = max(first_day, until - timedelta(days=config.history_days - 1))
    else:
        since = first_day
    if since > until:
        raise ForecastInputError(f"empty window: since {since} is after until {until}")
    return since, until


def load_series(spark: SparkSession, settings: Settings, config: ForecastTrendsConfig
                ) -> tuple[DataFrame, date, date]:
    """Observed values per term and period in the window: (frame, since, until).

    frame columns: term_type, term, ds (date), y (double), n_rows (input rows summed into it);
    only periods with data.
    """
    from pyspark.sql import functions as F

    if config.input_csv is not None:
        observed = read_csv_series(spark, config)
        bounds = observed.agg(F.min("ds").alias("lo"), F.max("ds").alias("hi")).first()
        if bounds is None or bounds["hi"] is None:
            raise ForecastInputError(f"{config.input_csv}: no rows with a date and a term")
        since, until = resolve_window(bounds["hi"], bounds["lo"], config)
        window = observed.where(F.col("ds").between(since, until))
        if config.term_types:
            window = window.where(F.col(TERM_TYPE_COL).isin(list(config.term_types)))
        return window, since, until

    days = lake_days(settings)
    since, until = resolve_window(days[-1], days[0], config)
    window_days = [day for day in days if since <= day <= until]
    if not window_days:
        raise ForecastInputError(f"{TREND_COUNTS} has no data between {since} and {until}")
    counts = read_lake_counts(spark, settings, window_days)
    if config.value_column not in counts.columns:
        raise ForecastInputError(f"{TREND_COUNTS} has no column {config.value_column!r}")
    rows = counts.where(F.to_date(F.col(lake.HOUR_COL)).between(since, until))
    if config.term_types:
        rows = rows.where(F.col(TERM_TYPE_COL).isin(list(config.term_types)))
    observed = rows.groupBy(TERM_TYPE_COL, TERM_COL, F.to_date(F.col(lake.HOUR_COL)).alias("ds")).agg(
        F.sum(F.col(config.value_column).cast("double")).alias("y"), F.count(F.lit(1)).alias("n_rows"))
    return observed, since, until


# --- screening ---------------------------------------------------------------------------------


def screen_terms(observed: DataFrame, until: date, model: TrendForecastConfig) -> pd.DataFrame:
    """Per term: first period, periods in the window, non-zero and observed periods, input rows,
    and why it is set aside (None when it is forecast).

    Computed in Spark (one row per term comes back), so a long tail of rare hashtags never
    reaches the Prophet stage.
    """
    from pyspark.sql import functions as F

    stats = observed.groupBy(*KEYS).agg(
        F.min("ds").alias("first_ds"),
        F.sum(F.when(F.col("y") != 0, 1).otherwise(0)).alias("n_nonzero"),
        F.count(F.lit(1)).alias("n_observed"),
        F.sum("n_rows").alias("n_rows"),
    ).toPandas()
    end = pd.Timestamp(until)
    stats["n_periods"] = [periods_between(pd.Timestamp(first), end, model.freq) for first in stats["first_ds"]]
    stats["reason"] = [set_aside_reason(int(n), int(nz), model)
                       for n, nz in zip(stats["n_periods"], stats["n_nonzero"], strict=True)]
    return stats


# --- the per-term fit stage --------------------------------------------------------------------


def _nan_to_none(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def _summary_frame(term_type: str, term: str, payload: str) -> pd.DataFrame:
    """The one summary row of a term, typed like its forecast rows (NaN, NaT, False)."""
    row: dict[str, Any] = {name: [math.nan] for name in ("y", "yhat", "yhat_lower", "yhat_upper", *COMPONENTS)}
    row.update(term_type=[term_type], term=[term], record=[_SUMMARY_RECORD],
               ds=pd.Series([pd.NaT], dtype="datetime64[ns]"), holiday=pd.Series([None], dtype=object),
               is_forecast=[False], payload=[payload])
    return pd.DataFrame(row)


def fit_terms_udf(model: TrendForecastConfig, until: date, calendar: pd.DataFrame,
                  verbose: bool) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The function applyInPandas runs per term: forecast rows plus one JSON summary row."""
    end = pd.Timestamp(until)
    columns = [name.split()[0] for name in _FIT_SCHEMA.split(", ")]

    def fit_one(group: pd.DataFrame) -> pd.DataFrame:
        term_type, term = group[TERM_TYPE_COL].iloc[0], group[TERM_COL].iloc[0]
        result = forecast_term(group[["ds", "y"]], end, model, calendar, verbose=verbose)
        summary: dict[str, Any] = {
            "status": result.status, "reason": result.reason, "n_periods": result.n_periods,
            "n_filled": result.n_filled, "fit_seconds": result.fit_seconds,
        }
        frames = []
        if result.status == OK:
            assert result.forecast is not None and result.backtest is not None
            summary["growth"] = {k: _nan_to_none(v) for k, v in asdict(result.growth).items()}
            summary["choice"] = {k: _nan_to_none(v) for k, v in asdict(result.choice).items()}
            backtest = result.backtest.assign(cutoff=result.backtest["cutoff"].dt.strftime("%Y-%m-%d"))
            summary["backtest"] = [{k: _nan_to_none(v) for k, v in row.items()}
                                   for row in backtest.to_dict("records")]
            rows = result.forecast.assign(term_type=term_type, term=term, record=_FORECAST_RECORD,
                                          payload=None)
            frames.append(rows)
        frames.append(_summary_frame(term_type, term, json.dumps(summary)))
        return pd.concat(frames, ignore_index=True)[columns] if len(frames) > 1 else frames[0][columns]

    return fit_one


class _StageProgress(threading.Thread):
    """Polls Spark's status tracker: completed tasks of the job group's fit stage.

    The fit stage is the newest stage with `n_tasks` tasks (stages skipped thanks to the cache
    are listed too, with no tasks done, so the widest stage is not necessarily the running one).
    """

    def __init__(self, spark: SparkSession, group: str, n_tasks: int, on_progress: ProgressCallback,
                 stage: str):
        super().__init__(daemon=True)
        self.tracker = spark.sparkContext.statusTracker()
        self.group, self.n_tasks, self.on_progress, self.stage = group, n_tasks, on_progress, stage
        self.stopped = threading.Event()

    def run(self) -> None:
        last = -1
        while not self.stopped.wait(0.5):
            done = 0
            for job_id in self.tracker.getJobIdsForGroup(self.group):
                job = self.tracker.getJobInfo(job_id)
                # the fit stage comes after the shuffle that groups the terms: the newest stage
                # of that width (the shuffle's map side may have as many tasks)
                for stage_id in sorted(job.stageIds if job else [], reverse=True):
                    info = self.tracker.getStageInfo(stage_id)
                    if info and info.numTasks == self.n_tasks:
                        done = info.numCompletedTasks
                        break
            if done != last:
                self.on_progress(self.stage, done, self.n_tasks)
                last = done


# --- reports -----------------------------------------------------------------------------------


def _summaries_to_tables(rows: list[Any]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Summary payloads → (scores, backtest, failed)."""
    scores, backtests, failed = [], [], []
    for row in rows:
        payload = json.loads(row["payload"])
        key = {TERM_TYPE_COL: row[TERM_TYPE_COL], TERM_COL: row[TERM_COL]}
        if payload["status"] != OK:
            failed.append({**key, "status": payload["status"], "reason": payload["reason"],
                           "n_periods": payload["n_periods"]})
            continue
        growth = payload["growth"]
        scores.append({**key, "trend_class": growth["trend_class"], "growth_score": growth["score"],
                       **{k: growth[k] for k in ("level_change", "trend_change", "p_up", "recent_level",
                                                  "baseline_level", "last_actual", "anomaly",
                                                  "anomaly_outside", *EVIDENCE_COLUMNS)},
                       "n_periods": payload["n_periods"], "n_filled": payload["n_filled"],
                       "fit_seconds": payload["fit_seconds"],
                       **{f"chosen_{k}" if k in ("model", "mase", "coverage") else k: v
                          for k, v in payload["choice"].items()}})
        backtests.extend({**key, **entry} for entry in payload["backtest"])
    backtest = pd.DataFrame(backtests, columns=[*KEYS, "cutoff", "model", "horizon", "mase", "smape", "coverage"])
    backtest = backtest.astype({"mase": float, "smape": float, "coverage": float})
    return pd.DataFrame(scores), backtest, pd.DataFrame(failed, columns=[*KEYS, "status", "reason", "n_periods"])


def summarize_backtests(backtest: pd.DataFrame) -> pd.DataFrame:
    """Per term and model: mean MASE, sMAPE and coverage over the cutoffs."""
    columns = [*KEYS, "model", "mase", "smape", "coverage", "n_cutoffs"]
    if backtest.empty:
        return pd.DataFrame(columns=columns)
    summary = backtest.groupby([*KEYS, "model"], sort=False).agg(
        mase=("mase", "mean"), smape=("smape", "mean"), coverage=("coverage", "mean"),
        n_cutoffs=("cutoff", "nunique")).reset_index()
    return summary[columns]


def _strength(row: pd.Series) -> float:
    """How strongly a term shows its class: the growth that put it there (rank within class)."""
    g4 = row.get("growth_4w")
    g4 = row["growth_score"] if g4 is None or pd.isna(g4) else g4
    if row["trend_class"] == BREAKOUT:
        return max(g4, row.get("growth_2w") if pd.notna(row.get("growth_2w")) else -math.inf)
    if row["trend_class"] == RISING:
        return g4
    if row["trend_class"] == FADING:
        return -g4
    if row["trend_class"] == SEASONAL_SPIKE:
        lift = row.get("holiday_lift")
        return 0.0 if lift is None or pd.isna(lift) else lift
    return row["growth_score"]


def rank_terms(scores: pd.DataFrame, summary: pd.DataFrame, model: TrendForecastConfig | None = None
               ) -> pd.DataFrame:
    """The rising list: scores joined with backtest means and the trust label, ranked by class.

    Classes in `TREND_CLASSES` order (breakout, rising, seasonal spike, steady, fading); within a
    class the strongest first (growth over 4 weeks; the lift for spikes; the most fading first).
    `beats_seasonal_naive`: Prophet's mean MASE below seasonal naive's; `trust`/`trust_reason`:
    `models.trend_forecast.trust_label` of the chosen model's backtest (`chosen_model`: the
    lowest mean MASE of Prophet and the peers; `runner_up_*`: the second).
    """
    model = model or TrendForecastConfig()
    if scores.empty:
        return pd.DataFrame(columns=list(RISING_COLUMNS))
    wide = summary.pivot_table(index=KEYS, columns="model", values=["mase", "smape", "coverage"])
    flat = pd.DataFrame(index=wide.index)
    for name in MODELS:
        for metric in ("mase", "smape"):
            flat[f"{name}_{metric}"] = wide.get((metric, name), math.nan)
    for name in PEERS:
        flat[f"{name}_mase"] = wide.get(("mase", name), math.nan)
    flat["prophet_coverage"] = wide.get(("coverage", PROPHET), math.nan)
    ranked = scores.merge(flat.reset_index(), on=KEYS, how="left")
    for column in (*EVIDENCE_COLUMNS, *CHOICE_COLUMNS):
        if column not in ranked:
            ranked[column] = None
    ranked["chosen_model"] = ranked["chosen_model"].fillna(PROPHET)
    ranked["chosen_mase"] = ranked["chosen_mase"].fillna(ranked["prophet_mase"])
    ranked["chosen_coverage"] = ranked["chosen_coverage"].fillna(ranked["prophet_coverage"])
    ranked["beats_seasonal_naive"] = ranked["prophet_mase"] < ranked["seasonal_naive_mase"]
    labels = [trust_label(row.chosen_mase, row.seasonal_naive_mase, row.chosen_coverage, model,
                          row.chosen_model) for row in ranked.itertuples()]
    ranked["trust"] = [label for label, _ in labels]
    ranked["trust_reason"] = [reason for _, reason in labels]
    order = ranked["trend_class"].map(CLASS_ORDER)
    strength = ranked.apply(_strength, axis=1) if len(ranked) else pd.Series(dtype=float)
    ranked = ranked.assign(_order=order, _strength=strength).sort_values(
        ["_order", "_strength", TERM_COL], ascending=[True, False, True], kind="stable")
    ranked["rank"] = ranked.groupby("trend_class").cumcount() + 1
    return ranked[list(RISING_COLUMNS)].reset_index(drop=True)


def trend_alerts(rising: pd.DataFrame, until: date, run_id: str | None) -> list[TrendAlert]:
    """The run's alerts: every breakout, and every band exit (the anomaly rule: 3 of the last 7
    actuals on one side of the band)."""
    from glamcast.platform.alerts import alert_id

    raised = datetime.now(UTC)
    alerts = []
    for row in rising.itertuples(index=False):
        found = []
        if row.trend_class == BREAKOUT:
            g2, g4 = (f"{value:+.0%}" if pd.notna(value) else "-" for value in (row.growth_2w, row.growth_4w))
            found.append(("breakout", "up", f"breakout: {g2} in 2 weeks, {g4} in 4 weeks"))
        if row.anomaly in ("spike", "drop"):
            direction = "up" if row.anomaly == "spike" else "down"
            side = "above" if direction == "up" else "below"
            found.append(("band_exit", direction,
                          f"{int(row.anomaly_outside)} of the last 7 days {side} the forecast band"))
        for kind, direction, detail in found:
            alerts.append(TrendAlert(
                alert_id=alert_id(kind, direction, row.term_type, row.term, until), ts=raised,
                kind=kind, direction=direction, term_type=row.term_type, term=row.term,
                origin=until, run_id=run_id, trend_class=row.trend_class, detail=detail))
    return alerts


def run_metrics(rising: pd.DataFrame, summary: pd.DataFrame, set_aside: pd.DataFrame) -> dict[str, float]:
    """Run-level metrics for MLflow and the console."""
    metrics: dict[str, float] = {
        "n_forecast": float(len(rising)),
        "n_set_aside": float((set_aside["status"] == SET_ASIDE).sum()) if len(set_aside) else 0.0,
        "n_failed": float((set_aside["status"] == FAILED).sum()) if len(set_aside) else 0.0,
    }
    metrics["n_terms"] = metrics["n_forecast"] + metrics["n_set_aside"] + metrics["n_failed"]
    comparable = rising.dropna(subset=["prophet_mase", "seasonal_naive_mase"])
    metrics["share_beating_seasonal_naive"] = (
        float(comparable["beats_seasonal_naive"].mean()) if len(comparable) else math.nan)
    for model in (*MODELS, *(name for name in PEERS if name in set(summary["model"]))):
        rows = summary[summary["model"] == model]
        metrics[f"mean_mase_{model}"] = float(rows["mase"].mean()) if len(rows) else math.nan
        metrics[f"median_mase_{model}"] = float(rows["mase"].median()) if len(rows) else math.nan
        metrics[f"mean_smape_{model}"] = float(rows["smape"].mean()) if len(rows) else math.nan
    metrics["mean_coverage_prophet"] = float(rising["prophet_coverage"].mean()) if len(rising) else math.nan
    for trend_class in TREND_CLASSES:
        metrics[f"n_{trend_class}"] = float((rising["trend_class"] == trend_class).sum())
    metrics["n_trusted"] = float((rising["trust"] == TRUSTED).sum()) if len(rising) else 0.0
    metrics["mean_mase_chosen"] = float(rising["chosen_mase"].mean()) if len(rising) else math.nan
    for model in (PROPHET, *PEERS):
        metrics[f"n_chosen_{model}"] = float((rising["chosen_model"] == model).sum()) if len(rising) else 0.0
    metrics["n_anomalies"] = float(rising["anomaly"].notna().sum()) if len(rising) else 0.0
    return metrics


def _write_reports(result: ForecastResult, config: ForecastTrendsConfig) -> None:
    out = result.report_dir
    out.mkdir(parents=True, exist_ok=True)
    result.backtest.to_csv(out / "backtest.csv", index=False)
    result.backtest_summary.to_csv(out / "backtest_summary.csv", index=False)
    result.rising.to_csv(out / "rising.csv", index=False)
    records = json.loads(result.rising.to_json(orient="records"))
    (out / "rising.json").write_text(json.dumps(
        {"source": result.source, "since": str(result.since), "until": str(result.until),
         "run_id": result.run_id, "terms": records}, indent=2))
    result.set_aside.to_csv(out / "set_aside.csv", index=False)
    (out / "alerts.json").write_text(json.dumps(
        [{**alert.model_dump(mode="json"), "sent": alert in result.alerts_sent}
         for alert in result.alerts], indent=2))
    (out / "config.json").write_text(json.dumps(config.as_params(), indent=2, default=str))
    looks = result.trend_looks
    if looks is not None:
        (out / "trend_looks.json").write_text(json.dumps(
            {"model_version": looks.model_version, "skipped": looks.skipped, "path": looks.path,
             "terms": json.loads(looks.terms.to_json(orient="records")),
             "n_looks": looks.n_looks, "conditions_without_looks": looks.missing,
             "looks": json.loads(looks.looks.to_json(orient="records"))}, indent=2))


# --- the job -----------------------------------------------------------------------------------


def forecast_trends(
    spark: SparkSession,
    settings: Settings,
    config: ForecastTrendsConfig,
    on_progress: ProgressCallback | None = None,
    log_to_mlflow: bool = True,
) -> ForecastResult:
    """Read the series, forecast and backtest every term on Spark, write and log the outputs.

    `on_progress(stage, done, total)` hears about each stage (total None: unknown length).
    With `log_to_mlflow`, the run is logged to `config.experiment` (default: the
    `forecast_experiment` setting) on the tracking server that
    `glamcast.platform.model_registry` resolves; the run is marked FAILED if the job raises.
    """
    report = on_progress or (lambda stage, done, total: None)
    started = time.perf_counter()
    report("reading series", None, None)
    observed, since, until = load_series(spark, settings, config)
    observed = observed.cache()
    stats = screen_terms(observed, until, config.model)
    if log_to_mlflow:
        import mlflow

        # the experiment from the settings, as the run's params and the result record it
        config = replace(config, experiment=config.experiment or settings.forecast_experiment)
        use_experiment(settings, config.experiment)
        tracking: Any = mlflow.start_run(run_name=f"{source_name(config)} {until}")
    else:
        tracking = contextlib.nullcontext()
    with tracking as run:
        result = _forecast_window(spark, settings, config, observed, stats, since, until,
                                  run.info.run_id if run else None, report, started)
        if run is not None:
            _log_run(result, config)
    report("done", 1, 1)
    return result


def _forecast_window(spark: SparkSession, settings: Settings, config: ForecastTrendsConfig,
                     observed: DataFrame, stats: pd.DataFrame, since: date, until: date,
                     run_id: str | None, report: ProgressCallback,
                     started: float) -> ForecastResult:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    model, source = config.model, source_name(config)
    eligible = stats[stats["reason"].isna()][KEYS]
    screened_out = stats[stats["reason"].notna()].assign(status=SET_ASIDE)[
        [*KEYS, "status", "reason", "n_periods"]]
    first_year = min([day.year for day in stats["first_ds"]] or [since.year])
    calendar = model.holiday_calendar(first_year, until.year + 1 + model.horizon // 365)
    stage = f"fitting {len(eligible)} term{'s' if len(eligible) != 1 else ''} (Spark tasks)"
    fitted, summaries, n_fit_rows = None, [], 0
    if len(eligible):
        n_tasks = min(len(eligible), spark.sparkContext.defaultParallelism * config.tasks_per_core)
        keys = spark.createDataFrame(eligible, schema="term_type string, term string")
        series = observed.join(F.broadcast(keys), on=KEYS).select(*KEYS, "ds", "y")
        series = series.repartition(n_tasks, *KEYS)
        fitted = series.groupBy(*KEYS).applyInPandas(
            fit_terms_udf(model, until, calendar, config.verbose_stan), _FIT_SCHEMA,
        ).persist(StorageLevel.MEMORY_AND_DISK)
        group = f"forecast_trends-{run_id or time.time_ns()}"
        spark.sparkContext.setJobGroup(group, stage)
        poller = _StageProgress(spark, group, n_tasks, report, stage)
        report(stage, 0, n_tasks)
        poller.start()
        try:
            n_fit_rows = fitted.count()  # runs every fit once; later reads hit the cache
        finally:
            poller.stopped.set()
            poller.join()
        report(stage, n_tasks, n_tasks)
        summaries = fitted.where(F.col("record") == _SUMMARY_RECORD).select(*KEYS, "payload").collect()
    fit_seconds = time.perf_counter() - started

    scores, backtest, failed = _summaries_to_tables(summaries)
    set_aside = pd.concat([frame for frame in (screened_out, failed) if len(frame)] or [screened_out],
                          ignore_index=True).sort_values(KEYS, kind="stable").reset_index(drop=True)
    summary = summarize_backtests(backtest)
    rising = rank_terms(scores, summary, model)

    forecasts_path = None
    if fitted is not None and config.write_lake:
        report("writing forecasts", None, None)
        forecasts_path = write_forecasts(fitted, settings, source, until, run_id)
    report_dir = config.report_dir or (
        settings.state_path / "reports" / "forecast_trends" / f"{until}-{source.replace(':', '-')}")
    metrics = run_metrics(rising, summary, set_aside)
    metrics.update(
        n_input_rows=float(stats["n_rows"].sum()), n_series_rows=float(stats["n_observed"].sum()),
        n_forecast_rows=float(n_fit_rows - len(summaries)),
        n_filled_periods=float(rising["n_filled"].sum()) if len(rising) else 0.0,
        fit_seconds=fit_seconds,
    )
    result = ForecastResult(config, source, since, until, run_id, rising, backtest, summary, set_aside,
                            metrics, forecasts_path, report_dir)
    result.alerts = trend_alerts(rising, until, run_id)
    if config.publish_alerts and result.alerts:
        from glamcast.platform.alerts import publish_alerts

        report("publishing alerts", None, None)
        result.alerts_sent = publish_alerts(settings, result.alerts, config.alerts_topic)
    metrics.update(n_alerts=float(len(result.alerts)), n_alerts_sent=float(len(result.alerts_sent)))
    if config.trend_looks and config.input_csv is None:
        report("generating trend looks", None, None)
        result.trend_looks = _trend_looks(settings, rising, until, run_id, config.write_lake)
        metrics.update(n_trend_looks=float(result.trend_looks.n_looks),
                       n_trend_look_terms=float(result.trend_looks.looks["term"].nunique()
                                                if result.trend_looks.n_looks else 0))
    _write_reports(result, config)
    if fitted is not None and config.top_plots > 0 and len(rising):
        report("plotting", None, None)
        result.plots = _plot_top_terms(fitted, result, config, calendar)
    if fitted is not None:
        fitted.unpersist()
    observed.unpersist()
    result.metrics["total_seconds"] = time.perf_counter() - started
    return result


def _trend_looks(settings: Settings, rising: pd.DataFrame, until: date, run_id: str | None,
                 write: bool) -> Any:
    """The run's trend looks (`glamcast.platform.trend_looks.publish_trend_looks`). A failure
    there (registry down, a broken champion) is reported in the outcome, not raised: the
    forecasts are the run's product, the looks an extra."""
    from glamcast.platform.trend_looks import TrendLooksOutcome, publish_trend_looks
    from models.trend_looks import TREND_LOOK_COLUMNS, look_terms

    try:
        return publish_trend_looks(settings, rising, until, run_id, write=write)
    except Exception as exc:  # noqa: BLE001 — see the docstring
        return TrendLooksOutcome(pd.DataFrame(columns=list(TREND_LOOK_COLUMNS)),
                                 look_terms(None), None,
                                 skipped=f"failed: {type(exc).__name__}: {exc}"[:300])


def write_forecasts(fitted: DataFrame, settings: Settings, source: str, until: date,
                    run_id: str | None) -> str:
    """Write the forecast rows to ``forecasts/date=<until>/source=<source>`` (replacing it)."""
    from pyspark.sql import functions as F

    path = (f"{settings.lake_root.rstrip('/')}/{FORECASTS}/{DATE_COL}={until.isoformat()}"
            f"/source={source.replace(':', '-')}")
    rows = fitted.where(F.col("record") == _FORECAST_RECORD).select(
        *KEYS, "ds", "y", "yhat", "yhat_lower", "yhat_upper", *COMPONENTS, "holiday", "is_forecast",
        F.lit(until).cast("date").alias("origin"), F.lit(run_id).cast("string").alias("run_id"),
        F.current_timestamp().alias("generated_at"),
    )
    rows.write.mode("overwrite").parquet(path)
    return path


def _plot_top_terms(fitted: DataFrame, result: ForecastResult, config: ForecastTrendsConfig,
                    calendar: pd.DataFrame) -> list[Path]:
    from pyspark.sql import functions as F

    from models.trend_plots import plot_overview, plot_term

    rising = result.rising
    top = pd.concat([rising[rising["trend_class"] == moving].head(config.top_plots)
                     for moving in (BREAKOUT, RISING, SEASONAL_SPIKE, FADING)])
    if top.empty:  # nothing moves: show the strongest steady terms instead
        top = rising.head(config.top_plots)
    keys = fitted.sparkSession.createDataFrame(top[KEYS], schema="term_type string, term string")
    frames = fitted.where(F.col("record") == _FORECAST_RECORD).join(F.broadcast(keys), on=KEYS).toPandas()
    plots_dir = result.report_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for position, row in enumerate(top.itertuples(index=False), start=1):
        frame = frames[(frames[TERM_TYPE_COL] == row.term_type) & (frames[TERM_COL] == row.term)]
        name = re.sub(r"[^A-Za-z0-9_-]+", "_", f"{position:02d}-{row.trend_class}-{row.term_type}-{row.term}")
        paths.append(plot_term(frame, row._asdict(), calendar, plots_dir / f"{name}.png",
                               history_days=config.plot_history_days))
    paths.append(plot_overview(rising, plots_dir / "overview.png"))
    return paths


def _log_run(result: ForecastResult, config: ForecastTrendsConfig) -> None:
    import mlflow

    params = config.as_params()
    params.update(source=result.source, window_since=str(result.since), window_until=str(result.until),
                  forecasts_path=result.forecasts_path or "none")
    mlflow.log_params({key: str(value)[:500] for key, value in params.items()})
    mlflow.set_tags({"glamcast.job": "forecast_trends", "glamcast.source": result.source,
                     "glamcast.window": f"{result.since}..{result.until}"})
    mlflow.log_metrics({key: value for key, value in result.metrics.items() if not math.isnan(value)})
    mlflow.log_artifacts(str(result.report_dir))


# --- entry points ------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:+.0%}"


def print_report(result: ForecastResult, console: Any, tracking_uri: str | None = None,
                 top: int = 10) -> None:
    """The run on the console: counts, backtest table, rising and fading terms, set-aside terms."""
    from rich.table import Table

    m = result.metrics
    console.print(
        f"[bold]{result.source}[/] {result.since} .. {result.until}: {int(m['n_terms'])} terms, "
        f"{int(m['n_forecast'])} forecast, {int(m['n_set_aside'])} set aside, {int(m['n_failed'])} failed; "
        f"{int(m['n_input_rows'])} input rows, {int(m['n_forecast_rows'])} forecast rows, "
        f"{m['total_seconds']:.0f} s")
    per_series = len(result.rising) <= 20
    table = Table(title="Backtest (rolling origin, mean over cutoffs)" + ("" if per_series else ": all terms"))
    if per_series:
        for column in ("term", "model", "MASE", "sMAPE %", "band coverage", "cutoffs"):
            table.add_column(column, justify="left" if column in ("term", "model") else "right")
        for row in result.backtest_summary.itertuples(index=False):
            table.add_row(f"{row.term_type}: {row.term}", row.model, _fmt(row.mase), _fmt(row.smape, 1),
                          _fmt(row.coverage), str(row.n_cutoffs))
    else:
        for column in ("model", "mean MASE", "median MASE", "mean sMAPE %"):
            table.add_column(column, justify="left" if column == "model" else "right")
        for model in (*MODELS, *PEERS):
            if f"mean_mase_{model}" in m:
                table.add_row(model, _fmt(m[f"mean_mase_{model}"]), _fmt(m[f"median_mase_{model}"]),
                              _fmt(m[f"mean_smape_{model}"], 1))
        table.add_row("chosen per term", _fmt(m["mean_mase_chosen"]), "-", "-")
    console.print(table)
    chosen = ", ".join(f"{model} {int(m[f'n_chosen_{model}'])}" for model in (PROPHET, *PEERS)
                       if m.get(f"n_chosen_{model}"))
    console.print(f"Forecast by (lowest backtest MASE per term): {chosen or '-'}; "
                  f"trusted: {int(m['n_trusted'])} of {int(m['n_forecast'])}")
    console.print(f"Prophet beats seasonal naive (lower MASE) on "
                  f"[bold]{_fmt(100 * m['share_beating_seasonal_naive'], 0)}%[/] of terms; "
                  f"mean band coverage {_fmt(m['mean_coverage_prophet'])} "
                  f"(nominal {result.config.model.interval_width})")
    moving = result.rising[result.rising["trend_class"] != STEADY]
    if moving.empty:
        console.print(f"No moving terms: all {int(m['n_steady'])} forecast terms are steady.")
    ranked = Table(title=f"Terms by class (top {top} each; {int(m['n_steady'])} steady)")
    for column in ("class", "rank", "term", "growth 2w", "growth 4w", "holiday window",
                   "MASE (chosen)", "trust", "alert"):
        ranked.add_column(column, justify="left" if column in ("class", "term", "holiday window",
                                                                "trust", "alert") else "right")
    colours = {BREAKOUT: "bold green", RISING: "green", SEASONAL_SPIKE: "yellow", FADING: "red"}
    for trend_class in (BREAKOUT, RISING, SEASONAL_SPIKE, FADING):
        for row in result.rising[result.rising["trend_class"] == trend_class].head(top).itertuples(index=False):
            ranked.add_row(f"[{colours[trend_class]}]{trend_class}[/]", str(row.rank),
                           f"{row.term_type}: {row.term}", _pct(row.growth_2w), _pct(row.growth_4w),
                           row.holiday or "", f"{_fmt(row.chosen_mase)} {row.chosen_model}",
                           row.trust if row.trust == TRUSTED  # first reason; all in rising.csv
                           else "weak: " + row.trust_reason.split(";")[0].split(":")[0],
                           row.anomaly or "")
    if not moving.empty:
        console.print(ranked)
    alerts = result.rising[result.rising["anomaly"].notna()]
    if len(alerts):
        console.print(f"[yellow]anomaly alerts[/] ({len(alerts)}): " + ", ".join(
            f"{row.term_type}: {row.term} ({row.anomaly})" for row in alerts.head(top).itertuples()))
    if len(result.set_aside):
        console.print(f"[yellow]set aside[/] ({len(result.set_aside)}):")
        for row in result.set_aside.head(top).itertuples(index=False):
            console.print(f"  {row.term_type}: {row.term} — {row.status}: {row.reason}")
        if len(result.set_aside) > top:
            console.print(f"  ... and {len(result.set_aside) - top} more in set_aside.csv")
    looks = result.trend_looks
    if looks is not None:
        terms = ", ".join(looks.terms["term"]) if len(looks.terms) else "-"
        console.print(f"trend looks: {looks.n_looks} for {terms}"
                      + (f" ({looks.skipped})" if looks.skipped else
                         f" from look GAN v{looks.model_version}"))
    console.print(f"reports: {result.report_dir}")
    if result.forecasts_path:
        console.print(f"forecasts: {result.forecasts_path}")
    if result.run_id:
        where = f"{tracking_uri}/#/experiments" if tracking_uri else "MLflow"
        console.print(f"MLflow run {result.run_id} in experiment {result.config.experiment!r} "
                      f"({where})")


def config_from_options(values: dict[str, Any]) -> ForecastTrendsConfig:
    """The job config from command-line values (``{field path: value}``): the per-term model
    starts from its frequency's defaults (`config_for_freq`), so an option left out (horizon,
    season length) takes the daily or the monthly default."""
    model = {path.split(".", 1)[1]: value for path, value in values.items()
             if path.startswith("model.")}
    model = config_for_freq(model.pop("freq", "D"), **model)
    model.holiday_calendar(2024, 2024)  # unknown names fail here, before Spark starts
    job = {path: value for path, value in values.items() if not path.startswith("model.")}
    return ForecastTrendsConfig(model=model, **job)


def _holidays(value: str) -> tuple[str, ...]:
    return tuple(name for name in comma_list(value) if name != "none")


def _day(moment: datetime) -> date:
    return moment.date()


def run_command(settings: Settings, config: ForecastTrendsConfig) -> ForecastResult:
    """Forecast on a Spark session with a progress display, then print the report."""
    from glamcast.platform.model_registry import tracking_uri

    result = run_spark_job(
        settings, "forecast_trends",
        lambda spark, on_progress: forecast_trends(spark, settings, config, on_progress=on_progress),
        input_error=ForecastInputError,
    )
    print_report(result, console, tracking_uri=tracking_uri(settings))
    return result


_DAY = {"formats": ["%Y-%m-%d"]}

#: `glamcast forecast`: options of ForecastTrendsConfig and of the per-term TrendForecastConfig.
command = job_command(
    ForecastTrendsConfig,
    [
        Opt("model.horizon", default=None, typer={"min": 1},
            help="Periods ahead (default: 28 days; 12 with --freq MS)."),
        Opt("model.interval_width", typer={"min": 0.01, "max": 0.99}),
        Opt("since", kind=datetime, parse=_day, typer=_DAY,
            help="First day of history (default: two years before --until; a CSV's first day)."),
        Opt("until", kind=datetime, parse=_day, typer=_DAY,
            help="Last day of history (default: the last complete day in the data)."),
        Opt("input_csv", typer={"exists": True, "dir_okay": False},
            help="CSV export (date,term,value or ds,y) instead of the lake's trend_counts."),
        "model.freq",
        Opt("model.season_length", default=None, typer={"min": 1},
            help="Seasonal-naive lag and MASE scale (default: 7 daily, 12 monthly)."),
        "model.gap_fill",
        Opt("model.n_cutoffs", flag="cutoffs", typer={"min": 1}),
        Opt("model.holidays", default=None, kind=str, parse=_holidays,
            help="Comma-separated events of models.beauty_calendar, or 'none' (default: all)."),
        Opt("model.uncertainty_samples", typer={"min": 0}),
        Opt("value_column", flag="value"),
        Opt("term_types", flag="term_type", kind=list[str], default=None, parse=tuple,
            help="Only this term type (repeatable)."),
        Opt("top_plots", typer={"min": 0}),
        "write_lake", "publish_alerts",
        Opt("trend_looks", help="Have the look GAN champion make looks for the rising shade "
            "families and finishes, stored in the lake's trend_looks (lake input only)."),
        "verbose_stan",
    ],
    run_command,
    doc="Forecast every trend term (Prophet on Spark), backtest it, rank rising and fading terms.",
    make_config=config_from_options,
)


def main(argv: Sequence[str] | None = None) -> None:
    """``spark-submit jobs/forecast_trends.py [options]``: the options of ``glamcast forecast``."""
    run_command_line(command, argv, prog_name="forecast_trends.py")


if __name__ == "__main__":
    main()
