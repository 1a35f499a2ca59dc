"""Prophet against statsforecast peers on the real Prophet example series, with the project's own
backtest: rolling origin, 3 cutoffs one horizon apart, MASE on the in-sample seasonal-naive scale
(`models.trend_forecast.backtest`, exactly what the forecast job runs per term).

Series (read in place from ../shared/data/prophet-examples/, never copied): the daily log page
views of "Peyton Manning" (gaps interpolated; m = 7, 28-day horizon), whole and in four two-year
windows (2008-09, 2010-11, 2012-13, 2014-15), and the monthly US retail sales (m = 12, 12-month
horizon). Models: Prophet (the job's config), seasonal naive, naive, AutoETS, AutoTheta and
AutoARIMA (statsforecast), and the per-series choice (`choose_model`: the lowest backtest MASE of
Prophet and the peers) — the model the job would forecast that series with.

Prints a table per series and the mean, then as its last line

    RESULT {"prophet_mase": ..., "best_peer_mase": ..., "chosen_mase": ..., ...}

`best_peer_mase`: the mean MASE of the single statsforecast model with the lowest mean over the
six series; `chosen_mase`: the mean MASE of the per-series choice. Note that the choice is made on
the same backtest that scores it (as the job does per term): it is the error of the model the job
picks, not an out-of-sample estimate of the selection. Usage:

    .venv/bin/python bench/forecast_real_series.py [--data ../shared/data/prophet-examples]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from models.trend_forecast import (
    MODELS,
    PEERS,
    PROPHET,
    SEASONAL_NAIVE,
    backtest,
    choose_model,
    config_for_freq,
    fill_gaps,
    naive_day,
    summarize_backtest,
)

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "prophet-examples"
PEYTON = "example_wp_log_peyton_manning.csv"
RETAIL = "example_retail_sales.csv"
WINDOWS = (("2008-01-01", "2009-12-31"), ("2010-01-01", "2011-12-31"),
           ("2012-01-01", "2013-12-31"), ("2014-01-01", "2015-12-31"))


def series_list(data: Path) -> list[tuple[str, pd.DataFrame, str]]:
    """(name, observed ds/y, freq) of the six series."""
    peyton = pd.read_csv(data / PEYTON, parse_dates=["ds"])
    retail = pd.read_csv(data / RETAIL, parse_dates=["ds"])
    out = [("peyton_manning_whole", peyton, "D")]
    for first, last in WINDOWS:
        window = peyton[(peyton["ds"] >= first) & (peyton["ds"] <= last)]
        out.append((f"peyton_manning_{first[:4]}_{last[2:4]}", window, "D"))
    out.append(("retail_sales_monthly", retail, "MS"))
    return out


def run_series(observed: pd.DataFrame, freq: str) -> tuple[pd.DataFrame, str, float]:
    """(summary per model, chosen model, seconds) of one series."""
    config = config_for_freq(freq, gap_fill="interpolate", uncertainty_samples=100, peers=PEERS,
                             holidays=())
    end = naive_day(observed["ds"].max())
    series, _ = fill_gaps(observed, end, config)
    calendar = config.holiday_calendar(series["ds"].iloc[0].year, end.year + 1)
    started = time.perf_counter()
    table = backtest(series, calendar, config)
    summary = summarize_backtest(table)
    choice = choose_model(summary, config)
    return summary, choice.model, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    console = Console(width=160)
    models = [PROPHET, SEASONAL_NAIVE, *[m for m in MODELS if m not in (PROPHET, SEASONAL_NAIVE)],
              *PEERS]
    rows = []
    for name, observed, freq in series_list(args.data):
        summary, chosen, seconds = run_series(observed, freq)
        row = {"series": name, **{model: float(summary.loc[model, "mase"]) for model in models},
               "chosen": float(summary.loc[chosen, "mase"]), "chosen_model": chosen,
               "seconds": round(seconds, 1)}
        rows.append(row)
        console.print(f"{name}: chosen {chosen} ({row['chosen']:.3f}), {seconds:.0f} s")
    frame = pd.DataFrame(rows)
    table = Table(title="Backtest MASE on real series (rolling origin, 3 cutoffs, mean over cutoffs)")
    table.add_column("series")
    for model in (*models, "chosen"):
        table.add_column(model, justify="right")
    table.add_column("chosen model")
    for row in frame.to_dict("records"):
        best = min(row[m] for m in (PROPHET, *PEERS))
        table.add_row(row["series"], *[(f"[bold]{row[m]:.3f}[/]" if m != "chosen" and row[m] == best
                                        else f"{row[m]:.3f}") for m in (*models, "chosen")],
                      row["chosen_model"])
    means = frame[[*models, "chosen"]].mean()
    table.add_row("mean", *[f"{means[m]:.3f}" for m in (*models, "chosen")], "")
    console.print(table)
    best_peer = min(PEERS, key=lambda peer: means[peer])
    prophet_best = int(sum(row[PROPHET] == min(row[m] for m in (PROPHET, *PEERS)) for row in rows))
    prophet_worse = int((frame[PROPHET] > frame[SEASONAL_NAIVE]).sum())
    console.print(f"Prophet best on {prophet_best} of {len(frame)}; worse than seasonal naive on "
                  f"{prophet_worse}; best single peer: {best_peer}")
    print("RESULT " + json.dumps({
        "prophet_mase": round(float(means[PROPHET]), 3),
        "seasonal_naive_mase": round(float(means[SEASONAL_NAIVE]), 3),
        **{f"{peer}_mase": round(float(means[peer]), 3) for peer in PEERS},
        "best_peer": best_peer, "best_peer_mase": round(float(means[best_peer]), 3),
        "chosen_mase": round(float(means["chosen"]), 3),
        "chosen_models": frame["chosen_model"].tolist(), "prophet_best_on": prophet_best,
        "prophet_worse_than_seasonal_naive_on": prophet_worse, "series": len(frame),
        "seconds": round(float(frame["seconds"].sum()), 1),
    }))


if __name__ == "__main__":
    main()
