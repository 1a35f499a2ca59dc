"""How long the Monday forecast takes at scale: Spark applyInPandas against one sequential process.

Writes a temporary lake of `trend_counts` for N terms × D days (default 500 × 730, one Parquet
file per day as the streams write them): steady, rising and fading terms at levels from a few to
a few hundred per day, with weekly and yearly cycles and holiday spikes. Then:

- (spark) `jobs.forecast_trends.forecast_trends` end to end on Spark ``local[2]``: read the lake,
  screen, rolling-origin backtest (3 cutoffs) + final fit + forecast + growth score per term,
  write the `forecasts` dataset (no MLflow server, no plots: they do not grow with N);
- (sequential) the same per-term work, `models.trend_forecast.forecast_term`, in a loop in this
  process. With ``--sequential-terms K`` < N only the first K terms are timed and the total is
  extrapolated (K/N of the work, linear: every term costs the same four fits); the output and
  RESULT say so.

Prints a table, then as its last line ``RESULT {"terms": ..., "spark_s": ..., "sequential_s": ...,
"speedup": ...}`` (sequential_s extrapolated to all N terms when K < N). Usage:

    .venv/bin/python bench/forecast_scale.py [--terms 500] [--days 730] [--sequential-terms 100]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from glamcast.core.names import EVENTS_COL, TERM_COL, TERM_TYPE_COL, TREND_COUNTS
from glamcast.core.settings import Settings
from glamcast.platform import lake
from glamcast.platform.spark import spark_session
from jobs.forecast_trends import ForecastTrendsConfig, forecast_trends
from models.trend_forecast import OK, TrendForecastConfig, forecast_term

LAST_DAY = date(2025, 12, 31)
MASTER = "local[2]"
PLANTED = ("steady", "rising", "fading")


def simulated_terms(n_terms: int, days: int, seed: int = 5) -> tuple[pd.DataFrame, dict[str, str]]:
    """Daily counts of `n_terms` terms (term, ds, y) and the trend planted in each."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range(LAST_DAY - timedelta(days=days - 1), LAST_DAY, freq="D")
    t = np.arange(days)
    spikes = np.isin(ds.strftime("%m-%d"), ["02-14", "11-11", "12-24"]).astype(float)
    frames, planted = [], {}
    for i in range(n_terms):
        term = f"term{i:04d}"
        kind = PLANTED[0] if i % 5 < 3 else PLANTED[1 + i % 2]  # 60% steady, 20% rising, 20% fading
        level = np.exp(rng.uniform(np.log(5), np.log(300)))
        weekly = 1 + rng.uniform(0, 0.3) * np.sin(2 * np.pi * t / 7 + rng.uniform(0, 6.3))
        yearly = 1 + rng.uniform(0, 0.3) * np.sin(2 * np.pi * t / 365.25 + rng.uniform(0, 6.3))
        mean = level * weekly * yearly * (1 + rng.uniform(0, 2) * spikes * (i % 3 == 0))
        weeks = rng.integers(6, 11)
        change = np.clip(t - (days - 7 * weeks), 0, None) / (7 * weeks)  # 0 → 1 over the last weeks
        if kind == "rising":
            mean = mean * (1 + rng.uniform(0.5, 2.0) * change)
        elif kind == "fading":
            mean = mean * (1 - rng.uniform(0.35, 0.7) * change)
        frames.append(pd.DataFrame({"term": term, "ds": ds, "y": rng.poisson(mean).astype(float)}))
        planted[term] = kind
    return pd.concat(frames, ignore_index=True), planted


def tree_cpu_seconds() -> float:
    """CPU seconds (user + system) used so far by this process's descendants: the Spark JVM,
    the Python workers and the cmdstan runs they reaped. The machine is shared: wall time alone
    says as much about the neighbours as about the job."""
    total = 0.0
    for proc in psutil.Process().children(recursive=True):
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def own_cpu_seconds() -> float:
    """CPU seconds of this process and its reaped children (the sequential fits' cmdstan runs)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def write_lake(root: str, counts: pd.DataFrame) -> int:
    """The counts as `trend_counts`, one file per day (hour: noon UTC); returns files written."""
    schema = lake.SCHEMAS[TREND_COUNTS]
    rows = counts[counts["y"] > 0]
    frame = pd.DataFrame({
        lake.HOUR_COL: (rows["ds"] + pd.Timedelta(hours=12)).dt.tz_localize("UTC"),
        TERM_TYPE_COL: "hashtag", TERM_COL: rows["term"], lake.SOURCE_COL: "social",
        lake.WEIGHT_COL: rows["y"], EVENTS_COL: rows["y"].astype("int64"),
    })
    files = 0
    for day, part in frame.groupby(rows["ds"].dt.date):
        table = pa.Table.from_pandas(part.reset_index(drop=True), schema=schema, preserve_index=False)
        lake.write_file(root, f"{lake.partition_dir(TREND_COUNTS, day)}/bench-p0-0-0.parquet", table)
        files += 1
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--terms", type=int, default=500)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--sequential-terms", type=int, default=100,
                        help="terms timed sequentially (the rest extrapolated); = --terms for all")
    args = parser.parse_args()
    console = Console()
    model = TrendForecastConfig()  # production defaults: horizon 28, 3 cutoffs, 200 draws
    counts, planted = simulated_terms(args.terms, args.days)

    with tempfile.TemporaryDirectory(prefix="forecast-bench-") as state:
        settings = Settings(state_dir=Path(state))
        started = time.perf_counter()
        files = write_lake(settings.lake_root, counts)
        console.print(f"lake: {len(counts)} term-days in {files} daily files "
                      f"({time.perf_counter() - started:.1f} s)")

        spark = spark_session(settings, app_name="forecast-bench", master=MASTER)
        config = ForecastTrendsConfig(model=model, until=LAST_DAY, history_days=args.days,
                                      top_plots=0, report_dir=Path(state) / "report",
                                      publish_alerts=False)  # no broker in the bench
        spark.range(1).count()  # JVM warm: time the job, not the session start
        cpu_before, own_before = tree_cpu_seconds(), own_cpu_seconds()
        started = time.perf_counter()
        result = forecast_trends(spark, settings, config, log_to_mlflow=False)
        spark_s = time.perf_counter() - started
        spark_cpu_s = tree_cpu_seconds() - cpu_before + own_cpu_seconds() - own_before
        spark.stop()

    sequential_terms = min(args.sequential_terms, args.terms)
    end = pd.Timestamp(LAST_DAY)
    calendar = model.holiday_calendar(end.year - args.days // 365 - 1, end.year + 1)
    terms = sorted(planted)[:sequential_terms]
    own_before = own_cpu_seconds()
    started = time.perf_counter()
    for term in terms:
        series = counts[counts["term"] == term]
        outcome = forecast_term(series[series["y"] > 0][["ds", "y"]], end, model, calendar)
        assert outcome.status == OK, outcome.reason
    measured_s = time.perf_counter() - started
    sequential_cpu_s = (own_cpu_seconds() - own_before) * args.terms / sequential_terms
    extrapolated = sequential_terms < args.terms
    sequential_s = measured_s * args.terms / sequential_terms

    ranked = result.rising.set_index("term")
    correct = sum(ranked.loc[term, "trend_class"] == kind for term, kind in planted.items() if term in ranked.index)
    share = result.metrics["share_beating_seasonal_naive"]
    load = os.getloadavg()[0]

    table = Table(title=f"Forecast + backtest, {args.terms} terms × {args.days} days, Spark {MASTER}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("terms forecast / set aside", f"{int(result.metrics['n_forecast'])} / "
                  f"{int(result.metrics['n_set_aside'] + result.metrics['n_failed'])}")
    table.add_row("Prophet fits (3 backtest cutoffs + final, per term)", str(4 * args.terms))
    table.add_row("Spark job, end to end (read lake, fit, write forecasts)", f"{spark_s:.1f} s")
    table.add_row("  of which until the fits were done", f"{result.metrics['fit_seconds']:.1f} s")
    seq_label = (f"sequential, {sequential_terms} terms measured ({measured_s:.1f} s), "
                 f"extrapolated to {args.terms}" if extrapolated else "sequential, one process")
    table.add_row(seq_label, f"{sequential_s:.1f} s")
    table.add_row("speed-up (sequential / Spark)", f"{sequential_s / spark_s:.2f}×")
    table.add_row("per term: Spark / sequential", f"{1000 * spark_s / args.terms:.0f} ms / "
                  f"{1000 * sequential_s / args.terms:.0f} ms")
    cores = 2
    table.add_row("CPU seconds used: Spark job / sequential", f"{spark_cpu_s:.0f} / {sequential_cpu_s:.0f}")
    table.add_row("share of the 2 cores the Spark job got", f"{spark_cpu_s / (cores * spark_s):.0%}")
    table.add_row("share of 1 core the sequential run got", f"{sequential_cpu_s / sequential_s:.0%}")
    table.add_row("Spark job on 2 free cores, estimated (CPU s / 2)", f"{spark_cpu_s / cores:.0f} s")
    table.add_row("planted class recovered (steady/rising/fading)", f"{correct}/{args.terms}")
    table.add_row("terms where Prophet beats seasonal naive", f"{share:.0%}")
    table.add_row("target: under 5 minutes", "met" if spark_s < 300 else "NOT met")
    table.add_row("1-minute load average at the end (2 cores)", f"{load:.1f}")
    console.print(table)
    print("RESULT " + json.dumps({
        "terms": args.terms, "days": args.days, "master": MASTER,
        "spark_s": round(spark_s, 1), "spark_fit_s": round(result.metrics["fit_seconds"], 1),
        "sequential_s": round(sequential_s, 1), "sequential_measured_terms": sequential_terms,
        "sequential_measured_s": round(measured_s, 1), "sequential_extrapolated": extrapolated,
        "speedup": round(sequential_s / spark_s, 2), "classes_recovered": correct,
        "spark_cpu_s": round(spark_cpu_s, 1), "sequential_cpu_s": round(sequential_cpu_s, 1),
        "spark_free_cores_estimate_s": round(spark_cpu_s / cores, 1),
        "share_beating_seasonal_naive": round(share, 3), "load_avg_1m": round(load, 1),
    }))


if __name__ == "__main__":
    main()
