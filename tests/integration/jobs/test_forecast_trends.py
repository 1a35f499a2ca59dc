"""The forecast job on Spark against a simulated lake and the real MLflow server of the session.

Simulated `trend_counts` (hourly rows, lake layout) hold a planted rising term, a planted fading
term, a Valentine's Day spike on a steady term, a steady term, a term with too little history and
a too sparse one. One run of `forecast_trends` is checked for classes, the holiday component, the
`forecasts` dataset (schema, band order, no missing days), set-aside reasons and what MLflow got.
The spark-submit entry point runs once on the real monthly retail series.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import mlflow
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from testkit import (
    PLANTED_FIRST_DAY,
    PLANTED_LAST_DAY,
    PLANTED_SPIKE,
    planted_trend_counts,
    write_trend_counts,
)

from glamcast.core.settings import Settings
from glamcast.platform.forecasts import FORECAST_DATASET_COLUMNS, latest_forecasts
from glamcast.platform.model_registry import tracking_uri
from jobs.forecast_trends import ForecastResult, ForecastTrendsConfig, forecast_trends
from models.trend_forecast import FADING, RISING, STEADY, TrendForecastConfig

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
FIRST_DAY, LAST_DAY = PLANTED_FIRST_DAY, PLANTED_LAST_DAY  # 212 days, Valentine's Day inside
SPIKE = PLANTED_SPIKE
HORIZON = 14
ALERTS_TOPIC = f"test.alerts.{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def lake_settings(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The session stack's settings with a lake of simulated trend counts of this module."""
    root = tmp_path_factory.mktemp("forecast-lake")
    write_trend_counts(str(root), planted_trend_counts())
    return stack_settings.model_copy(update={"lake_uri": str(root)})


@pytest.fixture(scope="module")
def result(spark, lake_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> ForecastResult:
    config = ForecastTrendsConfig(
        model=TrendForecastConfig(horizon=HORIZON, uncertainty_samples=100),
        since=FIRST_DAY, until=LAST_DAY, top_plots=1, alerts_topic=ALERTS_TOPIC,
        report_dir=tmp_path_factory.mktemp("forecast-report"),
    )
    stages: list[str] = []
    outcome = forecast_trends(spark, lake_settings, config,
                              on_progress=lambda stage, done, total: stages.append(stage))
    assert stages[0] == "reading series" and stages[-1] == "done"
    return outcome


def test_planted_terms_are_classified(result: ForecastResult) -> None:
    classes = dict(zip(result.rising["term"], result.rising["trend_class"], strict=True))
    assert classes == {"glassskin": RISING, "metallic": FADING, "red": STEADY, "lipstick": STEADY}
    assert result.rising["trend_class"].tolist()[0] == RISING  # ranked: rising first
    assert result.rising["trend_class"].tolist()[-1] == FADING
    ranked = result.rising.set_index("term")
    assert ranked.loc["glassskin", "growth_8w"] == pytest.approx(1.0, abs=0.35)  # ×2 over 8 weeks
    assert ranked.loc["metallic", "growth_8w"] == pytest.approx(-0.5, abs=0.15)  # ×0.5
    assert ranked["holiday"].isna().all()  # one Valentine's day of 250 is no seasonal spike
    for row in result.rising.itertuples():  # the trust label, judged on the chosen model
        candidates = {model: getattr(row, f"{model}_mase") for model in ("prophet", "auto_ets", "auto_theta")}
        assert row.chosen_mase == pytest.approx(min(candidates.values()))
        assert candidates[row.chosen_model] == pytest.approx(row.chosen_mase)
        assert row.runner_up_mase == pytest.approx(sorted(candidates.values())[1])
        passed = (row.chosen_mase < 1 and row.chosen_mase < row.seasonal_naive_mase
                  and 0.65 <= row.chosen_coverage <= 0.95)
        assert row.trust == ("trusted" if passed else "weak"), row
        assert row.trust_reason.startswith(row.chosen_model if passed else "")


def test_the_runs_alerts_are_published_once(result: ForecastResult, lake_settings: Settings) -> None:
    from glamcast.platform.alerts import publish_alerts, read_alerts

    expected = {(row.term, "band_exit") for row in result.rising.itertuples() if row.anomaly}
    expected |= {(row.term, "breakout") for row in result.rising.itertuples()
                 if row.trend_class == "breakout"}
    assert {(alert.term, alert.kind) for alert in result.alerts} == expected
    assert result.alerts_sent == result.alerts  # a fresh topic: all new
    assert sorted(a.alert_id for a in read_alerts(lake_settings, ALERTS_TOPIC)) == sorted(
        a.alert_id for a in result.alerts)
    assert publish_alerts(lake_settings, result.alerts, ALERTS_TOPIC) == []  # never twice
    assert result.metrics["n_alerts"] == len(result.alerts)


def test_forecasts_dataset_schema_band_and_no_missing_days(result: ForecastResult) -> None:
    table = pq.read_table(result.forecasts_path)
    assert tuple(table.column_names) == FORECAST_DATASET_COLUMNS
    assert table.schema.field("ds").type == pa.date32()
    assert table.schema.field("yhat").type == pa.float64()
    assert table.schema.field("is_forecast").type == pa.bool_()
    frame = table.to_pandas()
    assert (frame["yhat_lower"] <= frame["yhat"]).all() and (frame["yhat"] <= frame["yhat_upper"]).all()
    assert set(frame["term"]) == {"glassskin", "metallic", "red", "lipstick"}
    for term, rows in frame.groupby("term"):
        days = pd.to_datetime(rows["ds"]).sort_values()
        expected = pd.date_range(days.iloc[0], pd.Timestamp(LAST_DAY) + pd.Timedelta(days=HORIZON))
        assert days.tolist() == list(expected), f"{term}: missing or extra days"
        assert int(rows["is_forecast"].sum()) == HORIZON
    assert frame["run_id"].unique().tolist() == [result.run_id]
    assert (pd.to_datetime(frame["origin"]) == pd.Timestamp(LAST_DAY)).all()


def test_latest_forecasts_reads_the_newest_run(result: ForecastResult, lake_settings: Settings) -> None:
    latest = latest_forecasts(lake_settings)
    assert tuple(latest.columns) == FORECAST_DATASET_COLUMNS
    assert len(latest) == result.metrics["n_forecast_rows"]
    assert latest_forecasts(lake_settings, source="csv:nothing").empty


def test_holiday_spike_shows_in_the_holidays_component(result: ForecastResult) -> None:
    frame = pq.read_table(result.forecasts_path).to_pandas()
    red = frame[frame["term"] == "red"].assign(ds=lambda f: pd.to_datetime(f["ds"])).set_index("ds")
    assert red.loc["2025-02-14", "holiday"] == "valentines_day"
    assert red.loc["2025-02-14", "holidays"] > 0.5 * SPIKE
    assert red.loc["2025-03-05", "holidays"] == 0.0


def test_terms_without_enough_data_are_reported_with_reasons(result: ForecastResult) -> None:
    reasons = dict(zip(result.set_aside["term"], result.set_aside["reason"], strict=True))
    assert reasons["newbie"].startswith("too little history: 40 periods")
    assert reasons["rarebrand"].startswith("too sparse")
    assert result.metrics["n_terms"] == 6 and result.metrics["n_set_aside"] == 2
    assert "newbie" in (result.report_dir / "set_aside.csv").read_text()


def test_run_is_logged_to_mlflow(result: ForecastResult, lake_settings: Settings) -> None:
    client = mlflow.MlflowClient(tracking_uri(lake_settings))
    run = client.get_run(result.run_id)
    assert client.get_experiment(run.info.experiment_id).name == lake_settings.forecast_experiment
    assert result.config.experiment == "trend_forecast"  # the setting's default
    assert run.info.status == "FINISHED"
    assert run.data.params["model.horizon"] == str(HORIZON)
    assert run.data.params["window_until"] == str(LAST_DAY)
    metrics = run.data.metrics
    assert 0.0 <= metrics["share_beating_seasonal_naive"] <= 1.0
    assert metrics["n_forecast"] == 4 and metrics["n_set_aside"] == 2
    assert metrics["n_input_rows"] > 0 and "mean_mase_prophet" in metrics and "mean_smape_naive" in metrics
    artifacts = {item.path for item in client.list_artifacts(result.run_id)}
    assert {"backtest.csv", "backtest_summary.csv", "rising.csv", "rising.json", "set_aside.csv",
            "config.json", "plots"} <= artifacts
    plots = {item.path for item in client.list_artifacts(result.run_id, "plots")}
    assert "plots/overview.png" in plots and len(plots) == 3  # top rising, top fading, overview


def test_cli_prints_the_backtest_table_of_a_real_csv_export(spark, stack_settings: Settings,
                                                             data_dir: Path) -> None:
    """`glamcast forecast --input-csv` on the monthly retail series, in-process (the session's Spark)."""
    from typer.testing import CliRunner

    from glamcast.cli import app

    csv = data_dir / "prophet-examples" / "example_retail_sales.csv"
    outcome = CliRunner().invoke(app, [
        "forecast", "--input-csv", str(csv), "--freq", "MS", "--uncertainty-samples", "50",
        "--no-write-lake", "--top-plots", "0",
    ], env={"GLAMCAST_STATE_DIR": str(stack_settings.state_path), "COLUMNS": "200"})
    assert outcome.exit_code == 0, outcome.output
    assert "Backtest" in outcome.output and "seasonal_naive" in outcome.output
    assert "series: example_retail_sales" in outcome.output
    assert "cmdstanpy" not in outcome.output  # the fit's chatter stays out of sight
    assert not spark.sparkContext._jsc.sc().isStopped()  # the CLI left the caller's session alone


def test_spark_submit_runs_the_job_module(stack_settings: Settings) -> None:
    """`spark-submit jobs/forecast_trends.py` reaches the same options as `glamcast forecast`."""
    command = [str(Path(sys.executable).parent / "spark-submit"), "--master", "local[1]",
               str(REPO_ROOT / "jobs" / "forecast_trends.py"), "--help"]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "COLUMNS": "200"}
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "--input-csv" in done.stdout and "--interval-width" in done.stdout


def test_spark_submit_master_wins_over_the_setting(tmp_path: Path) -> None:
    """Under spark-submit the job runs on the master it was submitted to, even where
    GLAMCAST_SPARK_MASTER names another (as in `prod`, where the setting is required)."""
    script = tmp_path / "which_master.py"
    script.write_text(
        "from glamcast.core.settings import Settings\n"
        "from glamcast.platform.spark import spark_session\n"
        "spark = spark_session(Settings())\n"
        "print('MASTER', spark.sparkContext.master)\n"
        "spark.stop()\n"
    )
    command = [str(Path(sys.executable).parent / "spark-submit"), "--master", "local[1]",
               str(script)]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "GLAMCAST_SPARK_MASTER": "local[2]",
           "GLAMCAST_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MASTER local[1]" in done.stdout.splitlines()
