"""Are the right terms called rising? Trend classes against the simulator's planted truth.

For each seed: the simulator's world (`glamcast.simulator`, the demo's 60 days ending
`--end`) plants hashtags, brands, shade families and finishes of seven shapes (`glamcast.simulator.trends`: steady rise,
breakout, saturating rise, fade, holiday spike, weekly-seasonal flat, random walk); its social
posts are counted per term and day with the streams' weight (`glamcast.core.trend_terms`:
hashtags and brands normalized, engagement-weighted), its try-ons per shade family and finish
(weighted by action), and every term is forecast, backtested and
classified with the demo's per-term config (`glamcast.demo.forecast_model_config`), through
`models.trend_forecast.forecast_term` — the function the Spark job runs per term.

Expected class of a shape: steady and saturating rise → rising; breakout → breakout; fade →
fading; holiday spike → seasonal_spike when its holiday's window lies in the simulated window
(else steady); weekly-seasonal flat and random walk (background hashtags too) → steady.

Prints per seed and overall: precision and recall per class, the confusion matrix, and the trust
label's calibration (backtest MASE and band coverage of trusted and weak terms). Last line:

    RESULT {"rising_precision": ..., "rising_recall": ..., "spike_as_rising": ...,
            "trusted_mase_max": ...}

rising_* count `rising` and `breakout` together (what marketing acts on). The class thresholds
were tuned on seeds 101, 102 and 103 (`--seeds 101 102 103`); the default, reported seeds are
7, 11 and 13. Usage:

    .venv/bin/python bench/trend_detection.py [--seeds 7 11 13] [--end 2026-12-05] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from datetime import date, timedelta

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from glamcast.core.trend_terms import (
    BRAND,
    FINISH,
    HASHTAG,
    SHADE_FAMILY,
    TRYON_ACTION_WEIGHTS,
    normalize_brand,
    normalize_hashtag,
    social_weight,
)
from glamcast.demo import forecast_model_config
from glamcast.simulator import SimulationConfig, World
from glamcast.simulator.trends import (
    BREAKOUT as BREAKOUT_SHAPE,
)
from glamcast.simulator.trends import (
    FADE,
    HOLIDAY_SPIKE,
    SATURATING_RISE,
    STEADY_RISE,
)
from glamcast.simulator.tryon_sessions import ACTIONS
from models.trend_forecast import (
    BREAKOUT,
    FADING,
    OK,
    PROPHET,
    RISING,
    SEASONAL_NAIVE,
    SEASONAL_SPIKE,
    STEADY,
    TREND_CLASSES,
    TRUSTED,
    forecast_term,
    summarize_backtest,
    trust_label,
)

SET_ASIDE_CLASS = "set_aside"
UP = (RISING, BREAKOUT)
EXPECTED = {STEADY_RISE: RISING, SATURATING_RISE: RISING, BREAKOUT_SHAPE: BREAKOUT, FADE: FADING}


def expected_class(row: pd.Series) -> str:
    if row["shape"] == HOLIDAY_SPIKE:
        return SEASONAL_SPIKE if pd.notna(row["window_start"]) else STEADY
    return EXPECTED.get(row["shape"], STEADY)


def daily_series(world: World) -> dict[tuple[str, str], np.ndarray]:
    """(term_type, term) → (days,) engagement-weighted count of the social posts naming it."""
    days = world.config.days
    series: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(days))
    for day in range(days):
        posts = world.social_day(day)
        weights = [social_weight(*values) for values in zip(
            posts.likes.tolist(), posts.comments.tolist(), posts.shares.tolist(),
            posts.views.tolist(), strict=True)]
        for tags, brands, weight in zip(posts.hashtags, posts.brands, weights, strict=True):
            for tag in {normalize_hashtag(tag) for tag in tags} - {None}:
                series[(HASHTAG, tag)][day] += weight
            for brand in {normalize_brand(brand) for brand in brands} - {None}:
                series[(BRAND, brand)][day] += weight
    # Try-ons: each event's shade family and finish, weighted by its action (streams/trend_counts.py;
    # the catalogue's family is the CIELAB family of its shade_hex).
    action_weight = np.array([TRYON_ACTION_WEIGHTS[action.value] for action in ACTIONS])
    terms = {SHADE_FAMILY: world.catalog["shade_family"].to_numpy(),
             FINISH: world.catalog["finish"].to_numpy()}
    for day in range(days):
        tryons = world.tryon_day(day)
        weight = action_weight[tryons.action]
        for term_type, of_product in terms.items():
            for term, total in pd.Series(weight).groupby(of_product[tryons.product]).sum().items():
                series[(term_type, str(term))][day] += total
    return dict(series)


def _fit(args: tuple[str, str, pd.DataFrame, pd.Timestamp]) -> dict:
    term_type, term, frame, end = args
    config = forecast_model_config()
    result = forecast_term(frame, end, config)
    row: dict = {"term_type": term_type, "term": term, "status": result.status}
    if result.status != OK:
        return {**row, "predicted": SET_ASIDE_CLASS, "reason": result.reason}
    assert result.growth is not None and result.backtest is not None
    summary = summarize_backtest(result.backtest)
    choice = result.choice  # the model that forecasts the term: the trust is judged on it
    assert choice is not None
    snaive = summary.loc[SEASONAL_NAIVE, "mase"]
    label, reason = trust_label(choice.mase, snaive, choice.coverage, config, choice.model)
    return {**row, "predicted": result.growth.trend_class, **asdict(result.growth),
            "model": choice.model, "mase": choice.mase, "prophet_mase": summary.loc[PROPHET, "mase"],
            "seasonal_naive_mase": snaive, "coverage": choice.coverage, "trust": label,
            "trust_reason": reason}


def run_seed(seed: int, end: date, workers: int,
             term_types: list[str] | None = None) -> pd.DataFrame:
    """Every truth term (of `term_types`) of one seed's world with its predicted class and backtest."""
    days = forecast_days()
    world = World.build(SimulationConfig(users=300, days=days, seed=seed,
                                         start=end - timedelta(days=days - 1)))
    truth = world.truth["trend_shapes"]
    if term_types:
        truth = truth[truth["term_type"].isin(term_types)]
    series = daily_series(world)
    ds = pd.date_range(world.config.start_date, periods=days, freq="D")
    jobs = [(row.term_type, row.term,
             pd.DataFrame({"ds": ds, "y": series.get((row.term_type, row.term), np.zeros(days))}),
             pd.Timestamp(end)) for row in truth.itertuples()]
    with ProcessPoolExecutor(workers) as pool:
        fitted = pd.DataFrame(list(pool.map(_fit, jobs, chunksize=4)))
    out = truth.merge(fitted, on=["term_type", "term"], how="left")
    out["expected"] = out.apply(expected_class, axis=1)
    out["seed"] = seed
    return out


def forecast_days() -> int:
    return 60  # the demo's window (glamcast.demo.DemoConfig.days)


def class_table(frame: pd.DataFrame, title: str) -> tuple[Table, Table]:
    classes = [*TREND_CLASSES, SET_ASIDE_CLASS]
    scores = Table(title=f"{title}: precision and recall per class")
    for column in ("class", "planted", "called", "correct", "precision", "recall"):
        scores.add_column(column, justify="left" if column == "class" else "right")
    for name in classes:
        planted = int((frame["expected"] == name).sum())
        called = int((frame["predicted"] == name).sum())
        correct = int(((frame["expected"] == name) & (frame["predicted"] == name)).sum())
        scores.add_row(name, str(planted), str(called), str(correct),
                       f"{correct / called:.2f}" if called else "-",
                       f"{correct / planted:.2f}" if planted else "-")
    confusion = Table(title=f"{title}: confusion (rows planted, columns called)")
    confusion.add_column("planted \\ called")
    for name in classes:
        confusion.add_column(name, justify="right")
    for name in classes:
        rows = frame[frame["expected"] == name]
        if len(rows):
            confusion.add_row(name, *[str(int((rows["predicted"] == c).sum())) for c in classes])
    return scores, confusion


def headline(frame: pd.DataFrame) -> dict[str, float]:
    called_up = frame["predicted"].isin(UP)
    truly_up = frame["expected"].isin(UP)
    trusted = frame[frame["trust"] == TRUSTED]
    return {
        "rising_precision": round(float((called_up & truly_up).sum() / max(called_up.sum(), 1)), 3),
        "rising_recall": round(float((called_up & truly_up).sum() / max(truly_up.sum(), 1)), 3),
        "spike_as_rising": int(((frame["expected"] == SEASONAL_SPIKE) & called_up).sum()),
        "trusted_mase_max": round(float(trusted["mase"].max()), 3) if len(trusted) else math.nan,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 13])
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 12, 5),
                        help="last simulated day (default: the demo's window as of 2026-12-06)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--save", help="write the per-term table to this CSV")
    parser.add_argument("--term-type", action="append", dest="term_types",
                        help="only truth terms of this type (repeatable; default: all)")
    args = parser.parse_args()
    console = Console(width=160)
    started = time.perf_counter()
    frames = []
    for seed in args.seeds:
        frame = run_seed(seed, args.end, args.workers, args.term_types)
        frames.append(frame)
        console.print(f"seed {seed}: {len(frame)} terms, {headline(frame)}")
        wrong = frame[frame["expected"] != frame["predicted"]]
        for row in wrong.itertuples():
            console.print(f"  {row.term_type}: {row.term} ({row.shape}) expected {row.expected}, "
                          f"called {row.predicted}  g2={_f(row.growth_2w)} g4={_f(row.growth_4w)} "
                          f"lift={_f(row.holiday_lift)} after={_f(row.holiday_after)}")
    every = pd.concat(frames, ignore_index=True)
    if args.save:
        every.to_csv(args.save, index=False)
    for table in class_table(every, f"seeds {', '.join(map(str, args.seeds))}"):
        console.print(table)
    calibration = Table(title="Trust label calibration (the chosen model's backtest, mean over cutoffs)")
    for column in ("label", "terms", "mean MASE", "max MASE", "MASE < 1", "mean coverage",
                   "coverage in [0.65, 0.95]"):
        calibration.add_column(column, justify="left" if column == "label" else "right")
    forecast = every[every["status"] == OK]
    for label, rows in forecast.groupby("trust"):
        inside = rows["coverage"].between(0.65, 0.95)
        calibration.add_row(str(label), str(len(rows)), f"{rows['mase'].mean():.2f}",
                            f"{rows['mase'].max():.2f}", f"{(rows['mase'] < 1).mean():.0%}",
                            f"{rows['coverage'].mean():.2f}", f"{inside.mean():.0%}")
    console.print(calibration)
    reasons = forecast.loc[forecast["trust"] != TRUSTED, "trust_reason"].str.split("; ").explode()
    console.print("weak because: " + ", ".join(
        f"{reason.split(':')[0]} ({count})" for reason, count in
        reasons.str.split(":").str[0].value_counts().items()))
    result = {**headline(every), "seeds": args.seeds, "terms": len(every),
              "n_trusted": int((every["trust"] == TRUSTED).sum()),
              "seconds": round(time.perf_counter() - started, 1)}
    print("RESULT " + json.dumps(result))


def _f(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.2f}"


if __name__ == "__main__":
    main()
