"""The recommender job end to end: small simulated lake → MLflow runs → registry → champion.

One real MLflow server (the session stack), the session SparkSession, Spark ALS and the torch
model through TorchDistributor. The first run registers version 1 and takes the champion alias;
a deliberately worse second run (through the CLI) registers version 2 and leaves the alias; the
champion loads in a fresh process and answers for a known and an unknown user.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import mlflow
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from glamcast.cli import app
from glamcast.core import topics
from glamcast.core.events import CatalogEvent, Rejection, TryOnEvent, decode_event
from glamcast.core.names import CATALOG, TRYON
from glamcast.core.settings import Settings
from glamcast.platform import lake
from glamcast.platform.model_registry import tracking_uri
from glamcast.simulator import SimulationConfig, World
from jobs.train_recommender import (
    AlsConfig,
    TrainRecommenderConfig,
    TrainRecommenderResult,
    train_recommender,
)
from models.factorization import FactorizationConfig

pytestmark = pytest.mark.integration

SIMULATION = SimulationConfig(users=250, days=21, start=date(2026, 2, 2), seed=11, products=120)


def write_lake(world: World, root: str, batch: int = 5_000) -> dict[str, int]:
    """The world's try-on and catalogue records into the lake, as the stream's lake sink writes
    them (one partition, files named by offset range); returns the events written per dataset."""
    models = {topics.TRYON: TryOnEvent, topics.CATALOG: CatalogEvent}
    pending: dict[str, list] = {topic: [] for topic in models}
    offsets = dict.fromkeys(models, 0)
    written = dict.fromkeys(models, 0)

    def flush(topic: str) -> None:
        events = pending[topic]
        if events:
            first = offsets[topic] - len(events)
            dataset = lake.TOPIC_DATASETS[topic]
            table = lake.table_from_events(dataset, events, partition=0,
                                           offsets=list(range(first, offsets[topic])))
            lake.write_event_batch(root, dataset, topic, 0, table)
            written[topic] += len(events)
            pending[topic] = []

    for record in world.records():
        if record.topic not in models:
            continue
        event = decode_event(models[record.topic], record.value)
        assert not isinstance(event, Rejection), event
        pending[record.topic].append(event)
        offsets[record.topic] += 1
        if len(pending[record.topic]) >= batch:
            flush(record.topic)
    for topic in models:
        flush(topic)
    return {lake.TOPIC_DATASETS[topic]: count for topic, count in written.items()}


@pytest.fixture(scope="module")
def lake_settings(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("recommender-lake")
    written = write_lake(World.build(SIMULATION), str(root))
    assert written[TRYON] > 5_000 and written[CATALOG] == SIMULATION.products
    return stack_settings.model_copy(update={"lake_uri": str(root)})


@pytest.fixture(scope="module")
def model_name(lake_settings: Settings) -> str:
    return f"{lake_settings.recommender_model_name}-it-{os.getpid()}"


@pytest.fixture(scope="module")
def first_run(spark, lake_settings: Settings, model_name: str) -> TrainRecommenderResult:
    config = TrainRecommenderConfig(
        source="tryon", registered_model=model_name, experiment="recommender-it",
        als=AlsConfig(rank=16, max_iter=5), torch=FactorizationConfig(dim=32, epochs=30),
    )
    stages: list[str] = []
    result = train_recommender(spark, lake_settings, config,
                               on_progress=lambda stage, done, total: stages.append(stage))
    assert stages[0] == "reading events" and stages[-1] == "done"
    assert {"fitting als", "fitting torch", "registering", "writing embeddings"} <= set(stages)
    return result


@pytest.fixture(scope="module")
def client(lake_settings: Settings) -> Iterator[mlflow.MlflowClient]:
    mlflow.set_tracking_uri(tracking_uri(lake_settings))
    yield mlflow.MlflowClient()


def test_first_run_is_logged_registered_and_champion(
    first_run: TrainRecommenderResult, client: mlflow.MlflowClient, model_name: str
) -> None:
    parent = client.get_run(first_run.run_id)
    for key in ("rows.events", "rows.train_interactions", "rows.truth_pairs",
                "popularity.ndcg_at_10", "als.ndcg_at_10", "torch.ndcg_at_10", "torch.train_s"):
        assert key in parent.data.metrics, key
    assert parent.data.params["data.split"] == "time"
    assert parent.data.params["data.cutoff"] and parent.data.params["data.first_event"]
    assert parent.data.tags["promoted"] == "true"
    assert parent.data.tags["registered_version"] == "1"
    assert parent.data.metrics["promoted"] == 1.0

    assert set(first_run.child_runs) == {"als", "torch"}
    for name, run_id in first_run.child_runs.items():
        run = client.get_run(run_id)
        metrics, params = run.data.metrics, run.data.params
        for key in ("ndcg_at_10", "precision_at_10", "recall_at_10", "map_at_10",
                    "map_legacy_at_10", "coverage_at_10", "train_s", "lift_over_popularity",
                    "rows.events", "rows.eval_users"):
            assert key in metrics, (name, key)
        assert 0.0 < metrics["ndcg_at_10"] <= 1.0
        assert any(key.startswith("ndcg_at_10.skin_tone_") for key in metrics)
        assert params["model"] == name and params["data.cutoff"] == parent.data.params["data.cutoff"]
        assert ("torch.dim" if name == "torch" else "als.rank") in params
        artifacts = {item.path for item in client.list_artifacts(run_id)}
        assert {"plots", "evaluation", "config"} <= artifacts
        assert {item.path for item in client.list_artifacts(run_id, "plots")} >= {
            "plots/metrics_by_k.png"}
        assert "evaluation/ndcg_by_skin_tone.csv" in {
            item.path for item in client.list_artifacts(run_id, "evaluation")}

    registration = first_run.registration
    assert registration.model_name == model_name
    assert registration.version == 1 and registration.promoted
    assert registration.champion_before is None and registration.champion_score_before is None
    version = client.get_model_version_by_alias(model_name, "champion")
    assert version.version == "1"
    assert version.run_id == first_run.child_runs[first_run.best]
    assert float(version.tags["holdout_ndcg_at_10"]) == pytest.approx(
        first_run.metrics[first_run.best]["ndcg@10"], abs=1e-6)


def test_torch_beats_popularity_and_serves_every_skin_tone(
    first_run: TrainRecommenderResult,
) -> None:
    """Issue 5's simulated-data must-show, bounded for this small world (250 people, 21 days,
    30 epochs; measured here: 1.31x popularity, the holdout groups of 15+ people at 0.97-1.28x the
    overall NDCG). At demo scale (2,000 people x 60 days, job defaults) the bench measured 1.67x
    and no skin tone below 0.85x (docs/recommender.md)."""
    torch_ndcg = first_run.metrics["torch"]["ndcg@10"]
    assert torch_ndcg >= 1.15 * first_run.metrics["popularity"]["ndcg@10"]
    groups = first_run.by_group["torch"]
    tones = groups[groups["group"].astype(str) != "unknown"]
    assert len(tones) >= 8  # consented users of most Monk tones are in the holdout
    sizable = tones[tones["users"] >= 15]  # smaller groups swing by a user or two
    assert len(sizable) >= 3
    assert (sizable["ndcg"] >= 0.8 * torch_ndcg).all(), sizable


def test_champion_embeddings_are_written_for_feast(
    first_run: TrainRecommenderResult, lake_settings: Settings
) -> None:
    root = Path(lake_settings.lake_root)
    users = pq.read_table(root / "embeddings" / "users").to_pandas()
    items = pq.read_table(root / "embeddings" / "items").to_pandas()
    assert list(users.columns) == ["user_id", "embedding", "event_timestamp", "model_version"]
    assert list(items.columns) == ["product_id", "embedding", "bias", "event_timestamp",
                                   "model_version"]
    assert users["user_id"].is_unique and len(users) == first_run.rows["rows.users"]
    assert len(items) == first_run.rows["rows.items"]
    assert (users["model_version"] == 1).all()
    assert str(users["event_timestamp"].dt.tz) == "UTC"
    assert len({len(vector) for vector in users["embedding"]}) == 1


def test_worse_run_through_the_cli_does_not_take_the_alias(
    first_run: TrainRecommenderResult, lake_settings: Settings, client: mlflow.MlflowClient,
    model_name: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GLAMCAST_LAKE_URI", lake_settings.lake_root)
    monkeypatch.setenv("GLAMCAST_STATE_DIR", str(lake_settings.state_dir))
    outcome = CliRunner().invoke(app, [
        "train", "recommender", "--models", "torch", "--epochs", "1", "--dim", "2",
        "--lr", "0.000001", "--model-name", model_name, "--experiment", "recommender-it",
        "--no-embeddings",
    ])
    assert outcome.exit_code == 0, outcome.output
    assert "champion stays v1" in outcome.output
    second = client.get_model_version(model_name, "2")
    parent = client.get_run(client.get_run(second.run_id).data.tags["mlflow.parentRunId"])
    assert parent.data.tags["promoted"] == "false" and parent.data.metrics["promoted"] == 0.0
    # the champion was scored on the second run's holdout
    assert "champion_before.ndcg_at_10" in parent.data.metrics
    assert client.get_model_version_by_alias(model_name, "champion").version == "1"


def test_champion_pyfunc_in_a_fresh_process(
    first_run: TrainRecommenderResult, lake_settings: Settings, model_name: str
) -> None:
    events = lake.read_dataset(lake_settings, TRYON)
    cutoff = pd.Timestamp(first_run.window["data.cutoff"])
    train = events[events["ts"] < cutoff]
    known = train["user_id"].value_counts().index[0]
    script = (
        "import json, sys, mlflow, pandas as pd\n"
        f"model = mlflow.pyfunc.load_model('models:/{model_name}@champion')\n"
        f"out = model.predict(pd.DataFrame({{'user_id': ['{known}', 'nobody-xyz'], 'k': [5, 4]}}))\n"
        "print(json.dumps(out.to_dict('records')))\n"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri(lake_settings)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = pd.DataFrame(json.loads(done.stdout.strip().splitlines()[-1]))
    mine = rows[rows["user_id"] == known]
    assert mine["rank"].tolist() == [1, 2, 3, 4, 5]
    assert mine["source"].eq("model").all()
    assert not set(mine["product_id"]) & set(train.loc[train["user_id"] == known, "product_id"])
    assert mine["score"].is_monotonic_decreasing
    stranger = rows[rows["user_id"] == "nobody-xyz"]
    assert len(stranger) == 4 and stranger["source"].eq("popularity").all()
    popular = train[train["action"] != "dismiss"].groupby("product_id")["user_id"].nunique()
    assert stranger["product_id"].iloc[0] in set(popular.nlargest(3).index)


def test_config_defaults_name_the_platform_model() -> None:
    config = TrainRecommenderConfig()
    assert config.registered_model is None and config.experiment is None  # from the settings
    settings = Settings()
    assert settings.recommender_model_name == "glamcast-recommender"
    assert settings.recommender_experiment == "recommender"
    assert config.split_kind == "time" and TrainRecommenderConfig(source="movielens").split_kind == "stratified"
