"""Per-term forecasting without Spark: calendar, metrics, baselines, screening, scores, Prophet."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from models.beauty_calendar import (
    BLACK_FRIDAY,
    CHINESE_NEW_YEAR,
    CYBER_MONDAY,
    HOLIDAY_COLUMNS,
    MOTHERS_DAY,
    SINGLES_DAY,
    SPIKE_WINDOW,
    VALENTINES_DAY,
    beauty_holidays,
    holiday_date,
    holiday_names_by_day,
    spike_windows,
)
from models.trend_forecast import (
    BREAKOUT,
    FADING,
    FORECAST_COLUMNS,
    OK,
    RISING,
    SEASONAL_SPIKE,
    SET_ASIDE,
    STEADY,
    TRUSTED,
    WEAK,
    HolidayEvidence,
    ModelChoice,
    TrendForecastConfig,
    anomaly_alert,
    choose_model,
    classify,
    classify_trend,
    coverage,
    cutoff_positions,
    fill_gaps,
    forecast_term,
    growth_over_weeks,
    holiday_evidence,
    mase,
    naive_forecast,
    seasonal_naive_forecast,
    set_aside_reason,
    smape,
    trust_label,
)

# Small and fast: fewer posterior draws than production, same code path.
FAST = TrendForecastConfig(uncertainty_samples=100)


# --- calendar ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "year", "expected"), [
    (MOTHERS_DAY, 2024, date(2024, 5, 12)),
    (MOTHERS_DAY, 2025, date(2025, 5, 11)),
    (BLACK_FRIDAY, 2024, date(2024, 11, 29)),
    (CYBER_MONDAY, 2024, date(2024, 12, 2)),
    (BLACK_FRIDAY, 2025, date(2025, 11, 28)),
    (CYBER_MONDAY, 2025, date(2025, 12, 1)),
    (CHINESE_NEW_YEAR, 2024, date(2024, 2, 10)),
    (CHINESE_NEW_YEAR, 2025, date(2025, 1, 29)),
    ("mid_year_618", 2025, date(2025, 6, 18)),
    ("singles_day", 2025, date(2025, 11, 11)),
    (VALENTINES_DAY, 2025, date(2025, 2, 14)),
    ("christmas", 2025, date(2025, 12, 25)),
])
def test_holiday_dates(name: str, year: int, expected: date) -> None:
    assert holiday_date(name, year) == expected


def test_calendar_frame_is_prophets_holidays_frame_with_configurable_names_and_windows() -> None:
    frame = beauty_holidays(2024, 2025, names=[VALENTINES_DAY, MOTHERS_DAY],
                            windows={VALENTINES_DAY: (-1, 0)})
    assert tuple(frame.columns) == HOLIDAY_COLUMNS
    assert frame["holiday"].tolist() == [VALENTINES_DAY, MOTHERS_DAY, VALENTINES_DAY, MOTHERS_DAY]
    assert frame["ds"].tolist() == [pd.Timestamp(d) for d in ("2024-02-14", "2024-05-12", "2025-02-14", "2025-05-11")]
    assert frame.loc[frame["holiday"] == VALENTINES_DAY, "lower_window"].unique().tolist() == [-1]
    assert frame.loc[frame["holiday"] == MOTHERS_DAY, "lower_window"].unique().tolist() == [-3]
    assert len(beauty_holidays(2024, 2026)) == 8 * 3


def test_calendar_rejects_unknown_names_and_windows_that_miss_the_day() -> None:
    with pytest.raises(ValueError, match="unknown holiday 'easter'"):
        beauty_holidays(2024, 2024, names=["easter"])
    with pytest.raises(ValueError, match="must include its day"):
        beauty_holidays(2024, 2024, names=[VALENTINES_DAY], windows={VALENTINES_DAY: (1, 2)})


def test_holiday_names_by_day_covers_windows_and_joins_overlaps() -> None:
    calendar = beauty_holidays(2024, 2024, names=[BLACK_FRIDAY, CYBER_MONDAY],
                               windows={BLACK_FRIDAY: (0, 3)})
    names = holiday_names_by_day(calendar)
    assert names[pd.Timestamp("2024-11-29")] == BLACK_FRIDAY
    assert names[pd.Timestamp("2024-12-02")] == f"{BLACK_FRIDAY}+{CYBER_MONDAY}"
    assert pd.Timestamp("2024-11-28") not in names.index


# --- metrics and baselines ---------------------------------------------------------------------


def test_smape_in_percent_with_zero_over_zero_as_zero() -> None:
    assert smape(np.array([100.0, 0.0]), np.array([50.0, 0.0])) == pytest.approx(100 * (2 * 50 / 150) / 2)
    assert smape(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert smape(np.array([0.0]), np.array([5.0])) == pytest.approx(200.0)


def test_mase_scales_by_in_sample_seasonal_naive_error() -> None:
    train = np.array([1.0, 2.0, 3.0, 2.0, 4.0, 5.0])  # lag-2 differences: 2, 0, 1, 3 → scale 1.5
    # errors 1 and 1.5 → MAE 1.25
    assert mase(np.array([5.0, 5.0]), np.array([4.0, 6.5]), train, m=2) == pytest.approx(1.25 / 1.5)
    assert math.isnan(mase(np.array([1.0]), np.array([1.0]), np.array([3.0, 3.0, 3.0]), m=1))
    assert math.isnan(mase(np.array([1.0]), np.array([1.0]), np.array([3.0]), m=7))


def test_baselines_repeat_the_last_value_and_the_last_season() -> None:
    train = np.array([9.0, 1.0, 2.0, 3.0])
    assert naive_forecast(train, 3).tolist() == [3.0, 3.0, 3.0]
    assert seasonal_naive_forecast(train, 5, m=3).tolist() == [1.0, 2.0, 3.0, 1.0, 2.0]
    assert seasonal_naive_forecast(np.array([4.0]), 2, m=7).tolist() == [4.0, 4.0]


def test_coverage_counts_actuals_inside_the_band() -> None:
    assert coverage(np.array([1.0, 5.0, 9.0]), np.array([0.0, 0.0, 0.0]), np.array([2.0, 5.0, 8.0])) == pytest.approx(2 / 3)


# --- series preparation ------------------------------------------------------------------------


def test_fill_gaps_zero_fills_counts_sums_duplicates_and_extends_to_the_window_end() -> None:
    observed = pd.DataFrame({
        "ds": pd.to_datetime(["2025-01-01", "2025-01-03", "2025-01-03", "2025-01-09"]),
        "y": [1.0, 2.0, 3.0, 99.0],
    })
    series, filled = fill_gaps(observed, pd.Timestamp("2025-01-05"), FAST)
    assert series["ds"].tolist() == list(pd.date_range("2025-01-01", "2025-01-05"))
    assert series["y"].tolist() == [1.0, 0.0, 5.0, 0.0, 0.0]
    assert filled == 3


def test_fill_gaps_interpolates_levels() -> None:
    observed = pd.DataFrame({"ds": pd.to_datetime(["2025-01-01", "2025-01-03"]), "y": [2.0, 4.0]})
    series, filled = fill_gaps(observed, pd.Timestamp("2025-01-04"), TrendForecastConfig(gap_fill="interpolate"))
    assert series["y"].tolist() == [2.0, 3.0, 4.0, 4.0]
    assert filled == 2


def test_fill_gaps_monthly_series_has_one_row_per_month_start() -> None:
    observed = pd.DataFrame({"ds": pd.to_datetime(["2024-01-01", "2024-03-01"]), "y": [1.0, 3.0]})
    series, filled = fill_gaps(observed, pd.Timestamp("2024-04-01"), TrendForecastConfig(freq="MS", season_length=12))
    assert series["ds"].tolist() == list(pd.date_range("2024-01-01", periods=4, freq="MS"))
    assert filled == 2


def test_set_aside_reasons_name_the_threshold() -> None:
    config = TrendForecastConfig()  # needs 84 + 28 + 2 × 28 = 168 periods
    assert config.required_periods == 168
    assert set_aside_reason(168, 168, config) is None
    assert set_aside_reason(40, 40, config).startswith("too little history: 40 periods < 168 needed")
    assert set_aside_reason(200, 20, config).startswith("too sparse: non-zero on 20 of 200 periods (10% < 20%)")


def test_cutoffs_roll_back_from_the_end_one_horizon_apart() -> None:
    config = TrendForecastConfig(horizon=7, n_cutoffs=3)
    assert cutoff_positions(100, config) == [78, 85, 92]  # the last leaves exactly 7 periods
    assert cutoff_positions(100, TrendForecastConfig(horizon=7, n_cutoffs=4, cutoff_spacing=3)) == [83, 86, 89, 92]


def test_classes_follow_the_documented_thresholds() -> None:
    config = TrendForecastConfig()
    assert [classify(s, config) for s in (0.3, 0.29, 0.0, -0.29, -0.3)] == [RISING, STEADY, STEADY, STEADY, FADING]


def test_growth_compares_the_last_week_with_the_week_k_weeks_earlier() -> None:
    weeks = np.repeat([10.0, 20.0, 30.0, 40.0, 50.0], 7)  # five flat weeks
    assert growth_over_weeks(weeks, 2) == (pytest.approx(50 / 30 - 1), 0.0)
    assert growth_over_weeks(weeks, 4) == (pytest.approx(50 / 10 - 1), 0.0)
    assert growth_over_weeks(weeks, 8) == (None, None)  # needs 63 days
    _, noise = growth_over_weeks(weeks, 4, noise_sd=7.0)
    assert noise == pytest.approx(7.0 * math.sqrt(2 / 7) / 10)  # standard error of the growth


def _spike(lift: float, after: float | None) -> HolidayEvidence:
    day = pd.Timestamp("2025-11-28")
    return HolidayEvidence("black_friday", day - pd.Timedelta(days=10), day, lift, after)


@pytest.mark.parametrize(("g2", "g4", "holiday", "expected"), [
    (0.1, 0.5, _spike(3.0, 0.2), SEASONAL_SPIKE),  # the window explains the movement
    (0.1, 0.5, _spike(3.0, None), SEASONAL_SPIKE),  # the window is still open
    (0.1, 0.5, _spike(3.0, 0.9), RISING),  # the level stayed up after the window: not the event
    (0.1, 0.5, _spike(0.5, 0.2), RISING),  # a lift under ×2 explains nothing
    (4.2, 0.5, None, BREAKOUT),  # ×5.2 in two weeks
    (-0.05, 3.0, None, BREAKOUT),  # ×4 in four weeks, then flat
    (0.0, 0.4, None, RISING),
    (-0.1, 0.9, None, RISING),  # a saturating rise: flat in the last two weeks
    (-0.15, 0.9, None, STEADY),  # grew, but the last two weeks fell: not rising any more
    (0.0, 0.39, None, STEADY),
    (0.0, -0.4, None, FADING),
    (0.0, -0.39, None, STEADY),
    (0.01, -0.6, None, STEADY),  # fell, but picks up again
])
def test_classes_follow_the_rules_in_order(g2: float, g4: float, holiday: HolidayEvidence | None,
                                           expected: str) -> None:
    assert classify_trend(g2, g4, 0.0, holiday, TrendForecastConfig()) == expected


def test_a_growth_within_the_noise_is_not_a_class() -> None:
    config = TrendForecastConfig()
    assert classify_trend(0.1, 0.6, 0.0, None, config, noise_2w=0.1, noise_4w=0.2) == RISING
    assert classify_trend(0.1, 0.6, 0.0, None, config, noise_2w=0.1, noise_4w=0.31) == STEADY
    assert classify_trend(0.1, None, 0.35, None, config) == RISING  # short history: the score


def test_spike_windows_merge_events_whose_windows_touch() -> None:
    calendar = beauty_holidays(2026, 2026, names=[SINGLES_DAY, BLACK_FRIDAY, CYBER_MONDAY])
    windows = spike_windows(calendar)
    assert SPIKE_WINDOW == (-10, 2)
    assert windows == [
        ("singles_day", pd.Timestamp("2026-11-01"), pd.Timestamp("2026-11-13")),
        ("black_friday+cyber_monday", pd.Timestamp("2026-11-17"), pd.Timestamp("2026-12-02")),
    ]


def test_holiday_evidence_measures_the_lift_and_the_fall_back() -> None:
    ds = pd.date_range("2026-10-01", "2026-12-10")
    y = np.full(len(ds), 10.0)
    window = (ds >= "2026-11-17") & (ds <= "2026-12-02")
    y[window] = 40.0
    calendar = beauty_holidays(2026, 2026, names=[BLACK_FRIDAY, CYBER_MONDAY])
    evidence = holiday_evidence(pd.Series(ds), y, calendar, TrendForecastConfig())
    assert evidence is not None and evidence.name == "black_friday+cyber_monday"
    assert evidence.lift == pytest.approx(3.0)  # 40 against 10 in the 14 days before
    assert evidence.after == pytest.approx(0.25)  # back to 10 after it
    y[ds > "2026-12-02"] = 40.0  # the level stays: the event does not explain it
    assert holiday_evidence(pd.Series(ds), y, calendar, TrendForecastConfig()).after == pytest.approx(1.0)


def test_trust_needs_all_three_checks_and_names_each_failure() -> None:
    config = TrendForecastConfig()
    label, reason = trust_label(0.8, 1.1, 0.78, config)
    assert label == TRUSTED and reason == ("prophet MASE 0.80 < 1, beats seasonal naive (1.10), "
                                           "78 % band coverage")
    # the demo's blackfriday before this issue: "trusted" because 27.2 < 27.4
    assert trust_label(27.2, 27.4, 0.02, config) == (
        WEAK, "error too large: MASE 27.20 ≥ 1; band too narrow: 2 % coverage")
    assert trust_label(0.9, 0.8, 0.8, config) == (
        WEAK, "no better than seasonal naive: MASE 0.90 vs 0.80")
    assert trust_label(0.5, 0.9, 1.0, config) == (WEAK, "band too wide: 100 % coverage")
    assert trust_label(0.5, 0.9, 0.65, config)[0] == TRUSTED  # the bounds are inside
    assert trust_label(math.nan, 0.9, 0.8, config)[0] == WEAK


def test_the_model_with_the_lowest_backtest_mase_forecasts_the_term() -> None:
    summary = pd.DataFrame({"mase": [1.2, 1.1, 1.5, 0.9, 0.95], "smape": 10.0,
                            "coverage": [0.5, math.nan, math.nan, 0.8, 0.7]},
                           index=["prophet", "seasonal_naive", "naive", "auto_ets", "auto_theta"])
    config = TrendForecastConfig()
    assert choose_model(summary, config) == ModelChoice("auto_ets", 0.9, 0.8, "auto_theta", 0.95)
    # seasonal naive is a baseline, never the choice; a peer that could not fit is no candidate
    summary.loc["auto_ets", "mase"] = math.nan
    assert choose_model(summary, config) == ModelChoice("auto_theta", 0.95, 0.7, "prophet", 1.2)
    assert choose_model(summary, TrendForecastConfig(peers=())).model == "prophet"
    with pytest.raises(ValueError, match="unknown peers"):
        TrendForecastConfig(peers=("auto_lstm",))


def test_config_rejects_inconsistent_values() -> None:
    with pytest.raises(ValueError, match="interval_width"):
        TrendForecastConfig(interval_width=1.2)
    with pytest.raises(ValueError, match="freq"):
        TrendForecastConfig(freq="W")
    with pytest.raises(ValueError, match="weight"):
        TrendForecastConfig(level_weight=0.5)


def test_anomaly_alert_needs_several_actuals_on_one_side_of_the_band() -> None:
    config = TrendForecastConfig(anomaly_periods=5, anomaly_min_outside=3)
    frame = pd.DataFrame({
        "y": [10.0, 10, 10, 30, 31, 32, np.nan],
        "yhat_lower": [8.0] * 7, "yhat_upper": [12.0] * 7,
        "is_forecast": [False] * 6 + [True],
    })
    assert anomaly_alert(frame, config) == ("spike", 3)
    frame.loc[3:5, "y"] = [1.0, 2.0, 3.0]
    assert anomaly_alert(frame, config) == ("drop", 3)
    frame.loc[3:5, "y"] = [1.0, 30.0, 10.0]
    assert anomaly_alert(frame, config) == (None, 2)


# --- Prophet on planted series -----------------------------------------------------------------


# Planted changes over the last 8 weeks: ×1.7 (rising, e-folding 105 days) and ×0.5 (fading,
# 81 days): slow moves, seen over 8 weeks more than over 4.
RISE, FALL = 56 / math.log(1.7), 56 / math.log(2.0)


def planted(kind: str, days: int = 240, seed: int = 0) -> pd.DataFrame:
    """Daily Poisson counts with a weekly cycle: steady, or rising/fading over the last 8 weeks."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    level = 40 * (1 + 0.2 * np.sin(2 * np.pi * t / 7))
    change = np.clip(t - (days - 56), 0, None)
    if kind == "rising":
        level = level * np.exp(change / RISE)
    elif kind == "fading":
        level = level * np.exp(-change / FALL)
    ds = pd.date_range("2024-09-01", periods=days, freq="D")
    return pd.DataFrame({"ds": ds, "y": rng.poisson(level).astype(float)})


@pytest.mark.parametrize(("kind", "expected"), [("rising", RISING), ("fading", FADING), ("steady", STEADY)])
def test_planted_trends_are_classified(kind: str, expected: str) -> None:
    series = planted(kind)
    result = forecast_term(series, series["ds"].iloc[-1], FAST)
    assert result.status == OK, result.reason
    assert result.growth.trend_class == expected, result.growth


SHORT = TrendForecastConfig(uncertainty_samples=100, horizon=14, min_train_periods=28,
                            cutoff_spacing=7, baseline_periods=28)  # the demo's, for 8 weeks and up


def test_a_black_friday_spike_is_a_seasonal_spike_and_a_jump_a_breakout() -> None:
    spike = planted("steady", days=120)  # 2024-09-01 .. 2024-12-29, Black Friday 2024-11-29
    spike = spike[spike["ds"] <= "2024-12-08"].copy()  # four days after the window
    days_to = (spike["ds"] - pd.Timestamp("2024-11-29")).dt.days.to_numpy()
    spike["y"] += np.where((days_to >= -8) & (days_to <= 1), 300.0 * np.exp(-np.abs(days_to) / 3), 0.0)
    result = forecast_term(spike, spike["ds"].iloc[-1], SHORT)
    assert result.growth.trend_class == SEASONAL_SPIKE, result.growth
    assert result.growth.holiday == "black_friday+cyber_monday"
    assert result.growth.holiday_lift > 1.0

    jump = planted("steady", days=120)
    jump.loc[jump.index[-20:], "y"] *= 8  # ×8 from 20 days ago, no holiday near
    jump["ds"] = pd.date_range("2025-06-25", periods=120)  # no event window near the end
    result = forecast_term(jump, jump["ds"].iloc[-1], SHORT)
    assert result.growth.trend_class == BREAKOUT, result.growth
    assert result.growth.growth_4w == pytest.approx(7.0, abs=1.5)


def test_forecast_frame_schema_band_order_and_no_missing_days() -> None:
    series = planted("steady").drop(index=[50, 51, 52])  # three days never observed
    end = series["ds"].iloc[-1]
    result = forecast_term(series, end, FAST)
    frame = result.forecast
    assert tuple(frame.columns) == FORECAST_COLUMNS
    assert result.n_filled == 3 and result.n_periods == 240
    assert (frame["yhat_lower"] <= frame["yhat"]).all() and (frame["yhat"] <= frame["yhat_upper"]).all()
    expected_days = pd.date_range(series["ds"].iloc[0], end + pd.Timedelta(days=FAST.horizon))
    assert frame["ds"].tolist() == list(expected_days)
    assert int(frame["is_forecast"].sum()) == FAST.horizon
    assert frame.loc[frame["is_forecast"], "y"].isna().all()
    assert result.backtest["cutoff"].nunique() == 3
    assert set(result.backtest["model"]) == {"prophet", "seasonal_naive", "naive", "auto_ets",
                                             "auto_theta"}
    assert result.choice.model in ("prophet", "auto_ets", "auto_theta")


def test_holiday_spike_lands_in_the_holidays_component() -> None:
    series = planted("steady", days=300)  # 2024-09-01 .. 2025-06-27
    valentines = series["ds"] == pd.Timestamp("2025-02-14")
    series.loc[valentines, "y"] += 200.0
    result = forecast_term(series, series["ds"].iloc[-1], FAST)
    frame = result.forecast.set_index("ds")
    assert frame.loc["2025-02-14", "holiday"] == VALENTINES_DAY
    assert frame.loc["2025-02-14", "holidays"] > 100.0  # most of the planted 200
    assert frame.loc["2025-03-03", "holidays"] == 0.0  # no event that day


def test_too_little_history_is_set_aside_with_its_reason() -> None:
    series = planted("steady", days=60)
    result = forecast_term(series, series["ds"].iloc[-1], FAST)
    assert result.status == SET_ASIDE
    assert result.forecast is None
    assert "too little history: 60 periods" in result.reason
