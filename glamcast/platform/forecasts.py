"""The trend forecasts as their readers see them: the `forecasts` lake dataset and its columns.

Written by `jobs/forecast_trends.py`; read by the trends API and the dashboard (serving reads a job's
output through this module, never through the job).
"""

from __future__ import annotations

import pandas as pd

from glamcast.core.names import DATE_COL, FORECASTS, TERM_COL, TERM_TYPE_COL, TREND_COUNTS
from glamcast.core.settings import Settings
from glamcast.platform import lake
from models.trend_forecast import COMPONENTS

#: The lake source the forecasts are made from by default.
LAKE_SOURCE = TREND_COUNTS

#: Columns of the `forecasts` dataset, in order.
FORECAST_DATASET_COLUMNS = (
    TERM_TYPE_COL, TERM_COL, "ds", "y", "yhat", "yhat_lower", "yhat_upper",
    *COMPONENTS, "holiday", "is_forecast", "origin", "run_id", "generated_at",
)
#: The evidence behind a term's class (models.trend_forecast.GrowthScore).
EVIDENCE_COLUMNS = (
    "growth_2w", "growth_4w", "growth_8w", "holiday", "holiday_start", "holiday_end",
    "holiday_lift", "holiday_after",
)
#: Which model forecasts a term (the lowest backtest MASE of Prophet and the statsforecast
#: peers), its error and band coverage, and the runner-up's (models.trend_forecast.ModelChoice).
CHOICE_COLUMNS = (
    "chosen_model", "chosen_mase", "chosen_coverage", "runner_up_model", "runner_up_mase",
)
#: Columns of the ranked rising list.
RISING_COLUMNS = (
    "rank", TERM_TYPE_COL, TERM_COL, "trend_class", "growth_score", "level_change",
    "trend_change", "p_up", "recent_level", "baseline_level", "last_actual", "anomaly",
    "anomaly_outside", *EVIDENCE_COLUMNS, "prophet_mase", "seasonal_naive_mase", "naive_mase",
    "prophet_smape", "seasonal_naive_smape", "naive_smape", "prophet_coverage",
    "auto_ets_mase", "auto_theta_mase", "auto_arima_mase", *CHOICE_COLUMNS,
    "beats_seasonal_naive", "trust", "trust_reason", "n_periods", "n_filled",
)

def latest_forecasts(settings: Settings, source: str = LAKE_SOURCE) -> pd.DataFrame:
    """The newest run's `forecasts` of a source (FORECAST_DATASET_COLUMNS), for the API and
    dashboard; empty when the job has not run yet."""
    import pyarrow.dataset as pads
    import pyarrow.fs as pafs

    fs, base = lake.filesystem(settings.lake_root)
    root = f"{base}/{FORECASTS}"
    if fs.get_file_info(root).type == pafs.FileType.NotFound:
        return pd.DataFrame(columns=list(FORECAST_DATASET_COLUMNS))
    prefix, folder = f"{DATE_COL}=", f"source={source.replace(':', '-')}"
    days = sorted(
        info.base_name[len(prefix):] for info in fs.get_file_info(pafs.FileSelector(root))
        if info.type == pafs.FileType.Directory and info.base_name.startswith(prefix)
        and fs.get_file_info(f"{root}/{info.base_name}/{folder}").type == pafs.FileType.Directory
    )
    if not days:
        return pd.DataFrame(columns=list(FORECAST_DATASET_COLUMNS))
    path = f"{root}/{prefix}{days[-1]}/{folder}"
    table = pads.dataset(path, filesystem=fs, format="parquet").to_table()
    return table.to_pandas()[list(FORECAST_DATASET_COLUMNS)]
