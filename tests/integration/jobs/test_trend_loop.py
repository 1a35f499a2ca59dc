"""Issue 19's loop end to end: forecast run → trend looks stored → GET /v1/trend-looks → a
consented person's feed carries a look with "rising: <term>".

The session stack (MLflow) and the session SparkSession. A small simulated world gives the lake
its catalogue and try-ons (the consented faces); `trend_counts` hold a planted rising shade family
(`coral`, ×3 over the last 8 weeks) and a steady one (`nude`). The look GAN champion is a
stand-in pyfunc with the real one's output columns under a name of this module (other tests
promote the real name): per request it makes `n` looks whose lips alternate between a coral and a
nude shade of the catalogue, so which looks are kept is known exactly.
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from testkit import write_trend_counts

from glamcast.core.names import CHAMPION
from glamcast.core.settings import Settings
from glamcast.core.shades import shade_families_from_hex_array
from glamcast.platform import lake
from glamcast.platform.feed_engine import FeedEngine
from glamcast.platform.model_registry import tracking_uri
from glamcast.platform.trend_looks import consented_faces, current_catalog, latest_trend_looks
from glamcast.serving.app import create_app
from glamcast.simulator import SimulationConfig, World
from glamcast.simulator.looks import write_world_lake
from jobs.forecast_trends import ForecastTrendsConfig, forecast_trends
from models.trend_forecast import RISING, STEADY, TrendForecastConfig

pytestmark = pytest.mark.integration

FIRST_DAY, LAST_DAY = date(2025, 1, 1), date(2025, 3, 31)  # 90 days: short fits
SIMULATION = SimulationConfig(users=120, days=4, start=date(2025, 3, 28), seed=29, products=120,
                              looks=12, posts_per_day=10)
REGION_CATEGORIES = {"lips": "lipstick", "eyes": "eyeshadow", "cheeks": "blush", "brows": "brow"}


class AlternatingLooks(mlflow.pyfunc.PythonModel):
    """A stand-in look GAN: look i of a request has coral lips when i is even, nude when odd."""

    def __init__(self, regions: dict[str, tuple[str, str]], nude_lips: tuple[str, str]) -> None:
        self.regions, self.nude_lips = regions, nude_lips  # region → (shade_hex, finish)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        rows = []
        for request, n in enumerate(model_input["n"]):
            for look in range(int(n)):
                for region, (shade, finish) in self.regions.items():
                    if region == "lips" and look % 2:
                        shade, finish = self.nude_lips
                    rows.append({"request": request, "look": look, "region": region,
                                 "category": REGION_CATEGORIES[region], "finish": finish,
                                 "intensity": 0.6, "shade_hex": shade, "product_id": None})
        return pd.DataFrame(rows)


def planted_counts() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    days = pd.date_range(FIRST_DAY, LAST_DAY, freq="D")
    t = np.arange(len(days))
    week = 1 + 0.2 * np.sin(2 * np.pi * t / 7)
    change = np.clip(t - (len(days) - 56), 0, None)
    rows = []
    for term, level in (("coral", 40 * week * np.exp(change / 50)), ("nude", 60 * week)):
        for day, count in zip(days, rng.poisson(level), strict=True):
            rows.append((day + pd.Timedelta(hours=12), "shade_family", term, "tryon",
                         float(count), int(count)))
    frame = pd.DataFrame(rows, columns=[lake.HOUR_COL, "term_type", "term", lake.SOURCE_COL,
                                        lake.WEIGHT_COL, "events"])
    frame[lake.HOUR_COL] = frame[lake.HOUR_COL].dt.tz_localize("UTC")
    return frame


def _product(catalog: pd.DataFrame, category: str, family: str | None = None) -> tuple[str, str]:
    rows = catalog[catalog["category"] == category]
    if family is not None:
        rows = rows[shade_families_from_hex_array(rows["shade_hex"]) == family]
    assert len(rows), f"the world has no {family or ''} {category}"
    return str(rows["shade_hex"].iloc[0]), str(rows["finish"].iloc[0])


@pytest.fixture(scope="module")
def loop(stack_settings: Settings, spark, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("trend-loop-lake")
    write_world_lake(str(root), World.build(SIMULATION))
    write_trend_counts(str(root), planted_counts())
    name = f"test-trend-loop-gan-{uuid.uuid4().hex[:8]}"
    settings = stack_settings.model_copy(update={
        "lake_uri": str(root), "look_gan_model_name": name, "trend_looks_oversample": 6,
        "trend_looks_per_condition": 2, "recommender_model_name": f"none-{name}",
        "state_dir": tmp_path_factory.mktemp("trend-loop-state")})
    catalog = current_catalog(settings)
    regions = {region: _product(catalog, category)
               for region, category in REGION_CATEGORIES.items()}
    regions["lips"] = _product(catalog, "lipstick", "coral")
    nude = _product(catalog, "lipstick", "nude")
    mlflow.set_tracking_uri(tracking_uri(settings))
    mlflow.set_experiment(f"trend-loop-{name}")
    with mlflow.start_run():
        mlflow.pyfunc.log_model(name="model", python_model=AlternatingLooks(regions, nude),
                                registered_model_name=name, pip_requirements=[])
    mlflow.MlflowClient(tracking_uri(settings)).set_registered_model_alias(name, CHAMPION, "1")
    config = ForecastTrendsConfig(
        model=TrendForecastConfig(horizon=14, min_train_periods=28, cutoff_spacing=7,
                                  recent_periods=14, baseline_periods=28,
                                  uncertainty_samples=100), since=FIRST_DAY,
        until=LAST_DAY, term_types=("shade_family",), top_plots=0, publish_alerts=False,
        report_dir=tmp_path_factory.mktemp("trend-loop-report"))
    result = forecast_trends(spark, settings, config)
    return settings, result


def test_the_forecast_run_stores_looks_for_its_rising_family(loop) -> None:
    settings, result = loop
    classes = dict(zip(result.rising["term"], result.rising["trend_class"], strict=True))
    assert classes == {"coral": RISING, "nude": STEADY}
    outcome = result.trend_looks
    assert outcome.skipped is None and outcome.model_version == 1
    assert outcome.terms["term"].tolist() == ["coral"]
    faces = consented_faces(settings)
    conditions = faces[["skin_tone", "undertone"]].drop_duplicates()
    # 6 looks asked per face condition, 3 with coral lips; 2 kept per condition, 4 regions each
    stored = latest_trend_looks(settings)
    assert len(stored) == len(conditions) * 2 * 4 == len(outcome.looks)
    assert set(stored["term"]) == {"coral"} and set(stored["trend_class"]) == {RISING}
    lips = stored[stored["region"] == "lips"]
    assert (shade_families_from_hex_array(lips["shade_hex"]) == "coral").all()
    assert stored["look_id"].nunique() == len(conditions) * 2
    assert result.metrics["n_trend_looks"] == len(conditions) * 2
    assert (Path(result.report_dir) / "trend_looks.json").is_file()


def test_trend_looks_are_served_per_the_contract(loop) -> None:
    settings, _ = loop
    faces = consented_faces(settings)
    with TestClient(create_app(settings), headers={"X-API-Key": "dev-marketing"}) as api:
        answer = api.get("/v1/trend-looks", params={"limit": 500})
        limited = api.get("/v1/trend-looks", params={"limit": 3})
        hostile = api.get("/v1/trend-looks", params={"limit": "many"})
        service = api.get("/v1/trend-looks", headers={"X-API-Key": "dev-service"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_version"] == 1 and body["generated_at"].endswith("Z")
    looks = body["looks"]
    shares = faces.groupby(["skin_tone", "undertone"]).size() / len(faces)
    assert len(looks) == 2 * len(shares)
    assert len({look["look_id"] for look in looks}) == len(looks)
    for look in looks:
        assert (look["term"], look["term_type"], look["trend_class"]) == (
            "coral", "shade_family", "rising")
        assert look["audience_share"] == pytest.approx(
            shares[(look["skin_tone"], look["undertone"])], abs=1e-4)
        assert [p["region"] for p in look["products"]] == ["lips", "eyes", "cheeks", "brows"]
        assert all(p["shade_hex"].startswith("#") and p["product_id"] for p in look["products"])
    assert [look["audience_share"] for look in looks] == sorted(
        (look["audience_share"] for look in looks), reverse=True)
    assert len(limited.json()["looks"]) == 3
    assert hostile.status_code == 422 and service.status_code == 403


def test_a_consented_persons_feed_carries_the_trend_look(loop) -> None:
    settings, _ = loop

    class NoStore:  # the online store is not part of this loop: pools rank without it
        def get_online_features(self, **_):
            raise RuntimeError("no online store in this test")

    engine = FeedEngine(settings, store=NoStore())
    engine.start()
    person = consented_faces(settings).iloc[0]
    feed = engine.feed(str(person["user_id"]), 20, features={
        "skin_tone": int(person["skin_tone"]), "undertone": str(person["undertone"])})
    looks = [item for item in feed.items if item.look_id and item.look_id.startswith("trend-")]
    assert looks, [item.model_dump() for item in feed.items]
    tag = f"-t{int(person['skin_tone'])}-{person['undertone']}-"
    assert all(tag in item.look_id for item in looks)
    assert all(item.reasons[0] == "rising: coral" for item in looks)
    # nobody else's face: a person without consented attributes gets no trend look
    cold = engine.feed("u-nobody", 20, features={})
    assert not [item for item in cold.items if item.look_id]


def test_an_empty_world_answers_no_looks(stack_settings: Settings, tmp_path: Path) -> None:
    settings = stack_settings.model_copy(update={"lake_uri": str(tmp_path / "lake"),
                                                 "state_dir": tmp_path})
    with TestClient(create_app(settings), headers={"X-API-Key": "dev-marketing"}) as api:
        answer = api.get("/v1/trend-looks")
    assert answer.status_code == 200
    assert answer.json() == {"generated_at": None, "model_version": None, "looks": []}
