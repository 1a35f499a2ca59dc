"""`GET /v1/trends` and `GET /v1/trends/{term}`: the newest trend forecast run, for marketing;
`GET /v1/trend-looks`: the looks that run generated for its rising shade families and finishes.

Reads the lake dataset `forecasts` (the newest run, `glamcast.platform.forecasts.latest_forecasts`) and
that run's ranked list (`rising.json`: growth score, class, backtest MASE/sMAPE, anomaly alert),
from the run's report folder when this machine has it, else from its MLflow artifacts.

Both are cached in memory (`TrendStore`) and read again only when a newer run lands: at most
every `RECHECK_S` seconds the store lists the `forecasts` partitions, and a different newest
partition, or different files in it (a re-run of the same window replaces them), triggers a
reload. Until the forecast job has run once, the list answers 200 with no terms and a `note`,
and a term answers 404 saying so: "nothing forecast yet" is a state marketing should see, not a
server error.
"""

from __future__ import annotations

import json
import math
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from glamcast.core.names import DATE_COL, FORECASTS, TERM_COL, TERM_TYPE_COL, TREND_COUNTS
from glamcast.core.settings import Settings
from glamcast.platform import lake

RECHECK_S = 10.0  # how stale the cache may be before the lake is listed again
DEFAULT_HISTORY_DAYS = 90  # history returned with a term's forecast unless asked otherwise
NO_RUN_NOTE = "No forecast run yet: run `glamcast forecast` (the forecast_trends job) first."


class TrendClass(StrEnum):
    """What marketing means (models.trend_forecast.classify_trend; docs/forecasting.md)."""

    BREAKOUT = "breakout"  # ×4 or more within 2 or 4 weeks
    RISING = "rising"  # ×1.4 or more over 4 weeks, still growing
    SEASONAL_SPIKE = "seasonal_spike"  # the movement sits in a holiday window of the calendar
    STEADY = "steady"
    FADING = "fading"


# --- response models ----------------------------------------------------------------------------


class RunInfo(BaseModel):
    """Which forecast run answered."""

    run_id: str | None = Field(description="MLflow run id of the forecast_trends job.")
    source: str = Field(description="What was forecast: `trend_counts` (the lake) or `csv:<file>`.")
    since: date | None = Field(description="First day of the history window.")
    origin: date = Field(description="Last day of history; the forecast starts the day after.")
    horizon_days: int = Field(description="Days forecast ahead of the origin.")
    generated_at: datetime | None = Field(description="When the job wrote the forecasts.")


class BacktestQuality(BaseModel):
    """Rolling-origin backtest, mean over the cutoffs (see docs/forecasting.md)."""

    prophet_mase: float | None = Field(description="Prophet's MASE; below 1 beats last week's pattern.")
    seasonal_naive_mase: float | None
    naive_mase: float | None
    prophet_smape: float | None = Field(description="Prophet's sMAPE, percent (0–200).")
    seasonal_naive_smape: float | None
    naive_smape: float | None
    band_coverage: float | None = Field(description="Share of backtest actuals inside the band.")
    beats_seasonal_naive: bool
    chosen_model: str = Field(description="The model that forecasts this term: the lowest backtest "
                                          "MASE of prophet, auto_ets, auto_theta (auto_arima).")
    chosen_mase: float | None = Field(description="The chosen model's backtest MASE.")
    chosen_coverage: float | None = Field(description="Its band's backtest coverage.")
    runner_up_model: str | None = Field(description="The second-best model of the backtest.")
    runner_up_mase: float | None = Field(description="The runner-up's backtest MASE.")
    trust: Literal["trusted", "weak"] = Field(
        description="Judged on the chosen model: `trusted` only when its backtest MASE is below 1 "
                    "(the in-sample seasonal-naive scale), below seasonal naive's, and its 80 % "
                    "band covered 65–95 % of the backtest actuals; otherwise `weak`.")
    trust_reason: str = Field(description="Why: the failed checks (\"band too narrow: 2 % "
                                          "coverage\"), or the numbers that earned the trust.")


class TrendEvidence(BaseModel):
    """What the class rests on (seasonally adjusted growth; raw counts for the holiday window)."""

    growth_2w: float | None = Field(description="Last 7 days vs the 7 that ended 2 weeks earlier "
                                                "(0.5 = +50 %); null: history too short.")
    growth_4w: float | None = Field(description="Last 7 days vs the 7 that ended 4 weeks earlier.")
    growth_8w: float | None = Field(description="Last 7 days vs the 7 that ended 8 weeks earlier.")
    forecast_slope: float | None = Field(description="Change of the forecast's trend over the "
                                                     "horizon ÷ the recent level.")
    holiday: str | None = Field(description="The beauty-calendar window that explains the "
                                             "movement (seasonal spikes), e.g. black_friday+cyber_monday.")
    holiday_start: date | None
    holiday_end: date | None
    holiday_lift: float | None = Field(description="Mean in the window ÷ the 14 days before − 1.")


class Anomaly(BaseModel):
    """Among the last 7 actuals, at least 3 left the fitted band on one side."""

    kind: Literal["spike", "drop"]
    days_outside: int | None = Field(description="Of the last 7 days, how many left the band that way.")


class TrendSummary(BaseModel):
    term_type: str = Field(description="hashtag, brand, category, finish or shade_family.")
    term: str
    trend_class: TrendClass
    rank: int = Field(description="Rank within the class: 1 is the strongest riser (or fader).")
    growth_score: float = Field(ge=-1, le=1, description="0.4·level + 0.4·trend + 0.2·P(up).")
    level_change: float | None = Field(description="Recent 14 days vs the 56 before, seasonally adjusted.")
    trend_change: float | None = Field(description="Trend change over the horizon ÷ the recent level.")
    p_up: float | None = Field(description="P(next 14 days' mean > last 14 days').")
    recent_level: float | None
    baseline_level: float | None
    last_actual: float | None
    anomaly: Anomaly | None
    evidence: TrendEvidence
    quality: BacktestQuality
    n_periods: int | None = Field(description="Days of history fitted.")
    n_filled: int | None = Field(description="Days with no data, filled with zero.")


_SUMMARY_EXAMPLE: dict[str, Any] = {
    "term_type": "shade_family", "term": "coral", "trend_class": "rising", "rank": 1,
    "growth_score": 0.71, "level_change": 0.42, "trend_change": 0.31, "p_up": 0.93,
    "recent_level": 182.4, "baseline_level": 128.5, "last_actual": 201.0,
    "anomaly": {"kind": "spike", "days_outside": 4},
    "evidence": {"growth_2w": 0.21, "growth_4w": 0.64, "growth_8w": 1.1, "forecast_slope": 0.31,
                 "holiday": None, "holiday_start": None, "holiday_end": None, "holiday_lift": None},
    "quality": {"prophet_mase": 0.82, "seasonal_naive_mase": 1.07, "naive_mase": 1.4,
                "prophet_smape": 11.9, "seasonal_naive_smape": 15.2, "naive_smape": 19.8,
                "band_coverage": 0.79, "beats_seasonal_naive": True, "chosen_model": "prophet",
                "chosen_mase": 0.82, "chosen_coverage": 0.79, "runner_up_model": "auto_ets",
                "runner_up_mase": 0.9, "trust": "trusted",
                "trust_reason": "prophet MASE 0.82 < 1, beats seasonal naive (1.07), 79 % band "
                                "coverage"},
    "n_periods": 486, "n_filled": 0,
}
_RUN_EXAMPLE: dict[str, Any] = {
    "run_id": "6f0c3b2e8d1a4f0b9c7e5d3a1b2c4d6e", "source": "trend_counts", "since": "2024-11-01",
    "origin": "2026-11-22", "horizon_days": 28, "generated_at": "2026-11-23T06:00:12Z",
}


class TrendList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "run": _RUN_EXAMPLE, "status": "rising", "count": 1, "total": 37,
        "terms": [_SUMMARY_EXAMPLE], "note": None}]})

    run: RunInfo | None = Field(description="The run answered from; null before the first run.")
    status: TrendClass | None = Field(description="The class asked for; null: all classes.")
    count: int = Field(description="Terms in this answer.")
    total: int = Field(description="Terms of the asked class (and type) in the run, before `limit`.")
    terms: list[TrendSummary] = Field(description="Ranked: rising strongest first, then steady, "
                                                  "then fading, the most fading first.")
    note: str | None = Field(description="Why the list is empty, when it is.")


class ForecastPoint(BaseModel):
    ds: date
    y: float | None = Field(description="Actual value; null ahead of the origin.")
    yhat: float
    yhat_lower: float
    yhat_upper: float
    trend: float | None
    weekly: float | None
    yearly: float | None
    holidays: float | None = Field(description="The holiday effect of the day (sum over events).")
    holiday: str | None = Field(description="Holiday window(s) the day is in.")
    is_forecast: bool
    outside_band: bool = Field(description="The actual lies outside [yhat_lower, yhat_upper].")


class HolidayWindow(BaseModel):
    name: str
    start: date
    end: date


class TrendDetail(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "run": _RUN_EXAMPLE, "summary": _SUMMARY_EXAMPLE,
        "forecast": [{"ds": "2026-11-23", "y": None, "yhat": 190.2, "yhat_lower": 160.4,
                      "yhat_upper": 221.7, "trend": 170.3, "weekly": 12.1, "yearly": 7.8,
                      "holidays": 0.0, "holiday": None, "is_forecast": True,
                      "outside_band": False}],
        "holidays": [{"name": "christmas", "start": "2026-12-18", "end": "2026-12-25"}]}]})

    run: RunInfo
    summary: TrendSummary
    forecast: list[ForecastPoint] = Field(description="The last `history_days` of history, then the horizon.")
    holidays: list[HolidayWindow] = Field(description="Holiday windows within the returned days.")


# --- the cached store ---------------------------------------------------------------------------


class RunUnreadable(RuntimeError):
    """A forecast run exists but its ranked list cannot be read (MLflow down, artifact missing)."""


@dataclass(frozen=True)
class TrendSnapshot:
    """One forecast run in memory."""

    run: RunInfo
    forecasts: pd.DataFrame  # FORECAST_DATASET_COLUMNS, sorted by term_type, term, ds
    ranked: pd.DataFrame  # glamcast.platform.forecasts.RISING_COLUMNS, in rank order

    def terms(self, term: str, term_type: str | None = None) -> pd.DataFrame:
        rows = self.ranked[self.ranked[TERM_COL] == term]
        return rows if term_type is None else rows[rows[TERM_TYPE_COL] == term_type]

    def series(self, term_type: str, term: str) -> pd.DataFrame:
        frame = self.forecasts
        return frame[(frame[TERM_TYPE_COL] == term_type) & (frame[TERM_COL] == term)]


class TrendStore:
    """The newest forecast run of a source, read once and again only when a newer one lands."""

    def __init__(self, settings: Settings, source: str = TREND_COUNTS,
                 recheck_s: float = RECHECK_S) -> None:
        self.settings, self.source, self.recheck_s = settings, source, recheck_s
        self._lock = threading.Lock()
        self._signature: tuple | None = None
        self._snapshot: TrendSnapshot | None = None
        self._checked_at = -math.inf
        self.loads = 0  # how many times a run was read (tests and logs)

    def _run_signature(self) -> tuple | None:
        """(partition, its files) of the newest run; None when there is none."""
        import pyarrow.fs as pafs

        fs, base = lake.filesystem(self.settings.lake_root)
        root, prefix = f"{base}/{FORECASTS}", f"{DATE_COL}="
        folder = f"source={self.source.replace(':', '-')}"
        if fs.get_file_info(root).type == pafs.FileType.NotFound:
            return None
        for info in sorted((i for i in fs.get_file_info(pafs.FileSelector(root))
                            if i.type == pafs.FileType.Directory and i.base_name.startswith(prefix)),
                           key=lambda i: i.base_name, reverse=True):
            path = f"{root}/{info.base_name}/{folder}"
            if fs.get_file_info(path).type != pafs.FileType.Directory:
                continue
            files = tuple(sorted((f.base_name, f.mtime_ns) for f in fs.get_file_info(
                pafs.FileSelector(path)) if f.base_name.endswith(".parquet")))
            if files:
                return info.base_name, files
        return None

    def snapshot(self) -> TrendSnapshot | None:
        """The newest run (None before the first); raises RunUnreadable when its list is lost."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked_at < self.recheck_s:
                return self._snapshot
            signature = self._run_signature()
            if signature != self._signature:
                self._snapshot = None if signature is None else self._load()
                self._signature = signature
            self._checked_at = now
            return self._snapshot

    def _load(self) -> TrendSnapshot:
        from glamcast.platform.forecasts import latest_forecasts

        forecasts = latest_forecasts(self.settings, source=self.source)
        forecasts = forecasts.sort_values([TERM_TYPE_COL, TERM_COL, "ds"], kind="stable")
        run_id = forecasts["run_id"].dropna().iloc[0] if forecasts["run_id"].notna().any() else None
        origin = pd.Timestamp(forecasts["origin"].iloc[0]).date()
        listing = self._ranked_list(run_id, origin)
        ranked = pd.DataFrame(listing["terms"])
        generated = forecasts["generated_at"].max()
        horizon = int(forecasts.groupby([TERM_TYPE_COL, TERM_COL])["is_forecast"].sum().max())
        since = listing.get("since")
        run = RunInfo(run_id=run_id, source=self.source, origin=origin, horizon_days=horizon,
                      since=date.fromisoformat(since) if since else None,
                      generated_at=None if pd.isna(generated) else pd.Timestamp(generated).to_pydatetime())
        self.loads += 1
        return TrendSnapshot(run, forecasts.reset_index(drop=True), ranked)

    def _ranked_list(self, run_id: str | None, origin: date) -> dict[str, Any]:
        """The run's rising.json: the local report folder when it is that run's, else MLflow."""
        local = (self.settings.state_path / "reports" / "forecast_trends"
                 / f"{origin}-{self.source.replace(':', '-')}" / "rising.json")
        if local.is_file():
            listing = json.loads(local.read_text())
            if listing.get("run_id") == run_id:
                return listing
        if run_id is None:
            raise RunUnreadable(f"the forecasts of {origin} name no MLflow run and {local} is "
                                "not theirs; run `glamcast forecast` again")
        try:
            import mlflow

            from glamcast.platform.model_registry import tracking_uri

            client = mlflow.MlflowClient(tracking_uri(self.settings))
            with tempfile.TemporaryDirectory() as folder:
                path = client.download_artifacts(run_id, "rising.json", folder)
                return json.loads(Path(path).read_text())
        except Exception as exc:  # MLflow down or the artifact gone: say which run and why
            raise RunUnreadable(f"the ranked list of forecast run {run_id} cannot be read from "
                                f"MLflow: {type(exc).__name__}: {exc}") from exc


def trend_store(request: Request) -> TrendStore:
    """The app's store, made on first use (one per app instance)."""
    state = request.app.state
    store = getattr(state, "trend_store", None)
    if store is None:
        store = state.trend_store = TrendStore(state.settings)
    return store


def current_snapshot(request: Request) -> TrendSnapshot | None:
    try:
        return trend_store(request).snapshot()
    except RunUnreadable as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "30"}) from exc


# --- row → model --------------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    """A JSON-safe float: NaN and infinities (an undefined MASE) become null."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else int(number)


def _day(value: Any) -> date | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) \
        else date.fromisoformat(str(value)[:10])


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def summary_of(row: dict[str, Any]) -> TrendSummary:
    anomaly = row.get("anomaly")
    beats = bool(row.get("beats_seasonal_naive"))
    trusted = row.get("trust") == "trusted"
    return TrendSummary(
        term_type=row[TERM_TYPE_COL], term=row[TERM_COL], trend_class=row["trend_class"],
        rank=int(row["rank"]), growth_score=float(row["growth_score"]),
        level_change=_num(row.get("level_change")), trend_change=_num(row.get("trend_change")),
        p_up=_num(row.get("p_up")), recent_level=_num(row.get("recent_level")),
        baseline_level=_num(row.get("baseline_level")), last_actual=_num(row.get("last_actual")),
        anomaly=Anomaly(kind=anomaly, days_outside=_int(row.get("anomaly_outside")))
        if anomaly in ("spike", "drop") else None,
        evidence=TrendEvidence(
            growth_2w=_num(row.get("growth_2w")), growth_4w=_num(row.get("growth_4w")),
            growth_8w=_num(row.get("growth_8w")), forecast_slope=_num(row.get("trend_change")),
            holiday=_text(row.get("holiday")), holiday_start=_day(row.get("holiday_start")),
            holiday_end=_day(row.get("holiday_end")), holiday_lift=_num(row.get("holiday_lift"))),
        quality=BacktestQuality(
            **{f"{model}_{metric}": _num(row.get(f"{model}_{metric}"))
               for model in ("prophet", "seasonal_naive", "naive") for metric in ("mase", "smape")},
            band_coverage=_num(row.get("prophet_coverage")), beats_seasonal_naive=beats,
            chosen_model=_text(row.get("chosen_model")) or "prophet",
            chosen_mase=_num(row.get("chosen_mase", row.get("prophet_mase"))),
            chosen_coverage=_num(row.get("chosen_coverage", row.get("prophet_coverage"))),
            runner_up_model=_text(row.get("runner_up_model")),
            runner_up_mase=_num(row.get("runner_up_mase")),
            trust="trusted" if trusted else "weak",
            trust_reason=_text(row.get("trust_reason")) or "no trust label in this run"),
        n_periods=_int(row.get("n_periods")), n_filled=_int(row.get("n_filled")),
    )


def points_of(series: pd.DataFrame) -> list[ForecastPoint]:
    points = []
    for row in series.to_dict("records"):
        y, lower, upper = _num(row["y"]), float(row["yhat_lower"]), float(row["yhat_upper"])
        points.append(ForecastPoint(
            ds=pd.Timestamp(row["ds"]).date(), y=y, yhat=float(row["yhat"]), yhat_lower=lower,
            yhat_upper=upper, trend=_num(row["trend"]), weekly=_num(row["weekly"]),
            yearly=_num(row["yearly"]), holidays=_num(row["holidays"]),
            holiday=None if pd.isna(row["holiday"]) else str(row["holiday"]),
            is_forecast=bool(row["is_forecast"]),
            outside_band=y is not None and not lower <= y <= upper,
        ))
    return points


def holiday_windows(points: list[ForecastPoint]) -> list[HolidayWindow]:
    """Consecutive days of one holiday name → one window (a day in two windows counts in both)."""
    windows: list[HolidayWindow] = []
    open_: dict[str, HolidayWindow] = {}
    for point in points:
        names = {name for name in (point.holiday or "").split("+") if name}  # "a+b": overlapping
        for name in list(open_):
            if name not in names:
                windows.append(open_.pop(name))
        for name in sorted(names):
            if name in open_:
                open_[name].end = point.ds
            else:
                open_[name] = HolidayWindow(name=name, start=point.ds, end=point.ds)
    windows.extend(open_.values())
    return sorted(windows, key=lambda window: (window.start, window.name))


def term_detail(snapshot: TrendSnapshot, row: dict[str, Any], history_days: int,
                horizon_days: int | None = None) -> TrendDetail:
    series = snapshot.series(row[TERM_TYPE_COL], row[TERM_COL])
    origin = pd.Timestamp(snapshot.run.origin)
    days = pd.to_datetime(series["ds"])
    keep = days >= origin - pd.Timedelta(days=history_days - 1)
    if horizon_days is not None:
        keep &= days <= origin + pd.Timedelta(days=horizon_days)
    series = series[keep]
    points = points_of(series)
    return TrendDetail(run=snapshot.run, summary=summary_of(row), forecast=points,
                       holidays=holiday_windows(points))


# --- routes -------------------------------------------------------------------------------------

router = APIRouter(tags=["trends"])


@router.get(
    "/v1/trends",
    response_model=TrendList,
    summary="Rising, steady and fading trend terms of the newest forecast run",
    responses={503: {"description": "A run exists but its ranked list cannot be read (MLflow)."}},
)
def list_trends(
    request: Request,
    status: Annotated[TrendClass | None, Query(description="Only this class; all when absent.")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many terms.")] = 20,
    term_type: Annotated[str | None, Query(max_length=64, description="Only this term type, e.g. "
                                                                       "hashtag or shade_family.")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Only terms containing this text "
                                                               "(case-insensitive).")] = None,
) -> TrendList:
    snapshot = current_snapshot(request)
    if snapshot is None:
        return TrendList(run=None, status=status, count=0, total=0, terms=[], note=NO_RUN_NOTE)
    ranked = filter_ranked(snapshot.ranked, status, term_type, q)
    terms = [summary_of(row) for row in ranked.head(limit).to_dict("records")]
    note = None
    if not terms:
        what = f"{status.value} terms" if status else "terms"
        of_type = f" of type {term_type}" if term_type else ""
        matching = f" matching {q!r}" if q else ""
        note = f"No {what}{matching} in the run of {snapshot.run.origin}{of_type}."
    return TrendList(run=snapshot.run, status=status, count=len(terms), total=len(ranked),
                     terms=terms, note=note)


def filter_ranked(ranked: pd.DataFrame, status: TrendClass | None = None,
                  term_type: str | None = None, q: str | None = None) -> pd.DataFrame:
    """The ranked list narrowed by class, term type and a case-insensitive substring."""
    if status is not None:
        ranked = ranked[ranked["trend_class"] == status.value]
    if term_type is not None:
        ranked = ranked[ranked[TERM_TYPE_COL] == term_type]
    if q:
        ranked = ranked[ranked[TERM_COL].str.contains(q.strip(), case=False, regex=False)]
    return ranked


#: Columns of the table download, in order (the ranked list's, flattened).
TABLE_CSV_COLUMNS = (
    "trend_class", "rank", TERM_TYPE_COL, TERM_COL, "growth_2w", "growth_4w", "growth_8w",
    "trend_change", "holiday", "holiday_start", "holiday_end", "holiday_lift", "growth_score",
    "last_actual", "anomaly", "trust", "trust_reason", "chosen_model", "chosen_mase",
    "chosen_coverage", "runner_up_model", "runner_up_mase", "prophet_mase", "seasonal_naive_mase",
    "prophet_coverage",
)


def _csv(frame: pd.DataFrame, filename: str) -> Response:
    return Response(frame.to_csv(index=False), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get(
    "/v1/trends.csv",
    summary="The ranked list as CSV (same filters as /v1/trends, no limit)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per term."}},
)
def list_trends_csv(
    request: Request,
    status: Annotated[TrendClass | None, Query(description="Only this class.")] = None,
    term_type: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    snapshot = current_snapshot(request)
    if snapshot is None:
        raise HTTPException(404, NO_RUN_NOTE)
    ranked = filter_ranked(snapshot.ranked, status, term_type, q)
    columns = [column for column in TABLE_CSV_COLUMNS if column in ranked.columns]
    return _csv(ranked[columns], f"trends-{snapshot.run.origin}.csv")


@router.get(
    "/v1/trends/{term}",
    response_model=TrendDetail,
    summary="One term's forecast with its band, components, holidays, growth score and backtest",
    responses={
        404: {"description": "The term was not forecast in the newest run (or no run exists yet)."},
        409: {"description": "The term exists under several term types; pass `term_type`."},
        503: {"description": "A run exists but its ranked list cannot be read (MLflow)."},
    },
)
def get_trend(
    request: Request,
    term: str,
    term_type: Annotated[str | None, Query(max_length=64, description="Disambiguates a term "
                                                                       "that several types share.")] = None,
    history_days: Annotated[int, Query(ge=1, le=3660, description="Days of history before the "
                                                                   "forecast.")] = DEFAULT_HISTORY_DAYS,
    horizon_days: Annotated[int | None, Query(ge=1, le=3660, description="Days ahead to return "
                                                                         "(at most the run's horizon); "
                                                                         "all when absent.")] = None,
) -> TrendDetail:
    snapshot = current_snapshot(request)
    row = _term_row(snapshot, term, term_type)
    assert snapshot is not None
    return term_detail(snapshot, row, history_days, horizon_days)


def _term_row(snapshot: TrendSnapshot | None, term: str, term_type: str | None) -> dict[str, Any]:
    """The ranked-list row of one term; 404 when absent, 409 when several types share it."""
    if snapshot is None:
        raise HTTPException(404, f"term {term!r} has no forecast: {NO_RUN_NOTE}")
    rows = snapshot.terms(term, term_type)
    if rows.empty:
        kind = f" (type {term_type})" if term_type else ""
        raise HTTPException(404, f"term {term!r}{kind} was not forecast in the run of "
                                 f"{snapshot.run.origin}; GET /v1/trends lists the terms that were")
    if len(rows) > 1:
        types = ", ".join(sorted(rows[TERM_TYPE_COL]))
        raise HTTPException(409, f"term {term!r} is forecast under several types ({types}); "
                                 "pass ?term_type=")
    return rows.iloc[0].to_dict()


@router.get(
    "/v1/trends/{term}/forecast.csv",
    summary="One term's history and forecast with its band, as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per day."},
               404: {"description": "The term was not forecast in the newest run."},
               409: {"description": "The term exists under several term types; pass `term_type`."}},
)
def get_trend_csv(
    request: Request,
    term: str,
    term_type: Annotated[str | None, Query(max_length=64)] = None,
    history_days: Annotated[int, Query(ge=1, le=3660)] = DEFAULT_HISTORY_DAYS,
    horizon_days: Annotated[int | None, Query(ge=1, le=3660)] = None,
) -> Response:
    snapshot = current_snapshot(request)
    row = _term_row(snapshot, term, term_type)
    assert snapshot is not None
    detail = term_detail(snapshot, row, history_days, horizon_days)
    frame = pd.DataFrame([point.model_dump() for point in detail.forecast])
    frame.insert(0, TERM_COL, row[TERM_COL])
    frame.insert(0, TERM_TYPE_COL, row[TERM_TYPE_COL])
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(row[TERM_COL]))
    return _csv(frame, f"forecast-{row[TERM_TYPE_COL]}-{safe}-{snapshot.run.origin}.csv")


# --- GET /v1/trend-looks: the looks generated for the rising terms (issue 19's loop) ------------


class TrendLookProduct(BaseModel):
    """One region of a trend look: the catalogue product matched to the generated shade."""

    region: str = Field(description="lips, eyes, cheeks or brows.")
    category: str | None
    product_id: str
    brand: str | None
    name: str | None
    shade_hex: str = Field(description="The product's shade (#RRGGBB): what the SDK renders and "
                                       "the person would buy.")
    finish: str | None
    intensity: float | None = Field(description="How strongly the look applies it, 0–1.")
    price: float | None
    delta_e: float | None = Field(description="CIEDE2000 distance of the product's shade to the "
                                              "generated one.")


class TrendLook(BaseModel):
    """A look the look GAN champion generated for a rising term and one face."""

    look_id: str = Field(description="Unique and stable within a forecast run.")
    term: str = Field(description="The rising term it was generated for.")
    term_type: str = Field(description="shade_family or finish.")
    trend_class: Literal["rising", "breakout"]
    skin_tone: int = Field(description="The face condition: Monk skin tone 1–10.")
    undertone: str = Field(description="cool, neutral or warm.")
    audience_share: float = Field(description="Share of consented people with this skin tone and "
                                              "undertone among all consented people.")
    products: list[TrendLookProduct] = Field(description="One per region, in face order.")


class TrendLooks(BaseModel):
    """The newest forecast run's trend looks (docs/forecasting.md, "The loop")."""

    generated_at: datetime | None = Field(description="When the forecast run made them (null: "
                                                       "none yet).")
    model_version: int | None = Field(description="The look GAN champion version used.")
    looks: list[TrendLook]


class TrendLookStore:
    """The newest `trend_looks` file, read again only when a forecast run replaced it (checked
    at most every `recheck_s` seconds)."""

    def __init__(self, settings: Settings, recheck_s: float = RECHECK_S) -> None:
        self.settings, self.recheck_s = settings, recheck_s
        self._lock = threading.Lock()
        self._signature: tuple | None = None
        self._answer = TrendLooks(generated_at=None, model_version=None, looks=[])
        self._checked_at = -math.inf
        self.loads = 0

    def answer(self) -> TrendLooks:
        from glamcast.platform.trend_looks import latest_signature, latest_trend_looks

        with self._lock:
            now = time.monotonic()
            if now - self._checked_at >= self.recheck_s:
                signature = latest_signature(self.settings)
                if signature != self._signature:
                    self._answer = trend_looks_answer(
                        latest_trend_looks(self.settings) if signature is not None else None)
                    self._signature = signature
                    self.loads += 1
                self._checked_at = now
            return self._answer


def trend_looks_answer(frame: pd.DataFrame | None) -> TrendLooks:
    """The contract's answer from a trend-looks table (`models.trend_looks.TREND_LOOK_COLUMNS`):
    looks ordered breakouts first, then by term, then by audience share (largest first)."""
    if frame is None or frame.empty:
        return TrendLooks(generated_at=None, model_version=None, looks=[])
    from models.trend_looks import regions_in_face_order

    order = frame.assign(_class=(frame["trend_class"] != "breakout").astype(int)).sort_values(
        ["_class", "term", "audience_share", "skin_tone", "undertone", "look_rank"],
        ascending=[True, True, False, True, True, True], kind="stable")
    looks = []
    for look_id, rows in order.groupby("look_id", sort=False):
        first = rows.iloc[0]
        products = [TrendLookProduct(
            region=row["region"], category=_text(row["category"]),
            product_id=str(row["product_id"]), brand=_text(row["brand"]), name=_text(row["name"]),
            shade_hex=str(row["shade_hex"]), finish=_text(row["finish"]),
            intensity=_num(row["intensity"]), price=_num(row["price"]),
            delta_e=_num(row["delta_e"])).model_dump()
            for row in rows.to_dict("records")]
        looks.append(TrendLook(
            look_id=str(look_id), term=str(first["term"]), term_type=str(first["term_type"]),
            trend_class=first["trend_class"], skin_tone=int(first["skin_tone"]),
            undertone=str(first["undertone"]), audience_share=round(float(first["audience_share"]), 4),
            products=[TrendLookProduct(**entry) for entry in regions_in_face_order(products)]))
    stamp = frame["generated_at"].dropna()
    version = frame["model_version"].dropna()
    return TrendLooks(
        generated_at=pd.Timestamp(stamp.iloc[0]).to_pydatetime() if len(stamp) else None,
        model_version=int(version.iloc[0]) if len(version) else None, looks=looks)


def trend_look_store(request: Request) -> TrendLookStore:
    """The app's trend-look store, made on first use (one per app instance)."""
    state = request.app.state
    store = getattr(state, "trend_look_store", None)
    if store is None:
        store = state.trend_look_store = TrendLookStore(state.settings)
    return store


@router.get(
    "/v1/trend-looks",
    response_model=TrendLooks,
    summary="Looks the look GAN made for the rising shade families and finishes of the newest "
            "forecast run",
)
def list_trend_looks(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many looks.")] = 100,
) -> TrendLooks:
    answer = trend_look_store(request).answer()
    return answer.model_copy(update={"looks": answer.looks[:limit]})
