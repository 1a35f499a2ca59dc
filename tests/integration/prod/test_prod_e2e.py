"""The `prod` profile end to end on real processes (`glamcast.platform.prod_local`).

A Spark standalone master and worker, moto's S3 server, an MLflow server on a new PostgreSQL
database with its artifacts in S3, the embedded broker, the machine's PostgreSQL (Feast SQL
registry) and Redis (Feast online store): a small world goes through simulate → a stream worker
into the lake and Redis → the recommender and the look GAN submitted with ``spark-submit
--master spark://...`` (client mode) → registry on PostgreSQL with artifacts in S3 → the forecast
job on the cluster → materialize on the cluster → ``GET /v1/feed`` from Redis with the champion.

Every Spark job's event log must show its tasks finished on the worker's executors (executor
ids other than ``driver``), the torch training included (TorchDistributor with local_mode=False).
The lake is on ``s3a://`` only where pyspark has the hadoop-aws jars (the image); on the
development machines it is a directory the driver and the executors share (docs/runbook.md).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import mlflow
import pytest
import redis
from rich.console import Console

from glamcast import demo
from glamcast.core import topics
from glamcast.core.names import CATALOG, COMMERCE, EVENT_ID_COL, SOCIAL, TREND_COUNTS, TRYON
from glamcast.core.settings import Settings
from glamcast.platform import broker, lake, prod_local
from glamcast.platform.forecasts import latest_forecasts
from glamcast.simulator.config import SimulationConfig

#: The whole run on a loaded 2-core machine: services, a stream drain and four cluster jobs.
RUN_TIMEOUT_S = 3000
pytestmark = [pytest.mark.integration, pytest.mark.prod,
              pytest.mark.timeout(RUN_TIMEOUT_S + 300)]

@dataclass(frozen=True)
class SmallWorld(demo.DemoConfig):
    """The demo's stages on a smaller world: fewer social posts and products a day."""

    @property
    def world(self) -> SimulationConfig:
        return replace(super().world, posts_per_day=60, products=120)


#: Small enough for minutes on 2 cores; 100 days because the forecast backtest needs 12 weeks
#: of training before its two-week horizon.
WORLD = SmallWorld(users=80, days=100, seed=5, recommender_epochs=5, gan_steps=60,
                   forecast_term_types=("hashtag",))
JOB_ARGS = {
    "train_recommender": ["--source", "tryon", "--epochs", str(WORLD.recommender_epochs),
                          "--als-iter", "3", "--als-rank", "16", "--dim", "16"],
    "train_look_gan": ["--steps", str(WORLD.gan_steps), "--checkpoint-every", "0"],
    "forecast_trends": ["--horizon", "14", "--cutoffs", "1", "--term-type", "hashtag",
                        "--top-plots", "1", "--uncertainty-samples", "50"],
    "materialize": [],
}


@dataclass
class ProdRun:
    stack: prod_local.ProdLocal
    settings: Settings
    summary: demo.DemoSummary
    jobs: dict[str, Any] = field(default_factory=dict)  # job → CompletedProcess
    tasks: dict[str, dict[str, int]] = field(default_factory=dict)  # job → executor → tasks
    seconds: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # job → spark.glamcast.tag


@pytest.fixture(scope="module")
def prod_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[ProdRun]:
    state_dir = tmp_path_factory.mktemp("prod-local")
    started = time.monotonic()
    stack = prod_local.up(state_dir)
    suffix = os.urandom(4).hex()
    settings = stack.settings(topic_prefix=f"prod-{suffix}.", streams_app_id=f"prod-{suffix}",
                              streams_web_port=0, data_dir=data_dir)
    run = ProdRun(stack, settings, demo.DemoSummary())
    run.seconds["up"] = time.monotonic() - started
    console = Console(width=200, force_terminal=False)
    try:
        for name, stage in (("topics", demo.create_topics), ("features", demo.apply_features),
                            ("simulate", demo.simulate_world), ("read back", demo.count_arrivals)):
            began = time.monotonic()
            stage(settings, WORLD, console, run.summary)
            run.seconds[name] = time.monotonic() - began
        # The stream workers append pushed feature rows to Feast's Spark offline store from an
        # in-process Spark (as infra/compose.yaml runs them): a worker must not hold the
        # cluster's cores for its whole life. The demo's stage waits for the lake sink and for
        # the feature stage's try-ons (pushed to Redis).
        began = time.monotonic()
        demo.stream_into_lake(
            stack.settings(**{**_overrides(settings), "spark_master": "local[1]"}), WORLD,
            console, run.summary)
        run.seconds["stream"] = time.monotonic() - began
        env = stack.env()
        env.update({"GLAMCAST_TOPIC_PREFIX": settings.topic_prefix,
                    "GLAMCAST_STREAMS_APP_ID": settings.streams_app_id,
                    "GLAMCAST_DATA_DIR": str(data_dir), "COLUMNS": "200"})
        for job, args in JOB_ARGS.items():
            began = time.monotonic()
            tag = run.tags[job] = f"prod-e2e-{job}-{suffix}"
            completed = stack.spark_submit(job, args, env=env, tag=tag, timeout_s=1200)
            run.seconds[job] = time.monotonic() - began
            run.jobs[job] = completed
            assert completed.returncode == 0, (
                f"{job} failed\n{completed.stdout[-3000:]}\n{completed.stderr[-6000:]}")
            run.tasks[job] = prod_local.event_log_tasks(stack.event_log_dir, tag)
        run.seconds["total"] = time.monotonic() - started
        (state_dir / "timings.json").write_text(json.dumps(run.seconds, indent=2))
        print("prod e2e seconds:", json.dumps({k: round(v, 1) for k, v in run.seconds.items()}))
        yield run
    finally:
        prod_local.down(state_dir)


def _overrides(settings: Settings) -> dict[str, Any]:
    return {"topic_prefix": settings.topic_prefix, "streams_app_id": settings.streams_app_id,
            "streams_web_port": 0, "data_dir": settings.data_dir}


def test_the_stack_is_a_cluster_with_real_stores(prod_run: ProdRun) -> None:
    info = prod_local.master_info(prod_run.stack.spark_master_ui)
    assert info is not None and info["status"] == "ALIVE"
    assert [worker["state"] for worker in info["workers"]] == ["ALIVE"]
    assert prod_run.settings.profile.value == "prod"
    # The master ran the four submitted applications and nothing else (the stream worker's
    # Spark is in-process, `local[1]`).
    finished = info.get("completedapps", [])
    assert len(finished) == len(JOB_ARGS), [app["name"] for app in finished]
    assert all(app["state"] == "FINISHED" for app in finished), finished


def test_every_record_the_broker_holds_is_in_the_lake_once(prod_run: ProdRun) -> None:
    settings = prod_run.settings
    datasets = {topics.TRYON: TRYON, topics.SOCIAL: SOCIAL,
                topics.COMMERCE: COMMERCE, topics.CATALOG: CATALOG}
    held = broker.count_records(settings, [settings.topic_name(name) for name in datasets],
                                idle_ms=1500)
    assert sum(held.values()) > 2_000
    for topic_name, dataset in datasets.items():
        stored = lake.read_dataset(settings, dataset, columns=[EVENT_ID_COL])
        assert len(stored) == stored[EVENT_ID_COL].nunique() == held[settings.topic_name(topic_name)], dataset
    assert len(lake.read_dataset(settings, TREND_COUNTS)) > 0


@pytest.mark.parametrize("job", list(JOB_ARGS))
def test_each_job_ran_its_tasks_on_the_workers_executors(prod_run: ProdRun, job: str) -> None:
    tasks = prod_run.tasks[job]
    assert "driver" not in tasks, tasks
    assert sum(tasks.values()) >= 1 and all(executor.isdigit() for executor in tasks), tasks


@pytest.mark.parametrize("job", ["train_recommender", "train_look_gan"])
def test_torch_training_ran_in_an_executor_not_the_driver(prod_run: ProdRun, job: str) -> None:
    # TorchDistributor(local_mode=False) trains in one barrier task (mapInArrow, barrier=True);
    # in local mode there would be no barrier stage at all.
    barrier = prod_local.event_log_tasks(prod_run.stack.event_log_dir,
                                         prod_run.tags[job], barrier_only=True)
    assert list(barrier) == ["0"] and barrier["0"] == 1, barrier


def test_both_models_are_registered_on_postgres_with_artifacts_in_s3(prod_run: ProdRun) -> None:
    settings = prod_run.settings
    client = mlflow.MlflowClient(settings.mlflow_tracking_uri)
    for name in (settings.recommender_model_name, settings.look_gan_model_name):
        champion = client.get_model_version_by_alias(name, "champion")
        assert int(champion.version) >= 1
        run = client.get_run(champion.run_id)
        assert run.info.artifact_uri.startswith("mlflow-artifacts:"), run.info.artifact_uri
    keys = prod_local.s3_objects(prod_run.stack.s3_endpoint, prod_local.MLFLOW_BUCKET)
    assert any(key.endswith("MLmodel") for key in keys), keys[:20]
    import psycopg

    with psycopg.connect(prod_run.stack.mlflow_db_url) as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM registered_models")}
    assert {settings.recommender_model_name, settings.look_gan_model_name} <= names


def test_forecasts_have_ordered_bands(prod_run: ProdRun) -> None:
    forecasts = latest_forecasts(prod_run.settings)
    assert not forecasts.empty
    assert (forecasts["yhat_lower"] <= forecasts["yhat"]).all()
    assert (forecasts["yhat"] <= forecasts["yhat_upper"]).all()


def test_feast_lives_in_postgres_and_redis(prod_run: ProdRun) -> None:
    import psycopg

    with psycopg.connect(prod_run.stack.registry_db_url) as conn:
        tables = {row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
        assert "feature_views" in tables
        views = conn.execute("SELECT count(*) FROM feature_views WHERE project_id = %s",
                             (prod_run.settings.feast_project,)).fetchone()
    assert views is not None and views[0] >= 1
    client = redis.Redis.from_url(prod_run.stack.redis_url)
    try:
        keys = list(client.scan_iter(match=f"*{prod_run.settings.feast_project}", count=1000))
    finally:
        client.close()
    assert len(keys) >= 1


def test_the_feed_is_answered_from_redis_with_the_champion(prod_run: ProdRun) -> None:
    from fastapi.testclient import TestClient

    from glamcast.serving.app import create_app

    settings = prod_run.settings
    tryons = lake.read_dataset(settings, TRYON, columns=["user_id"])
    user = str(tryons["user_id"].value_counts().index[0])
    champion = mlflow.MlflowClient(settings.mlflow_tracking_uri).get_model_version_by_alias(
        settings.recommender_model_name, "champion")
    with TestClient(create_app(settings), headers={"X-API-Key": "prodlocal-service"}) as client:
        answer = client.get(f"/v1/feed/{user}", params={"k": 10})
    assert answer.status_code == 200, answer.text
    feed = answer.json()
    assert feed["personalized"] is True
    assert feed["model_version"] == int(champion.version)
    assert len(feed["items"]) == 10 and all(item["reasons"] for item in feed["items"])
    scores = [item["score"] for item in feed["items"]]
    assert scores == sorted(scores, reverse=True)
