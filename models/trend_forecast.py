"""Forecast one trend term: Prophet fit, rolling-origin backtest, growth score, anomaly alert.

Pure pandas/Prophet code, no Spark: `jobs/forecast_trends.py` runs `forecast_term` once per term
inside ``groupBy(term).applyInPandas``; the benchmark runs it in a loop for comparison.

In:  the observed values of one series (``ds``, ``y``; missing periods allowed), the last period
     of the data window, a `TrendForecastConfig`, and the holiday calendar.
Out: a `TermForecast`: status ("ok", "set_aside" with a reason, or "failed" with the error),
     the forecast frame (history and horizon, `FORECAST_COLUMNS`), the backtest table
     (`BACKTEST_COLUMNS`: one row per cutoff and model) and the growth score (`GrowthScore`).

Classes (documented in docs/forecasting.md, `classify_trend`), from the evidence of one term:

- growth over the last 2, 4 and 8 weeks: the mean of the last 7 periods against the 7 periods
  that ended k weeks earlier, seasonally adjusted (Prophet's weekly, yearly and holiday effects
  taken off), None when the history is too short;
- the forecast's slope: the change of Prophet's trend over the horizon ÷ the recent level;
- the holiday window: the spike window of a beauty-calendar event in the last 8 weeks, its lift
  over the 14 days before it and how far the term fell back after it (raw counts).

`seasonal_spike` (the window explains the growth: a lift of ×2 or more over the level before it,
and a fall back afterwards) → `breakout` (×4 or more within 2 or 4 weeks) → `rising` → `fading` →
`steady`. The growth score (0.4·level + 0.4·trend + 0.2·P(up), in [−1, 1]) is kept as a signal
and for ranking steady terms.

Trust (`trust_label`): `trusted` only when the backtest MASE is below 1 (the in-sample
seasonal-naive scale), below seasonal naive's MASE, and the band's coverage lies in
[0.65, 0.95]; otherwise `weak`, with the reasons.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.beauty_calendar import (
    DEFAULT_HOLIDAYS,
    SPIKE_WINDOW,
    beauty_holidays,
    holiday_names_by_day,
    spike_windows,
)

DS_COL = "ds"
Y_COL = "y"

#: Columns of a term's forecast frame (history rows carry `y`; horizon rows have y = NaN).
FORECAST_COLUMNS = (
    "ds", "y", "yhat", "yhat_lower", "yhat_upper",
    "trend", "weekly", "yearly", "holidays", "holiday", "is_forecast",
)
#: Additive components kept from Prophet's output (0 where the model has no such component).
COMPONENTS = ("trend", "weekly", "yearly", "holidays")
#: Columns of a term's backtest table: one row per cutoff and model.
BACKTEST_COLUMNS = ("cutoff", "model", "horizon", "mase", "smape", "coverage")

PROPHET = "prophet"
SEASONAL_NAIVE = "seasonal_naive"
NAIVE = "naive"
MODELS = (PROPHET, SEASONAL_NAIVE, NAIVE)
#: statsforecast peers that may forecast a term instead of Prophet (`TrendForecastConfig.peers`).
AUTO_ETS, AUTO_THETA, AUTO_ARIMA = "auto_ets", "auto_theta", "auto_arima"
PEERS = (AUTO_ETS, AUTO_THETA, AUTO_ARIMA)

RISING, STEADY, FADING = "rising", "steady", "fading"
BREAKOUT, SEASONAL_SPIKE = "breakout", "seasonal_spike"
#: Every class, in the order the ranked list shows them.
TREND_CLASSES = (BREAKOUT, RISING, SEASONAL_SPIKE, STEADY, FADING)
TRUSTED, WEAK = "trusted", "weak"
OK, SET_ASIDE, FAILED = "ok", "set_aside", "failed"

SUPPORTED_FREQS = ("D", "MS")
STAN_LOGGERS = ("cmdstanpy", "prophet", "prophet.models", "prophet.plot")


@dataclass(frozen=True)
class TrendForecastConfig:
    """Hyperparameters of the per-term forecast, backtest and scores (logged with every run)."""

    # --- series ---
    freq: str = "D"  # pandas frequency of the series: "D" daily, "MS" monthly (month starts)
    season_length: int = 7  # m: lag of seasonal naive and of the MASE scale (7 daily, 12 monthly)
    gap_fill: str = "zero"  # missing periods: "zero" (counts: nothing seen) or "interpolate" (levels)
    min_nonzero_share: float = 0.2  # set a term aside when fewer periods than this are non-zero
    min_train_periods: int = 84  # shortest training window of any fit (12 weeks of days)
    # --- Prophet ---
    horizon: int = 28  # periods forecast ahead (and evaluated per backtest cutoff)
    interval_width: float = 0.8  # coverage of yhat_lower..yhat_upper
    uncertainty_samples: int = 200  # posterior draws for the band and P(up); Prophet's default 1000
    backtest_uncertainty_samples: int = 50  # draws at each backtest cutoff: only for band coverage
    # Trend flexibility: Prophet's defaults (0.05, 0.8) keep the last fifth of the history on one
    # straight line and miss turns of the last weeks. On 100 simulated two-year terms these
    # values recover 95 planted classes (Prophet's defaults: 69) and lower backtest MASE (1.04
    # against 1.34); on the real retail series 0.48 against 0.62 (docs/forecasting.md).
    changepoint_prior_scale: float = 0.2
    changepoint_range: float = 0.95  # share of the history where the trend may change slope
    seasonality_prior_scale: float = 10.0
    holidays_prior_scale: float = 10.0
    seasonality_mode: str = "additive"  # or "multiplicative"
    weekly_min_days: int = 14  # weekly seasonality from two weeks of daily history
    yearly_min_days: int = 730  # yearly seasonality from two years of history (Prophet's rule)
    holidays: tuple[str, ...] = DEFAULT_HOLIDAYS  # events of models.beauty_calendar (daily only)
    holiday_windows: tuple[tuple[str, int, int], ...] = ()  # (name, lower, upper) overrides
    clip_at_zero: bool = True  # counts cannot be negative: clip yhat and its band at 0
    # --- peers: statsforecast models backtested beside Prophet; each term is forecast by the
    # model with the lowest backtest MASE. AutoARIMA is left out by default: on a 60-day series
    # its search costs about ten Prophet fits (docs/forecasting.md, "Peers") ---
    peers: tuple[str, ...] = (AUTO_ETS, AUTO_THETA)
    # --- backtest ---
    n_cutoffs: int = 3  # rolling origins; the last one leaves exactly `horizon` periods to test
    cutoff_spacing: int | None = None  # periods between cutoffs; None: the horizon
    # --- growth score and classes ---
    recent_periods: int = 14  # "recent level": mean of the last two weeks
    baseline_periods: int = 56  # "baseline": mean of the eight weeks before those
    level_scale: float = 0.25  # a 25% level change maps to tanh(1) = 0.76
    slope_scale: float = 0.15  # a trend change of 15% of the level over the horizon → 0.76
    compare_periods: int | None = None  # P(next k > last k) over k periods; None: 2 seasons
    # (at most the horizon)
    level_weight: float = 0.4  # weights of the three signals in the score (they sum to 1);
    trend_weight: float = 0.4  # either signal alone at tanh(1) = 0.76 gives 0.30: enough to
    p_up_weight: float = 0.2  # classify; P(up) alone (at most 0.2) cannot
    rising_threshold: float = 0.3  # growth score at or above: rising
    fading_threshold: float = -0.3  # growth score at or below: fading
    # --- classes (`classify_trend`); tuned on simulator seeds 101-103, never on the reported
    # seeds (bench/trend_detection.py) ---
    breakout_growth: float = 3.0  # growth over 2 or 4 weeks at or above (×4): breakout
    rising_growth_4w: float = 0.4  # growth over 4 weeks at or above (×1.4) ...
    rising_growth_8w: float = 0.5  # or over 8 weeks at or above (×1.5), same condition
    rising_min_growth_2w: float = -0.1  # ... while the last 2 weeks fell at most 10 %: rising
    fading_growth_4w: float = -0.4  # growth over 4 weeks at or below (×0.6) ...
    fading_growth_8w: float = -0.4  # or over 8 weeks at or below (×0.6), same condition
    fading_max_growth_2w: float = 0.0  # ... while the last 2 weeks did not rise: fading
    growth_noise_z: float = 2.0  # a growth must also exceed this many of its standard errors
    spike_window: tuple[int, int] = SPIKE_WINDOW  # days around an event that are its window
    spike_lookback: int = 56  # events whose window ends in the last 8 weeks are considered
    spike_min_lift: float = 1.0  # window mean ≥ (1 + this) × the 14 days before: a spike ...
    spike_max_after: float = 0.5  # ... unless the days after stay above this share of the window
    # --- trust label ---
    trust_max_mase: float = 1.0  # trusted needs MASE below this (in-sample seasonal-naive scale)
    trust_coverage: tuple[float, float] = (0.65, 0.95)  # and the band's coverage inside this
    # --- anomaly alert ---
    anomaly_periods: int = 7  # the last actuals checked against the fitted band
    anomaly_min_outside: int = 3  # this many on one side of the band raise the alert

    def __post_init__(self) -> None:
        if self.freq not in SUPPORTED_FREQS:
            raise ValueError(f"freq must be one of {SUPPORTED_FREQS}, got {self.freq!r}")
        if self.gap_fill not in ("zero", "interpolate"):
            raise ValueError(f"gap_fill must be 'zero' or 'interpolate', got {self.gap_fill!r}")
        if not 0 < self.interval_width < 1:
            raise ValueError(f"interval_width must lie in (0, 1), got {self.interval_width}")
        if self.horizon < 1 or self.n_cutoffs < 1 or self.season_length < 1:
            raise ValueError("horizon, n_cutoffs and season_length must be positive")
        if not math.isclose(self.level_weight + self.trend_weight + self.p_up_weight, 1.0):
            raise ValueError("level_weight + trend_weight + p_up_weight must be 1")
        if self.compare > self.horizon:
            raise ValueError("compare_periods must not exceed the horizon")
        if self.fading_threshold >= self.rising_threshold:
            raise ValueError("fading_threshold must be below rising_threshold")
        unknown = set(self.peers) - set(PEERS)
        if unknown:
            raise ValueError(f"unknown peers {sorted(unknown)}; known: {', '.join(PEERS)}")

    @property
    def candidates(self) -> tuple[str, ...]:
        """The models a term's forecast may come from: Prophet and the peers."""
        return (PROPHET, *self.peers)

    @property
    def spacing(self) -> int:
        return self.cutoff_spacing or self.horizon

    @property
    def compare(self) -> int:
        return self.compare_periods or min(2 * self.season_length, self.horizon)

    @property
    def required_periods(self) -> int:
        """Shortest history that allows every backtest cutoff a full training window."""
        return self.min_train_periods + self.horizon + self.spacing * (self.n_cutoffs - 1)

    def holiday_calendar(self, first_year: int, last_year: int) -> pd.DataFrame:
        """The configured events for a year range (empty for non-daily series)."""
        if self.freq != "D" or not self.holidays:
            return beauty_holidays(first_year, last_year, names=())
        windows = {name: (lower, upper) for name, lower, upper in self.holiday_windows}
        return beauty_holidays(first_year, last_year, self.holidays, windows)

    def as_params(self) -> dict[str, Any]:
        """Flat, string-friendly parameters for MLflow."""
        params = asdict(self)
        params["holidays"] = ",".join(self.holidays) or "none"
        params["peers"] = ",".join(self.peers) or "none"
        params["holiday_windows"] = ";".join(f"{n}:{lo}:{hi}" for n, lo, hi in self.holiday_windows)
        return params


def config_for_freq(freq: str, **overrides: Any) -> TrendForecastConfig:
    """Per-term defaults for a frequency: daily as in TrendForecastConfig; monthly scaled to months."""
    if freq == "MS":
        monthly = {"freq": "MS", "season_length": 12, "horizon": 12, "min_train_periods": 36,
                   "recent_periods": 3, "baseline_periods": 12, "compare_periods": 3,
                   "anomaly_periods": 3, "anomaly_min_outside": 2, "holidays": ()}
        return TrendForecastConfig(**{**monthly, **overrides})
    return TrendForecastConfig(freq=freq, **overrides)


@dataclass
class GrowthScore:
    """The growth signals of one term and its class."""

    score: float  # weighted mean of the three signals, in [-1, 1]
    trend_class: str  # one of TREND_CLASSES
    recent_level: float  # seasonally adjusted mean of the last recent_periods
    baseline_level: float  # seasonally adjusted mean of the baseline_periods before them
    level_change: float  # (recent − baseline) / |baseline|
    trend_change: float  # (trend[T+h] − trend[T]) / |recent|
    p_up: float  # P(next compare periods' mean > last compare periods' mean)
    anomaly: str | None  # "spike", "drop" or None
    anomaly_outside: int  # of the last anomaly_periods actuals, how many left the band
    last_actual: float
    growth_2w: float | None = None  # last 7 periods vs the 7 that ended 2 weeks earlier (adjusted)
    growth_4w: float | None = None  # ... 4 weeks earlier
    growth_8w: float | None = None  # ... 8 weeks earlier (None: history too short)
    noise_2w: float | None = None  # standard error of growth_2w from the scatter around the fit
    noise_4w: float | None = None  # ... of growth_4w
    noise_8w: float | None = None  # ... of growth_8w
    holiday: str | None = None  # the event window that explains the growth (seasonal spike)
    holiday_start: str | None = None  # its first and last day (ISO dates)
    holiday_end: str | None = None
    holiday_lift: float | None = None  # window mean ÷ the 14 days before − 1 (raw)
    holiday_after: float | None = None  # mean after the window ÷ window mean (None: ongoing)


@dataclass(frozen=True)
class ModelChoice:
    """The model whose backtest ranks best for a term, and the runner-up."""

    model: str  # prophet or a peer
    mase: float  # its mean backtest MASE
    coverage: float  # its band coverage in the backtest
    runner_up: str | None  # the second best candidate (None with one candidate)
    runner_up_mase: float | None


@dataclass
class TermForecast:
    """Everything forecast_term learns about one term."""

    status: str  # ok, set_aside or failed
    reason: str | None = None
    n_periods: int = 0  # periods in the filled history
    n_filled: int = 0  # of them, filled by gap_fill
    forecast: pd.DataFrame | None = None  # FORECAST_COLUMNS
    backtest: pd.DataFrame | None = None  # BACKTEST_COLUMNS
    growth: GrowthScore | None = None
    choice: ModelChoice | None = None  # which model forecasts the horizon, and the runner-up
    fit_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


# --- console hygiene ---------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_stan(verbose: bool = False) -> Iterator[None]:
    """Keep cmdstan/Prophet chatter off the console while fitting, unless `verbose`.

    Lowers the `cmdstanpy` and `prophet` loggers to errors, ignores Prophet's warnings (pandas
    deprecations, seasonality notes) and swallows what the fit writes to Python's stdout; all
    restored afterwards.
    """
    if verbose:
        yield
        return
    from cmdstanpy.utils import get_logger

    get_logger()  # cmdstanpy sets its logger to DEBUG the first time; let that happen first
    loggers = [logging.getLogger(name) for name in STAN_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"prophet(\.|$)")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


# --- series preparation ------------------------------------------------------------------------


def naive_day(value: Any) -> pd.Timestamp:
    """A date or timestamp (UTC when aware) as a naive midnight timestamp."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.normalize()


def period_index(start: pd.Timestamp, end: pd.Timestamp, freq: str) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq=freq)


def periods_between(first: pd.Timestamp, end: pd.Timestamp, freq: str) -> int:
    """Periods from `first` to `end` inclusive."""
    if freq == "MS":
        return (end.year - first.year) * 12 + end.month - first.month + 1
    return (end.normalize() - first.normalize()).days + 1


def set_aside_reason(n_periods: int, n_nonzero: int, config: TrendForecastConfig) -> str | None:
    """Why a series cannot be forecast and backtested, or None when it can."""
    if n_periods < config.required_periods:
        return (
            f"too little history: {n_periods} periods < {config.required_periods} needed "
            f"({config.min_train_periods} training + {config.n_cutoffs} backtest cutoffs "
            f"{config.spacing} apart, horizon {config.horizon})"
        )
    share = n_nonzero / n_periods if n_periods else 0.0
    if share < config.min_nonzero_share:
        return (
            f"too sparse: non-zero on {n_nonzero} of {n_periods} periods ({share:.0%} < "
            f"{config.min_nonzero_share:.0%})"
        )
    return None


def fill_gaps(
    observed: pd.DataFrame, end: pd.Timestamp, config: TrendForecastConfig
) -> tuple[pd.DataFrame, int]:
    """One row per period from the first observation to `end`; returns (series, periods filled).

    Duplicate periods are summed. "zero" fills missing periods with 0; "interpolate" fills them
    linearly in time and carries the last value forward to `end`.
    """
    values = observed[[DS_COL, Y_COL]].dropna(subset=[DS_COL])
    stamps = pd.to_datetime(values[DS_COL], utc=True).dt.tz_localize(None).dt.normalize()
    values = values.assign(ds=stamps)
    values = values[values[DS_COL] <= end].groupby(DS_COL)[Y_COL].sum(min_count=1)
    if values.empty:
        return pd.DataFrame({DS_COL: pd.to_datetime([]), Y_COL: []}), 0
    index = period_index(values.index.min(), end, config.freq)
    series = values.reindex(index)
    missing = int(series.isna().sum())
    if config.gap_fill == "zero":
        series = series.fillna(0.0)
    else:
        series = series.interpolate(method="time").ffill().bfill()
    frame = pd.DataFrame({DS_COL: index, Y_COL: series.to_numpy(dtype=float)})
    return frame, missing


# --- baselines and metrics ---------------------------------------------------------------------


def naive_forecast(train: np.ndarray, horizon: int) -> np.ndarray:
    """The last value, repeated."""
    return np.full(horizon, float(train[-1]))


def seasonal_naive_forecast(train: np.ndarray, horizon: int, m: int) -> np.ndarray:
    """The last season, repeated: ŷ[T+k] = y[T+k−m·⌈k/m⌉]."""
    if len(train) < m:
        return naive_forecast(train, horizon)
    last_season = np.asarray(train[-m:], dtype=float)
    return np.resize(last_season, horizon)


def mase(actual: np.ndarray, predicted: np.ndarray, train: np.ndarray, m: int) -> float:
    """Mean absolute scaled error: MAE / in-sample MAE of seasonal naive with lag m.

    Below 1: better than seasonal naive was inside the training data. NaN when the training
    series is constant over every lag m (no scale).
    """
    train = np.asarray(train, dtype=float)
    if len(train) <= m:
        return math.nan
    scale = float(np.mean(np.abs(train[m:] - train[:-m])))
    if scale == 0:
        return math.nan
    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(predicted)))) / scale


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Symmetric MAPE in percent, 0..200: mean of 2|y−ŷ| / (|y|+|ŷ|); 0/0 counts as 0."""
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    denominator = np.abs(actual) + np.abs(predicted)
    ratio = np.divide(2 * np.abs(actual - predicted), denominator,
                      out=np.zeros_like(denominator), where=denominator > 0)
    return float(100 * ratio.mean())


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actuals inside [lower, upper]."""
    actual = np.asarray(actual, dtype=float)
    return float(np.mean((actual >= lower) & (actual <= upper)))


# --- Prophet -----------------------------------------------------------------------------------


def make_prophet(history_days: int, calendar: pd.DataFrame, config: TrendForecastConfig) -> Any:
    """A Prophet model with the seasonalities this much history supports."""
    from prophet import Prophet

    daily = config.freq == "D"
    return Prophet(
        growth="linear",
        yearly_seasonality=history_days >= config.yearly_min_days,
        weekly_seasonality=daily and history_days >= config.weekly_min_days,
        daily_seasonality=False,
        holidays=calendar if daily and not calendar.empty else None,
        seasonality_mode=config.seasonality_mode,
        changepoint_prior_scale=config.changepoint_prior_scale,
        changepoint_range=config.changepoint_range,
        seasonality_prior_scale=config.seasonality_prior_scale,
        holidays_prior_scale=config.holidays_prior_scale,
        interval_width=config.interval_width,
        uncertainty_samples=config.uncertainty_samples,
        mcmc_samples=0,  # MAP fit: seconds per thousand terms instead of minutes per term
    )


def calendar_between(calendar: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    """The events whose window touches first..last: Prophet builds features row by row, so
    events outside the fit and forecast range only cost time."""
    if calendar.empty:
        return calendar
    starts = calendar["ds"] + pd.to_timedelta(calendar["lower_window"], unit="D")
    ends = calendar["ds"] + pd.to_timedelta(calendar["upper_window"], unit="D")
    return calendar[(ends >= first) & (starts <= last)].reset_index(drop=True)


def fit_prophet(history: pd.DataFrame, calendar: pd.DataFrame, config: TrendForecastConfig,
                verbose: bool = False) -> Any:
    """Fit Prophet on `history` (ds, y), quietly, ready to predict `horizon` periods ahead."""
    first, last = history[DS_COL].iloc[0], history[DS_COL].iloc[-1]
    days = int((last - first).days) + 1
    until = _future(last, config.horizon, config.freq)[DS_COL].iloc[-1]
    model = make_prophet(days, calendar_between(calendar, first, until), config)
    with quiet_stan(verbose):
        model.fit(history[[DS_COL, Y_COL]])
    return model


def _clip(values: np.ndarray, config: TrendForecastConfig) -> np.ndarray:
    return np.maximum(values, 0.0) if config.clip_at_zero else values


def _future(last: pd.Timestamp, periods: int, freq: str) -> pd.DataFrame:
    return pd.DataFrame({DS_COL: pd.date_range(last, periods=periods + 1, freq=freq)[1:]})


def predict_with_band(model: Any, frame: pd.DataFrame, config: TrendForecastConfig,
                      draws: int) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Prophet's point forecast and components for `frame` (ds), with the band taken from
    `draws` posterior predictive draws of yhat; returns (predicted, draws (rows, draws) or None).

    One sampling pass where ``predict`` then ``predictive_samples`` would make two (the draws
    also give P(up)). The band always holds yhat: lower ≤ yhat ≤ upper. With no draws the band
    is yhat itself.
    """
    saved = model.uncertainty_samples
    try:
        model.uncertainty_samples = 0
        with quiet_stan():
            predicted = model.predict(frame)
        samples = None
        if draws > 0:
            model.uncertainty_samples = draws
            with quiet_stan():
                samples = np.asarray(model.predictive_samples(frame)["yhat"], dtype=float)
    finally:
        model.uncertainty_samples = saved
    yhat = predicted["yhat"].to_numpy(float)
    if samples is None:
        predicted["yhat_lower"] = predicted["yhat_upper"] = yhat
        return predicted, None
    tail = 100 * (1 - config.interval_width) / 2
    lower, upper = np.percentile(samples, [tail, 100 - tail], axis=1)  # draws hold no NaN
    predicted["yhat_lower"] = np.minimum(lower, yhat)
    predicted["yhat_upper"] = np.maximum(upper, yhat)
    return predicted, samples


def predict_frame(model: Any, history: pd.DataFrame, config: TrendForecastConfig,
                  calendar: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray | None]:
    """History and `horizon` future periods with yhat, band and components (FORECAST_COLUMNS),
    and the posterior draws of the future periods, (horizon, draws), or None without draws."""
    frame = pd.concat([history[[DS_COL]], _future(history[DS_COL].iloc[-1], config.horizon,
                                                  config.freq)], ignore_index=True)
    predicted, samples = predict_with_band(model, frame, config, config.uncertainty_samples)
    out = pd.DataFrame({DS_COL: predicted[DS_COL]})
    out[Y_COL] = np.concatenate([history[Y_COL].to_numpy(float), np.full(config.horizon, np.nan)])
    for column in ("yhat", "yhat_lower", "yhat_upper"):
        out[column] = _clip(predicted[column].to_numpy(float), config)
    for component in COMPONENTS:
        out[component] = predicted[component].to_numpy(float) if component in predicted else 0.0
    names = holiday_names_by_day(calendar)
    out["holiday"] = out[DS_COL].map(names).astype(object).where(out[DS_COL].isin(names.index), None)
    out["is_forecast"] = np.arange(len(out)) >= len(history)
    future_draws = None if samples is None else samples[len(history):]
    return out[list(FORECAST_COLUMNS)], future_draws


# --- peers (statsforecast) ----------------------------------------------------------------------


def peer_forecast(name: str, train: np.ndarray, horizon: int, config: TrendForecastConfig
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, lower, upper) of a statsforecast model fitted on `train`, the band at
    `interval_width`; raises when the model cannot be fitted."""
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

    m = config.season_length if len(train) >= 2 * config.season_length else 1
    model = {AUTO_ETS: AutoETS, AUTO_THETA: AutoTheta, AUTO_ARIMA: AutoARIMA}[name](season_length=m)
    level = round(100 * config.interval_width)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes of the model search
        out = model.forecast(y=np.asarray(train, dtype=float), h=horizon, level=[level])
    mean = np.asarray(out["mean"], dtype=float)
    lower = np.minimum(np.asarray(out[f"lo-{level}"], dtype=float), mean)
    upper = np.maximum(np.asarray(out[f"hi-{level}"], dtype=float), mean)
    if not np.isfinite(mean).all():
        raise ValueError(f"{name} forecast is not finite")
    return _clip(mean, config), _clip(lower, config), _clip(upper, config)


def choose_model(summary: pd.DataFrame, config: TrendForecastConfig) -> ModelChoice:
    """The candidate (Prophet or a peer) with the lowest mean backtest MASE; Prophet on ties
    and when no candidate has one. `summary`: `summarize_backtest`'s table."""
    rows = summary.reindex([name for name in config.candidates if name in summary.index])
    ranked = rows[np.isfinite(rows["mase"].astype(float))].sort_values("mase", kind="stable")
    if ranked.empty:
        coverage_ = float(rows.loc[PROPHET, "coverage"]) if PROPHET in rows.index else math.nan
        return ModelChoice(PROPHET, math.nan, coverage_, None, None)
    best = ranked.index[0]
    runner = ranked.index[1] if len(ranked) > 1 else None
    return ModelChoice(best, float(ranked.loc[best, "mase"]), float(ranked.loc[best, "coverage"]),
                       runner, float(ranked.loc[runner, "mase"]) if runner else None)


# --- backtest ----------------------------------------------------------------------------------


def cutoff_positions(n_periods: int, config: TrendForecastConfig) -> list[int]:
    """Index of the last training period of each cutoff, oldest first.

    The newest cutoff leaves exactly `horizon` periods; the others are `spacing` apart before it.
    """
    last = n_periods - 1 - config.horizon
    return [last - config.spacing * k for k in range(config.n_cutoffs - 1, -1, -1)]


def backtest(series: pd.DataFrame, calendar: pd.DataFrame, config: TrendForecastConfig,
             verbose: bool = False) -> pd.DataFrame:
    """Rolling-origin backtest of Prophet, seasonal naive and naive (BACKTEST_COLUMNS).

    Each cutoff fits Prophet once on the periods up to it and scores the next `horizon` periods.
    """
    y = series[Y_COL].to_numpy(float)
    rows = []
    for position in cutoff_positions(len(series), config):
        train, test = series.iloc[: position + 1], series.iloc[position + 1: position + 1 + config.horizon]
        actual = test[Y_COL].to_numpy(float)
        model = fit_prophet(train, calendar, config, verbose)
        draws = config.backtest_uncertainty_samples
        predicted, _ = predict_with_band(model, test[[DS_COL]], config, draws)
        yhat = _clip(predicted["yhat"].to_numpy(float), config)
        lower = _clip(predicted["yhat_lower"].to_numpy(float), config)
        upper = _clip(predicted["yhat_upper"].to_numpy(float), config)
        train_y = y[: position + 1]
        candidates = {
            PROPHET: (yhat, coverage(actual, lower, upper) if draws > 0 else math.nan),
            SEASONAL_NAIVE: (seasonal_naive_forecast(train_y, len(actual), config.season_length), math.nan),
            NAIVE: (naive_forecast(train_y, len(actual)), math.nan),
        }
        for peer in config.peers:
            try:
                mean, low, high = peer_forecast(peer, train_y, len(actual), config)
            except Exception:  # noqa: BLE001  a peer that cannot fit is not a candidate here
                candidates[peer] = (np.full(len(actual), np.nan), math.nan)
                continue
            candidates[peer] = (mean, coverage(actual, low, high))
        cutoff = series[DS_COL].iloc[position]
        for name, (forecast, covered) in candidates.items():
            if np.isnan(forecast).any():
                rows.append((cutoff, name, len(actual), math.nan, math.nan, math.nan))
                continue
            rows.append((cutoff, name, len(actual), mase(actual, forecast, train_y, config.season_length),
                         smape(actual, forecast), covered))
    return pd.DataFrame(rows, columns=list(BACKTEST_COLUMNS))


def summarize_backtest(table: pd.DataFrame) -> pd.DataFrame:
    """Mean MASE, sMAPE and coverage per model over the cutoffs (index: model; the baselines and
    Prophet first, then the peers in the table)."""
    order = list(MODELS) + [name for name in PEERS if name in set(table["model"])]
    return table.groupby("model")[["mase", "smape", "coverage"]].mean().reindex(order)


# --- growth score and anomaly ------------------------------------------------------------------


def classify(score: float, config: TrendForecastConfig) -> str:
    """rising / steady / fading by the growth score alone (a signal of `classify_trend`)."""
    if score >= config.rising_threshold:
        return RISING
    if score <= config.fading_threshold:
        return FADING
    return STEADY


def seasonal_effect(forecast: pd.DataFrame, config: TrendForecastConfig) -> np.ndarray:
    """What Prophet attributes to weekly and yearly seasonality and holidays, in the series' units."""
    parts = forecast[["weekly", "yearly", "holidays"]].to_numpy(float).sum(axis=1)
    if config.seasonality_mode == "multiplicative":  # components are shares of the trend there
        return forecast["trend"].to_numpy(float) * parts
    return parts


def probability_up(adjusted: np.ndarray, future_draws: np.ndarray | None, future_yhat: np.ndarray,
                   future_effect: np.ndarray, config: TrendForecastConfig) -> float:
    """P(mean of the next `compare` periods > mean of the last `compare`), seasonally adjusted.

    `adjusted`: the history minus its seasonal effect; `future_draws`: Prophet's posterior
    predictive draws of the next periods, (periods, draws), taken off the seasonal effect
    `future_effect` the same way. Without draws: 1 or 0 by the point forecast `future_yhat`.
    """
    k = config.compare
    last_mean = float(adjusted[-k:].mean())
    effect = future_effect[:k]
    if future_draws is None:
        return float((future_yhat[:k] - effect).mean() > last_mean)
    next_means = (future_draws[:k] - effect[:, None]).mean(axis=0)
    return float(np.mean(next_means > last_mean))


def anomaly_alert(forecast: pd.DataFrame, config: TrendForecastConfig) -> tuple[str | None, int]:
    """("spike"|"drop"|None, outside): the last actuals against the fitted band.

    An alert needs at least `anomaly_min_outside` of the last `anomaly_periods` actuals on the
    same side of the band; with an 80% band each side holds 10% of points by chance, so three of
    seven on one side happen about 3% of the time without a real change.
    """
    history = forecast[~forecast["is_forecast"]].tail(config.anomaly_periods)
    above = int((history[Y_COL] > history["yhat_upper"]).sum())
    below = int((history[Y_COL] < history["yhat_lower"]).sum())
    if above >= config.anomaly_min_outside and above >= below:
        return "spike", above + below
    if below >= config.anomaly_min_outside:
        return "drop", above + below
    return None, above + below


def growth_over_weeks(adjusted: np.ndarray, weeks: int, period: int = 7,
                      noise_sd: float = 0.0) -> tuple[float | None, float | None]:
    """(growth, noise): mean of the last `period` values ÷ mean of the `period` that ended
    `weeks` weeks earlier − 1, and the standard error of that growth when the days scatter
    around the fit with `noise_sd` (both None when the history is too short). Full weeks, so
    the weekly cycle cancels out."""
    lag = weeks * period
    if len(adjusted) < lag + period:
        return None, None
    now = float(np.mean(adjusted[-period:]))
    then = float(np.mean(adjusted[-(lag + period): len(adjusted) - lag]))
    scale = max(abs(then), 0.05 * float(np.mean(np.abs(adjusted))), 1e-9)
    return (now - then) / scale, noise_sd * math.sqrt(2 / period) / scale


@dataclass(frozen=True)
class HolidayEvidence:
    """The spike window that best explains a term's recent movement."""

    name: str
    start: pd.Timestamp
    end: pd.Timestamp
    lift: float  # window mean ÷ mean of the 14 days before it − 1
    after: float | None  # mean of the days after ÷ window mean; None while the window is open


def holiday_evidence(ds: pd.Series, y: np.ndarray, calendar: pd.DataFrame,
                     config: TrendForecastConfig) -> HolidayEvidence | None:
    """The event window (of the last `spike_lookback` periods) with the largest lift, or None.

    Raw counts, not adjusted: the question is whether the event explains the movement.
    """
    if calendar.empty or len(y) < 14:
        return None
    days = pd.to_datetime(ds).reset_index(drop=True)
    last, first = days.iloc[-1], days.iloc[-1] - pd.Timedelta(days=config.spike_lookback - 1)
    best: HolidayEvidence | None = None
    for name, start, end in spike_windows(calendar, config.spike_window):
        if end < first or start > last:
            continue
        inside = ((days >= start) & (days <= end)).to_numpy()
        before = ((days >= start - pd.Timedelta(days=14)) & (days < start)).to_numpy()
        after = (days > end).to_numpy()
        if inside.sum() < 3 or before.sum() < 7:
            continue
        level_in = float(y[inside].mean())
        level_before = max(float(y[before].mean()), 0.05 * float(np.mean(np.abs(y))), 1e-9)
        lift = level_in / level_before - 1
        after_share = (float(y[after].mean()) / max(level_in, 1e-9)) if after.sum() >= 3 else None
        if best is None or lift > best.lift:
            best = HolidayEvidence(name, start, end, lift, after_share)
    return best


def classify_trend(growth_2w: float | None, growth_4w: float | None, score: float,
                   holiday: HolidayEvidence | None, config: TrendForecastConfig,
                   noise_2w: float = 0.0, noise_4w: float = 0.0,
                   growth_8w: float | None = None, noise_8w: float = 0.0) -> str:
    """The class of a term from its evidence (rules in order; see the module docstring).

    A growth counts only beyond `growth_noise_z` standard errors (`noise_*`: what the day-to-day
    scatter around the fit alone would give), so a term at a few posts a day is not called
    rising on one lucky week. Without 4 weeks of history the growth score decides.
    """
    if (holiday is not None and holiday.lift >= config.spike_min_lift
            and (holiday.after is None or holiday.after <= config.spike_max_after)):
        return SEASONAL_SPIKE
    g2 = growth_2w if growth_2w is not None else 0.0
    if growth_4w is None:
        return classify(score, config)
    z = config.growth_noise_z
    if (g2 >= max(config.breakout_growth, z * noise_2w)
            or growth_4w >= max(config.breakout_growth, z * noise_4w)):
        return BREAKOUT
    slow = growth_8w is not None  # a slower move over 8 weeks, where the history has them
    if g2 >= config.rising_min_growth_2w and (
            growth_4w >= max(config.rising_growth_4w, z * noise_4w)
            or slow and growth_8w >= max(config.rising_growth_8w, z * noise_8w)):  # type: ignore[operator]
        return RISING
    if g2 <= config.fading_max_growth_2w and (
            growth_4w <= min(config.fading_growth_4w, -z * noise_4w)
            or slow and growth_8w <= min(config.fading_growth_8w, -z * noise_8w)):  # type: ignore[operator]
        return FADING
    return STEADY


def trust_label(mase_value: float | None, seasonal_naive_mase: float | None,
                band_coverage: float | None, config: TrendForecastConfig,
                model: str = PROPHET) -> tuple[str, str]:
    """("trusted" | "weak", reason): the backtest decides whether a forecast can be acted on.

    Trusted only when all three hold: MASE below `trust_max_mase` (1: better than seasonal naive
    was inside the training data), below seasonal naive's own backtest MASE, and the band's
    coverage inside `trust_coverage`. The reason names every failed check, e.g.
    "band too narrow: 2 % coverage".
    """
    def missing(value: float | None) -> bool:
        return value is None or not math.isfinite(value)

    reasons = []
    lo, hi = config.trust_coverage
    if missing(mase_value):
        reasons.append("no backtest error (constant series)")
    else:
        assert mase_value is not None
        if mase_value >= config.trust_max_mase:
            reasons.append(f"error too large: MASE {mase_value:.2f} ≥ {config.trust_max_mase:g}")
        if not missing(seasonal_naive_mase) and mase_value >= seasonal_naive_mase:  # type: ignore[operator]
            reasons.append(f"no better than seasonal naive: MASE {mase_value:.2f} vs "
                           f"{seasonal_naive_mase:.2f}")
    if missing(band_coverage):
        reasons.append("band not measured")
    elif band_coverage < lo:  # type: ignore[operator]
        reasons.append(f"band too narrow: {100 * band_coverage:.0f} % coverage")  # type: ignore[operator]
    elif band_coverage > hi:  # type: ignore[operator]
        reasons.append(f"band too wide: {100 * band_coverage:.0f} % coverage")  # type: ignore[operator]
    if reasons:
        return WEAK, "; ".join(reasons)
    return TRUSTED, (f"{model} MASE {mase_value:.2f} < 1, beats seasonal naive "
                     f"({seasonal_naive_mase:.2f}), {100 * band_coverage:.0f} % band coverage")  # type: ignore[operator]


def growth_score(series: pd.DataFrame, forecast: pd.DataFrame, future_draws: np.ndarray | None,
                 config: TrendForecastConfig, calendar: pd.DataFrame | None = None) -> GrowthScore:
    """The growth signals, score and class of a fitted term (see the module docstring).

    Levels are seasonally adjusted (Prophet's weekly, yearly and holiday effects removed), so a
    Christmas peak or a summer high does not read as a rising trend.
    """
    y = series[Y_COL].to_numpy(float)
    n = len(y)
    effect = seasonal_effect(forecast, config)
    adjusted = y - effect[:n]
    eps = max(1e-9, 0.05 * float(np.mean(np.abs(y))))
    recent = float(adjusted[-config.recent_periods:].mean())
    before = adjusted[-(config.recent_periods + config.baseline_periods): -config.recent_periods]
    baseline = float(before.mean()) if len(before) else recent
    level_change = (recent - baseline) / max(abs(baseline), eps)
    trend = forecast["trend"].to_numpy(float)
    trend_change = (trend[-1] - trend[n - 1]) / max(abs(recent), eps)
    future_yhat = forecast["yhat"].to_numpy(float)[n:]
    p_up = probability_up(adjusted, future_draws, future_yhat, effect[n:], config)
    score = (config.level_weight * math.tanh(level_change / config.level_scale)
             + config.trend_weight * math.tanh(trend_change / config.slope_scale)
             + config.p_up_weight * (2 * p_up - 1))
    anomaly, outside = anomaly_alert(forecast, config)
    growth: dict[str, float | None] = {}
    holiday = None
    if config.freq == "D":  # weeks of days; a monthly series is classified by its score
        noise_sd = float(np.std(y - forecast["yhat"].to_numpy(float)[:n]))
        for weeks in (2, 4, 8):
            change, noise = growth_over_weeks(adjusted, weeks, 7, noise_sd)
            growth[f"growth_{weeks}w"], growth[f"noise_{weeks}w"] = change, noise
        if calendar is not None:
            holiday = holiday_evidence(series[DS_COL], y, calendar, config)
    trend_class = classify_trend(growth.get("growth_2w"), growth.get("growth_4w"), score, holiday,
                                 config, growth.get("noise_2w") or 0.0, growth.get("noise_4w") or 0.0,
                                 growth.get("growth_8w"), growth.get("noise_8w") or 0.0)
    shown = holiday if trend_class == SEASONAL_SPIKE else None
    return GrowthScore(
        score=score, trend_class=trend_class, recent_level=recent,
        baseline_level=baseline, level_change=level_change, trend_change=trend_change, p_up=p_up,
        anomaly=anomaly, anomaly_outside=outside, last_actual=float(y[-1]), **growth,
        holiday=shown.name if shown else None,
        holiday_start=shown.start.date().isoformat() if shown else None,
        holiday_end=shown.end.date().isoformat() if shown else None,
        holiday_lift=shown.lift if shown else (holiday.lift if holiday else None),
        holiday_after=shown.after if shown else (holiday.after if holiday else None),
    )


# --- one term ----------------------------------------------------------------------------------


def forecast_term(
    observed: pd.DataFrame,
    end: pd.Timestamp,
    config: TrendForecastConfig,
    calendar: pd.DataFrame | None = None,
    verbose: bool = False,
) -> TermForecast:
    """Fill gaps, screen, backtest, fit, forecast and score one series.

    `observed`: columns ds, y (missing periods allowed); `end`: the last period of the window.
    `calendar`: Prophet holidays; None builds the configured one for the series' years.
    Never raises for a bad series: the result says "set_aside" or "failed" with the reason.
    """
    started = time.perf_counter()
    end = naive_day(end)
    series, n_filled = fill_gaps(observed, end, config)
    n_nonzero = int((series[Y_COL] != 0).sum()) if len(series) else 0
    reason = set_aside_reason(len(series), n_nonzero, config)
    if reason:
        return TermForecast(SET_ASIDE, reason, len(series), n_filled)
    if calendar is None:
        last_future = end + pd.Timedelta(days=31 * config.horizon if config.freq == "MS" else config.horizon)
        calendar = config.holiday_calendar(series[DS_COL].iloc[0].year, last_future.year)
    try:
        table = backtest(series, calendar, config, verbose)
        model = fit_prophet(series, calendar, config, verbose)
        forecast, future_draws = predict_frame(model, series, config, calendar)
        growth = growth_score(series, forecast, future_draws, config, calendar)
        choice = choose_model(summarize_backtest(table), config)
        if choice.model != PROPHET:  # the horizon from the peer; components stay Prophet's
            mean, lower, upper = peer_forecast(choice.model, series[Y_COL].to_numpy(float),
                                               config.horizon, config)
            ahead = forecast["is_forecast"].to_numpy()
            forecast.loc[ahead, "yhat"], forecast.loc[ahead, "yhat_lower"] = mean, lower
            forecast.loc[ahead, "yhat_upper"] = upper
    except Exception as exc:  # noqa: BLE001  one bad series must not stop the other terms
        return TermForecast(FAILED, f"{type(exc).__name__}: {exc}", len(series), n_filled)
    return TermForecast(OK, None, len(series), n_filled, forecast, table, growth, choice,
                        fit_seconds=time.perf_counter() - started)
