"""The trends API against one real forecast run (Spark + the session's MLflow) over a simulated lake.

Planted terms: a rising hashtag, a fading finish, a steady shade family with a Valentine's Day
spike, and a steady hashtag that shares the shade family's name (`red`), so a bare `red` is
ambiguous. One run of `forecast_trends` serves the whole module; the app reads it back from the
lake and the run's MLflow artifact, as it would in production.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from testkit import (
    PLANTED_FIRST_DAY,
    PLANTED_LAST_DAY,
    PLANTED_SPIKE,
    planted_trend_counts,
    write_trend_counts,
)

from glamcast.core.settings import Settings
from glamcast.serving.app import create_app
from glamcast.serving.trends import NO_RUN_NOTE, TrendStore
from jobs.forecast_trends import ForecastResult, ForecastTrendsConfig, forecast_trends
from models.trend_forecast import TrendForecastConfig

pytestmark = pytest.mark.integration

FIRST_DAY, LAST_DAY = PLANTED_FIRST_DAY, PLANTED_LAST_DAY  # 212 days, Valentine's Day inside
HORIZON = 14
SPIKE = PLANTED_SPIKE


@pytest.fixture(scope="module")
def lake_settings(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("trends-api-lake")
    # The job test's planted terms (their classes are checked there); its steady `lipstick` is
    # the hashtag `red` here.
    write_trend_counts(str(root), planted_trend_counts(("hashtag", "red"), short_and_sparse=False))
    return stack_settings.model_copy(update={"lake_uri": str(root)})


@pytest.fixture(scope="module")
def run(spark, lake_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> ForecastResult:
    config = ForecastTrendsConfig(
        model=TrendForecastConfig(horizon=HORIZON, uncertainty_samples=100, n_cutoffs=2,
                                  backtest_uncertainty_samples=20),
        since=FIRST_DAY, until=LAST_DAY, top_plots=0, publish_alerts=False,
        report_dir=tmp_path_factory.mktemp("trends-api-report"),  # not the app's: read from MLflow
    )
    return forecast_trends(spark, lake_settings, config)


@pytest.fixture(scope="module")
def client(lake_settings: Settings, run: ForecastResult):
    app = create_app(lake_settings)
    app.state.trend_store = TrendStore(lake_settings, recheck_s=3600)  # no re-listing in between
    with TestClient(app, headers={"X-API-Key": "dev-marketing"}) as test_client:
        yield test_client


def test_list_ranks_the_planted_terms_with_scores_and_backtest(client, run: ForecastResult) -> None:
    answer = client.get("/v1/trends", params={"limit": 50})
    assert answer.status_code == 200
    body = answer.json()
    assert body["run"] == {"run_id": run.run_id, "source": "trend_counts", "since": str(FIRST_DAY),
                           "origin": str(LAST_DAY), "horizon_days": HORIZON,
                           "generated_at": body["run"]["generated_at"]}
    assert body["status"] is None and body["note"] is None and body["count"] == body["total"] == 4
    classes = {(t["term_type"], t["term"]): t["trend_class"] for t in body["terms"]}
    assert classes == {("hashtag", "glassskin"): "rising", ("finish", "metallic"): "fading",
                       ("shade_family", "red"): "steady", ("hashtag", "red"): "steady"}
    assert body["terms"][0]["trend_class"] == "rising"
    assert [t["trend_class"] for t in body["terms"]][-1] == "fading"
    expected = run.rising.set_index(["term_type", "term"])
    for term in body["terms"]:
        row = expected.loc[(term["term_type"], term["term"])]
        assert term["growth_score"] == pytest.approx(row["growth_score"])
        assert -1 <= term["growth_score"] <= 1
        quality = term["quality"]
        assert quality["prophet_mase"] == pytest.approx(row["prophet_mase"])
        assert quality["seasonal_naive_smape"] == pytest.approx(row["seasonal_naive_smape"])
        assert quality["beats_seasonal_naive"] == bool(row["beats_seasonal_naive"])
        assert (quality["trust"], quality["trust_reason"]) == (row["trust"], row["trust_reason"])
        if quality["trust"] == "trusted":  # the label's three checks, as the API shows them
            assert quality["prophet_mase"] < min(1.0, quality["seasonal_naive_mase"])
            assert 0.65 <= quality["band_coverage"] <= 0.95
        assert 0 <= quality["band_coverage"] <= 1
        evidence = term["evidence"]
        assert evidence["growth_4w"] == pytest.approx(row["growth_4w"])
        assert evidence["growth_8w"] == pytest.approx(row["growth_8w"])
        assert evidence["forecast_slope"] == pytest.approx(row["trend_change"])
        assert evidence["holiday"] is None  # no seasonal spike among them
    glassskin = next(t for t in body["terms"] if t["term"] == "glassskin")
    assert glassskin["evidence"]["growth_8w"] == pytest.approx(1.0, abs=0.35)  # planted ×2 / 8 weeks


def test_status_and_limit_filter_and_bad_values_are_422(client) -> None:
    rising = client.get("/v1/trends", params={"status": "rising", "limit": 20}).json()
    assert [t["term"] for t in rising["terms"]] == ["glassskin"] and rising["status"] == "rising"
    fading = client.get("/v1/trends", params={"status": "fading"}).json()
    assert [t["term"] for t in fading["terms"]] == ["metallic"]
    steady = client.get("/v1/trends", params={"status": "steady", "limit": 1}).json()
    assert (steady["count"], steady["total"]) == (1, 2)
    hashtags = client.get("/v1/trends", params={"term_type": "brand"}).json()
    assert hashtags["terms"] == [] and hashtags["note"] == f"No terms in the run of {LAST_DAY} of type brand."
    for params in ({"status": "booming"}, {"limit": 0}, {"limit": 501}, {"limit": "many"}):
        answer = client.get("/v1/trends", params=params)
        assert answer.status_code == 422, params
        assert answer.json()["detail"][0]["loc"][0] == "query"


def test_search_and_csv_downloads_of_the_table_and_of_a_term(client, run: ForecastResult) -> None:
    found = client.get("/v1/trends", params={"q": "RED"}).json()
    assert sorted((t["term_type"], t["term"]) for t in found["terms"]) == [
        ("hashtag", "red"), ("shade_family", "red")]
    none = client.get("/v1/trends", params={"q": "zzz", "status": "rising"}).json()
    assert none["terms"] == [] and none["note"] == f"No rising terms matching 'zzz' in the run of {LAST_DAY}."

    table = client.get("/v1/trends.csv", params={"term_type": "hashtag"})
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    assert f'filename="trends-{LAST_DAY}.csv"' in table.headers["content-disposition"]
    lines = table.text.strip().splitlines()
    assert lines[0].startswith("trend_class,rank,term_type,term,growth_2w,growth_4w,growth_8w")
    assert "trust,trust_reason" in lines[0]
    assert [line.split(",")[3] for line in lines[1:]] == ["glassskin", "red"]  # ranked

    forecast = client.get("/v1/trends/metallic/forecast.csv",
                          params={"history_days": 10, "horizon_days": 7})
    assert forecast.status_code == 200
    rows = forecast.text.strip().splitlines()
    assert rows[0].startswith("term_type,term,ds,y,yhat,yhat_lower,yhat_upper")
    assert len(rows) == 1 + 10 + 7
    assert rows[1].startswith(f"finish,metallic,{LAST_DAY - timedelta(days=9)},")
    assert rows[-1].startswith(f"finish,metallic,{LAST_DAY + timedelta(days=7)},,")  # no actual ahead
    assert client.get("/v1/trends/nothing/forecast.csv").status_code == 404
    assert client.get("/v1/trends/red/forecast.csv").status_code == 409


def test_term_has_history_forecast_band_and_components(client) -> None:
    answer = client.get("/v1/trends/glassskin", params={"history_days": 30})
    assert answer.status_code == 200
    body = answer.json()
    assert body["summary"]["term"] == "glassskin" and body["summary"]["rank"] == 1
    points = body["forecast"]
    assert len(points) == 30 + HORIZON
    assert points[0]["ds"] == str(LAST_DAY - timedelta(days=29))
    assert points[-1]["ds"] == str(LAST_DAY + timedelta(days=HORIZON))
    assert [p["is_forecast"] for p in points] == [False] * 30 + [True] * HORIZON
    assert all(p["y"] is None for p in points[30:]) and all(p["y"] is not None for p in points[:30])
    assert all(p["yhat_lower"] <= p["yhat"] <= p["yhat_upper"] for p in points)
    assert all(p["outside_band"] == (p["y"] is not None and not p["yhat_lower"] <= p["y"] <= p["yhat_upper"])
               for p in points)
    # rising: the forecast ends above the last fortnight of history
    assert points[-1]["yhat"] > np.mean([p["y"] for p in points[16:30]])
    assert body["holidays"] == []  # 2 to 14 April: no beauty holiday


def test_holiday_windows_in_range_and_ambiguous_terms(client) -> None:
    ambiguous = client.get("/v1/trends/red")
    assert ambiguous.status_code == 409
    assert "hashtag, shade_family" in ambiguous.json()["detail"]
    answer = client.get("/v1/trends/red", params={"term_type": "shade_family", "history_days": 60})
    assert answer.status_code == 200
    body = answer.json()
    assert body["holidays"] == [{"name": "valentines_day", "start": "2025-02-07", "end": "2025-02-14"}]
    spike = next(p for p in body["forecast"] if p["ds"] == "2025-02-14")
    assert spike["holiday"] == "valentines_day" and spike["holidays"] > 0.5 * SPIKE
    whole = client.get("/v1/trends/red", params={"term_type": "shade_family", "history_days": 3660}).json()
    assert whole["forecast"][0]["ds"] == str(FIRST_DAY)  # no more history than the run has
    assert [w["name"] for w in whole["holidays"]] == [
        "singles_day", "black_friday", "cyber_monday", "christmas", "chinese_new_year", "valentines_day"]


def test_unknown_term_is_404_with_a_message(client) -> None:
    answer = client.get("/v1/trends/velvetlips")
    assert answer.status_code == 404
    assert answer.json()["detail"] == (f"term 'velvetlips' was not forecast in the run of {LAST_DAY}; "
                                       "GET /v1/trends lists the terms that were")
    assert client.get("/v1/trends/glassskin", params={"term_type": "brand"}).status_code == 404
    assert client.get("/v1/trends/glassskin", params={"history_days": 0}).status_code == 422


def test_reads_are_cached_and_a_newer_run_is_picked_up(lake_settings: Settings, run: ForecastResult,
                                                       tmp_path: Path) -> None:
    store = TrendStore(lake_settings, recheck_s=0)
    app = create_app(lake_settings)
    app.state.trend_store = store
    newer = Path(run.forecasts_path).parent.parent / f"date={LAST_DAY + timedelta(days=7)}"
    try:
        with TestClient(app, headers={"X-API-Key": "dev-marketing"}) as client:
            for _ in range(3):
                assert client.get("/v1/trends").json()["run"]["origin"] == str(LAST_DAY)
            assert store.loads == 1  # three answers, one read of the run

            # a newer run lands: same MLflow run (its list is the same), a later origin
            table = pq.read_table(run.forecasts_path).to_pandas()
            table["origin"] = LAST_DAY + timedelta(days=7)
            (newer / "source=trend_counts").mkdir(parents=True)
            table.to_parquet(newer / "source=trend_counts" / "part-0.parquet", index=False)
            assert client.get("/v1/trends").json()["run"]["origin"] == str(LAST_DAY + timedelta(days=7))
            assert store.loads == 2

            # a run whose ranked list MLflow does not have: 503 that names the run
            table["run_id"] = "0" * 32
            table.to_parquet(newer / "source=trend_counts" / "part-0.parquet", index=False)
            lost = client.get("/v1/trends")
            assert lost.status_code == 503 and lost.headers["Retry-After"] == "30"
            assert f"forecast run {'0' * 32} cannot be read from MLflow" in lost.json()["detail"]
    finally:
        shutil.rmtree(newer, ignore_errors=True)


def test_before_the_first_run_the_list_is_empty_with_a_note(stack_settings: Settings,
                                                             tmp_path: Path) -> None:
    settings = stack_settings.model_copy(update={"lake_uri": str(tmp_path / "empty-lake")})
    with TestClient(create_app(settings), headers={"X-API-Key": "dev-marketing"}) as client:
        answer = client.get("/v1/trends", params={"status": "rising"})
        assert answer.status_code == 200
        assert answer.json() == {"run": None, "status": "rising", "count": 0, "total": 0,
                                 "terms": [], "note": NO_RUN_NOTE}
        missing = client.get("/v1/trends/glassskin")
        assert missing.status_code == 404 and NO_RUN_NOTE in missing.json()["detail"]
