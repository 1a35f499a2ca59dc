"""Charts of trend forecasts for marketing: PNG files drawn with matplotlib's object API.

`plot_term`: one term's recent history, fitted line, forecast with its band, and the holiday
windows shaded and named. `plot_overview`: growth scores of the strongest rising and fading terms
beside Prophet's backtest MASE against seasonal naive's (points below the diagonal: Prophet wins).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global figure state

CLASS_COLOURS = {"breakout": "#1b7f72", "rising": "#2a9d8f", "seasonal_spike": "#f4a261",
                 "steady": "#8d99ae", "fading": "#e76f51"}


def plot_term(frame: pd.DataFrame, info: dict[str, Any], calendar: pd.DataFrame, path: Path,
              history_days: int = 365) -> Path:
    """Save one term's chart to `path` and return it.

    `frame`: the term's forecast rows (ds, y, yhat, yhat_lower, yhat_upper, is_forecast);
    `info`: its rising-list row (term, trend_class, growth_score, prophet_mase...).
    """
    frame = frame.sort_values("ds")
    ds = pd.to_datetime(frame["ds"])
    last_actual = ds[~frame["is_forecast"].astype(bool)].max()
    shown = frame[ds > last_actual - pd.Timedelta(days=history_days)]
    shown_ds = pd.to_datetime(shown["ds"])
    history = shown[~shown["is_forecast"].astype(bool)]
    future = shown[shown["is_forecast"].astype(bool)]
    history_ds, future_ds = pd.to_datetime(history["ds"]), pd.to_datetime(future["ds"])

    fig = Figure(figsize=(11, 4.5))
    ax = fig.subplots()
    ax.fill_between(shown_ds, shown["yhat_lower"], shown["yhat_upper"], color="#4361ee", alpha=0.12,
                    label="forecast band")
    ax.plot(history_ds, history["y"], ".", color="#222222", markersize=3, label="actual")
    ax.plot(history_ds, history["yhat"], color="#4361ee", linewidth=1, alpha=0.7, label="fitted")
    ax.plot(future_ds, future["yhat"], color="#4361ee", linewidth=2, label="forecast")
    ax.axvline(last_actual, color="#555555", linestyle="--", linewidth=1)
    lo, hi = shown_ds.min(), shown_ds.max()
    marked: set[str] = set()
    for row in calendar.itertuples(index=False):
        start = row.ds + pd.Timedelta(days=int(row.lower_window))
        end = row.ds + pd.Timedelta(days=int(row.upper_window) + 1)
        if end < lo or start > hi:
            continue
        ax.axvspan(start, end, color="#f4a261", alpha=0.25, linewidth=0)
        ax.annotate(row.holiday.replace("_", " "), (row.ds, 1.0), xycoords=("data", "axes fraction"),
                    rotation=90, va="top", ha="right", fontsize=7, color="#9c4a00")
        marked.add(row.holiday)
    title = (f"{info.get('term_type', '')}: {info.get('term', '')}  —  {info.get('trend_class', '')} "
             f"(growth score {info.get('growth_score', float('nan')):+.2f})")
    if info.get("trust"):
        title += f"\n{info['trust']}: {info.get('trust_reason', '')}"
    mase = info.get("prophet_mase")
    if mase is not None and not np.isnan(mase):
        title += f"   backtest MASE {mase:.2f} (seasonal naive {info.get('seasonal_naive_mase', float('nan')):.2f})"
    if info.get("anomaly"):
        title += f"   ALERT: {info['anomaly']}"
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("daily weighted count")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def plot_overview(rising: pd.DataFrame, path: Path, top: int = 15) -> Path:
    """Save the overview chart (growth scores; MASE Prophet vs seasonal naive) and return it."""
    fig = Figure(figsize=(14, 6))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    shown = pd.concat([rising[rising["trend_class"] == moving].head(top)
                       for moving in ("breakout", "rising", "seasonal_spike", "fading")])
    if shown.empty:
        shown = rising.head(top)
    shown = shown.sort_values("growth_score")
    labels = [f"{row.term_type}: {row.term}" + (" ⚠" if row.anomaly else "") for row in shown.itertuples()]
    colours = [CLASS_COLOURS.get(c, "#8d99ae") for c in shown["trend_class"]]
    left.barh(range(len(shown)), shown["growth_score"], color=colours)
    left.set_yticks(range(len(shown)), labels, fontsize=8)
    left.axvline(0, color="#333333", linewidth=0.8)
    left.set_xlim(-1, 1)
    left.set_xlabel("growth score (−1 fading … +1 rising)")
    left.set_title(f"Top rising and fading terms ({len(rising)} forecast; ⚠ = anomaly alert)")
    left.grid(axis="x", alpha=0.3)

    comparable = rising.dropna(subset=["prophet_mase", "seasonal_naive_mase"])
    if len(comparable):
        colours = [CLASS_COLOURS.get(c, "#8d99ae") for c in comparable["trend_class"]]
        right.scatter(comparable["seasonal_naive_mase"], comparable["prophet_mase"], s=12, c=colours, alpha=0.7)
        top_value = float(np.nanmax(comparable[["prophet_mase", "seasonal_naive_mase"]].to_numpy()))
        right.plot([0, top_value], [0, top_value], color="#333333", linewidth=0.8, linestyle="--")
        share = comparable["beats_seasonal_naive"].mean()
        right.set_title(f"Backtest MASE (below the line: Prophet wins)\n"
                        f"Prophet beats seasonal naive on {share:.0%} of terms", fontsize=10)
    else:
        right.set_title("Backtest MASE (no comparable terms)")
    right.set_xlabel("seasonal naive MASE")
    right.set_ylabel("Prophet MASE")
    right.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
