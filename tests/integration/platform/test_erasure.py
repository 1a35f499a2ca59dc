"""Erasure of people on the real stack: a simulated day through the broker and a stream worker
(lake sink, feature and feed stages) into the lake and Feast, a champion recommender with its
embeddings (lake tables, materialized online); then three people are erased.

Checked after: no value anywhere in the lake names them (every string column of every file:
events, offline feature tables, embedding tables), the online store has nothing for them, nor
has the offline store's training set, the champion (a new version) does not know them, their
latest feed-topic value is a tombstone, the recommender job's training input holds none of their
events; their events produced again after the erasure never reach the lake, the feature store or
the feed topic; erasing them again (CLI function and the admin HTTP route) returns the same
receipt with nothing found again.

The recommender is a truncated SVD of the day's interactions logged as the platform's pyfunc
(the training job itself is covered by tests/integration/jobs/test_train_recommender.py); what
the next training run would see is `jobs.train_recommender.load_events`, the job's own read.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from testkit import end_offsets, eventually, produce, wait_committed, worker_exited

from glamcast.core import topics
from glamcast.core.names import CHAMPION, COMMERCE, TRYON
from glamcast.core.settings import Settings
from glamcast.platform import broker, features, lake
from glamcast.platform.erasure import erase, erasure_topic, read_erasures
from glamcast.platform.model_registry import load_model, tracking_uri
from glamcast.serving.app import create_app
from glamcast.simulator import SimulationConfig, simulate_to_kafka
from jobs.materialize import materialize
from jobs.train_recommender import TrainRecommenderConfig, load_events, write_embeddings
from models.recommender_pyfunc import ARTIFACT_KEY, FactorRecommender, RecommenderModel
from streams.app import ensure_topics
from streams.features import features_group
from streams.feed_updates import feed_group
from streams.ingestion import ingest_group
from streams.worker import start_workers, stop_workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

#: One simulated day (ending now) of a small world.
SIMULATION = SimulationConfig(users=60, days=1, seed=5, products=48, posts_per_day=40, looks=0)
USER_REFS = ["user_activity_fv:events_7d", "user_history_fv:purchased_products_7d",
             "user_embedding_fv:user_embedding"]


def fit_recommender(events: pd.DataFrame, dim: int = 8) -> FactorRecommender:
    """A truncated SVD of the (user × product) counts of the day's try-on events."""
    users = pd.Index(sorted(events["user_id"].unique()))
    items = pd.Index(sorted(events["product_id"].unique()))
    rows, cols = users.get_indexer(events["user_id"]), items.get_indexer(events["product_id"])
    counts = np.zeros((len(users), len(items)), np.float32)  # (users, items)
    np.add.at(counts, (rows, cols), 1.0)
    left, singular, right = np.linalg.svd(np.log1p(counts), full_matrices=False)
    dim = min(dim, len(singular))
    seen = np.unique(np.stack([rows, cols], axis=1), axis=0)
    return FactorRecommender.build(users.tolist(), items.tolist(), left[:, :dim] * singular[:dim],
                                   right[:dim].T, None, seen[:, 0], seen[:, 1],
                                   counts.sum(axis=0).astype(np.float64))


def register_champion(settings: Settings, recommender: FactorRecommender) -> int:
    mlflow.set_tracking_uri(tracking_uri(settings))
    mlflow.set_experiment(settings.recommender_experiment)
    with tempfile.TemporaryDirectory() as scratch, mlflow.start_run():
        artifact = recommender.save(Path(scratch) / "recommender.npz")
        info = mlflow.pyfunc.log_model(name="model", python_model=RecommenderModel(),
                                       artifacts={ARTIFACT_KEY: str(artifact)})
    name = settings.recommender_model_name
    version = int(mlflow.register_model(info.model_uri, name).version)
    mlflow.MlflowClient().set_registered_model_alias(name, CHAMPION, str(version))
    return version


def lake_mentions(settings: Settings, people: set[str]) -> dict[str, int]:
    """Per lake file, the values of any string column (lists too) that name one of `people`."""
    found = {}
    for relative in lake.list_files(settings.lake_root):
        table = pq.read_table(f"{settings.lake_root}/{relative}")
        hits = 0
        for column in table.columns:
            kind = column.type
            if pa.types.is_list(kind) and pa.types.is_string(kind.value_type):
                values = [v for row in column.to_pylist() if row for v in row]
            elif pa.types.is_string(kind):
                values = column.to_pylist()
            else:
                continue
            hits += sum(value in people for value in values)
        if hits:
            found[relative] = hits
    return found


def online_values(store, people: list[str]) -> dict[str, list]:
    values = store.get_online_features(
        features=USER_REFS, entity_rows=[{"user_id": user} for user in people]).to_dict()
    return {name: values[name] for name in ("events_7d", "purchased_products_7d", "user_embedding")}


def latest_feeds(settings: Settings) -> dict[str, bytes | None]:
    latest: dict[str, bytes | None] = {}
    for record in broker.read_all(settings, [settings.topic_name(topics.FEED)], idle_ms=1500):
        latest[record.key.decode()] = record.value
    return latest


def test_three_people_erased_everywhere_and_for_good(
    stack_settings: Settings, unique: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    settings = stack_settings.model_copy(update={
        "topic_prefix": f"er{unique}.", "streams_app_id": f"erasure-{unique}",
        "lake_uri": str(tmp_path / "lake"), "streams_web_port": 0,
        "streams_batch_events": 2_000, "streams_flush_s": 0.5,
        "feast_dir": tmp_path / "feast", "feast_project": f"er{unique}",
        "streams_features": True, "streams_feed": True, "features_offline_flush_s": 1.0,
        "feed_debounce_s": 0.3, "feed_max_delay_s": 2.0, "feed_reload_poll_s": 1.0,
        "recommender_model_name": f"glamcast-recommender-er-{unique}",
        "recommender_experiment": f"erasure-it-{unique}",
        "look_gan_model_name": f"none-{unique}",
        "erasure_refresh_s": 0.5, "erasure_settle_s": 3.0,
    })
    ensure_topics(settings)
    features.apply(settings)
    sent = simulate_to_kafka(settings, SIMULATION, progress=False, truth_dir=tmp_path / "truth",
                             background=False)
    sent_tryons = sent[settings.topic_name(topics.TRYON)]
    sent_commerce = sent[settings.topic_name(topics.COMMERCE)]
    workers = start_workers(settings, 1, loglevel="info", log_dir=tmp_path / "logs")
    dead = worker_exited(workers)
    try:
        eventually(lambda: len(lake.read_dataset(settings, TRYON, columns=["user_id"]))
                   == sent_tryons and len(lake.read_dataset(settings, COMMERCE, columns=[
                       "user_id"])) == sent_commerce, 120, "the day in the lake", abort=dead)
        tryons = lake.read_dataset(settings, TRYON, columns=["user_id", "product_id", "action"])
        by_activity = tryons["user_id"].value_counts()
        erased = sorted(by_activity.index[:3])  # the three most active people
        kept = by_activity.index[3]
        every = [*erased, kept]
        store = features.feature_store(settings)
        eventually(lambda: all(v is not None for v in online_values(store, every)["events_7d"]),
                   60, "online features of the four people", abort=dead)
        eventually(lambda: set(every) <= set(latest_feeds(settings)), 60,
                   "a feed for each of the four", abort=dead)
        offline = f"{settings.lake_root}/features/user_activity.parquet"
        eventually(lambda: set(every) <= set(pq.read_table(offline)["user_id"].to_pylist()), 60,
                   "offline features of the four", abort=dead)

        recommender = fit_recommender(tryons)
        version = register_champion(settings, recommender)
        write_embeddings(settings, recommender, version, settings.recommender_model_name)
        materialize(settings)
        before = online_values(store, every)
        assert all(value is not None for value in before["user_embedding"])
        mentions = lake_mentions(settings, set(erased))
        assert {lake.table_location(path) for path in mentions} >= {
            TRYON, COMMERCE, "features/user_activity", "embeddings/users"}
        commerce = lake.read_dataset(settings, COMMERCE, columns=["user_id"])
        expected_rows = {user: {"lake/tryon": int(by_activity[user]),
                                "lake/commerce": int((commerce["user_id"] == user).sum())}
                         for user in erased}

        erasing = time.monotonic()
        results = erase(settings, erased, "test")
        erase_s = time.monotonic() - erasing
        receipts = {result.receipt.user_id: result for result in results}
        assert sorted(receipts) == erased
        name = settings.recommender_model_name
        for user, result in receipts.items():
            removed = result.receipt.removed
            assert not result.repeated and result.receipt.status == "completed"
            for place, rows in expected_rows[user].items():
                assert removed.get(place, 0) == rows, (user, place, removed)
            assert removed["lake/embeddings/users"] == 1
            assert removed["lake/features/user_activity"] >= 1
            assert removed["online_store/user_activity_fv"] == 1
            assert removed["online_store/user_embedding_fv"] == 1
            assert removed[f"model/{name}"] == 1
            assert removed["feed_topic"] == 1
            assert result.total == sum(removed.values())

        # No trace: lake (every table), online and offline stores, embeddings, feed topic.
        assert lake_mentions(settings, set(erased)) == {}
        after = online_values(store, erased)
        assert after == {"events_7d": [None] * 3, "purchased_products_7d": [None] * 3,
                         "user_embedding": [None] * 3}
        assert online_values(store, [kept])["events_7d"][0] is not None  # others untouched
        rows = pd.DataFrame({"user_id": every, "event_timestamp": datetime.now(UTC)})
        history = features.training_set(settings, rows, ["user_activity_fv:events_7d"])
        assert history["events_7d"].isna().tolist() == [True, True, True, False]
        champion = load_model(settings, name).unwrap_python_model().recommender
        assert champion.knows(erased).tolist() == [False] * 3 and champion.knows([kept])[0]
        client = mlflow.MlflowClient(tracking_uri(settings))
        serving = client.get_model_version_by_alias(name, CHAMPION)
        assert int(serving.version) == version + 1 and serving.tags["erasure_of"] == str(version)
        old = load_model(settings, name, version).unwrap_python_model().recommender
        assert not old.knows(erased).any()  # the version it replaced holds them no more
        feeds = latest_feeds(settings)
        assert [feeds[user] for user in erased] == [None] * 3 and feeds[kept] is not None
        training = load_events(settings, TrainRecommenderConfig(source="tryon"))
        assert not training["user_id"].isin(erased).any() and (training["user_id"] == kept).any()
        shop = load_events(settings, TrainRecommenderConfig(source="commerce"))
        assert not shop["user_id"].isin(erased).any()

        # Their events arriving again (a replay, a late app) are dropped by every stage.
        now = datetime.now(UTC)
        late = [{"event_id": f"late-{user}", "ts": (now - timedelta(seconds=5)).isoformat(),
                 "user_id": user, "session_id": "late", "action": "try_on",
                 "product_id": tryons["product_id"].iloc[0], "category": "lipstick",
                 "shade_hex": "#C04060", "finish": "matte", "dwell_ms": 100,
                 "platform": "web", "app_version": "1.0"} for user in [*erased, kept]]
        landed = produce(settings, [(topics.TRYON, event["user_id"].encode(),
                                     json.dumps(event).encode()) for event in late])
        wait_committed(settings, [ingest_group(settings), features_group(settings),
                                  feed_group(settings)], end_offsets(landed), 60, abort=dead)
        assert "late-" + kept in set(lake.read_dataset(settings, TRYON, columns=["event_id"])[
            "event_id"])
        assert latest_feeds(settings)[kept] not in (None, feeds[kept])  # a new feed for them
        assert lake_mentions(settings, set(erased)) == {}
        assert online_values(store, erased)["events_7d"] == [None] * 3
        assert [latest_feeds(settings)[user] for user in erased] == [None] * 3
    finally:
        codes = stop_workers(workers)
    assert codes == [0], (tmp_path / "logs" / "worker-0.log").read_text()[-3000:]

    # Idempotent: the same receipts again, nothing found again (the function and the route).
    again = erase(settings, erased, "test")
    for result in again:
        first = receipts[result.receipt.user_id]
        assert result.repeated and result.found_again == {}
        assert result.receipt == first.receipt and result.total == first.total
    assert {user: record.status for user, record in read_erasures(settings).items()} == dict.fromkeys(
        erased, "completed")
    with TestClient(create_app(settings)) as http:
        path = f"/v1/people/{erased[0]}"
        assert http.delete(path).status_code == 401
        assert http.delete(path, headers={"X-API-Key": "dev-service"}).status_code == 403
        answer = http.delete(path, headers={"X-API-Key": "dev-admin"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["repeated"] is True and body["found_again"] == {}
        assert body["removed"] == receipts[erased[0]].receipt.removed
        assert body["total"] == receipts[erased[0]].total
    # A later erasure finds the person in the re-registered champion (one model, two versions)
    # and moves the alias again.
    [fourth] = erase(settings, [kept], "test")
    assert fourth.receipt.removed[f"model/{name}"] == 1
    serving = client.get_model_version_by_alias(name, CHAMPION)
    assert int(serving.version) == version + 2 and serving.tags["erasure_of"] == str(version + 1)
    assert not load_model(settings, name).unwrap_python_model().recommender.knows([kept])[0]
    print(f"erasure of 3 people: {erase_s:.1f} s (settle {settings.erasure_settle_s} s); "
          f"test {time.monotonic() - started:.0f} s; topic {erasure_topic(settings)}")

