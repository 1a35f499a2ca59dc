"""GET /v1/feed on the real stack: embedded broker, one stream worker (features + feed stages),
Feast (SQLite online store), MLflow registry.

A small simulated world (150 people, 120 products, 10 days) gives the catalogue (lake) and the
try-ons a tiny recommender is fitted on: a truncated SVD of the interaction counts, logged with
the platform's pyfunc (`models.recommender_pyfunc.RecommenderModel`), registered and made
champion. Then a known person tries coral lipsticks through the broker, buys one, and the feed
follows; the champion alias moves and the service serves the new version.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from kafka import TopicPartition
from testkit import eventually

from glamcast.core import topics
from glamcast.core.events import CatalogEvent, Rejection, TryOnEvent, decode_event
from glamcast.core.names import CATALOG, CHAMPION
from glamcast.core.settings import Settings
from glamcast.core.shades import shade_families_from_hex_array
from glamcast.platform import broker, features, lake
from glamcast.platform.feed_engine import USER_REFS
from glamcast.platform.model_registry import tracking_uri
from glamcast.serving.app import create_app
from glamcast.simulator import SimulationConfig, World
from models.recommender_pyfunc import ARTIFACT_KEY, FactorRecommender, RecommenderModel
from streams.app import ensure_topics
from streams.worker import start_workers, stop_workers

pytestmark = pytest.mark.integration

SIMULATION = SimulationConfig(users=150, days=10, start=date(2026, 2, 2), seed=11, products=120)




def world_events(world: World) -> tuple[list[CatalogEvent], list[TryOnEvent]]:
    catalog, tryons = [], []
    for record in world.records():
        if record.topic == topics.CATALOG:
            catalog.append(decode_event(CatalogEvent, record.value))
        elif record.topic == topics.TRYON:
            tryons.append(decode_event(TryOnEvent, record.value))
    assert not any(isinstance(e, Rejection) for e in (*catalog, *tryons))
    return catalog, tryons


def fit_recommender(tryons: list[TryOnEvent], dim: int) -> FactorRecommender:
    """A truncated SVD of the (user × product) count matrix of non-dismiss actions."""
    frame = pd.DataFrame({"user_id": [e.user_id for e in tryons],
                          "product_id": [e.product_id for e in tryons],
                          "action": [str(e.action) for e in tryons]})
    frame = frame[frame["action"] != "dismiss"]
    users = pd.Index(sorted(frame["user_id"].unique()))
    items = pd.Index(sorted(frame["product_id"].unique()))
    rows, cols = users.get_indexer(frame["user_id"]), items.get_indexer(frame["product_id"])
    counts = np.zeros((len(users), len(items)), np.float32)  # (users, items)
    np.add.at(counts, (rows, cols), 1.0)
    left, singular, right = np.linalg.svd(np.log1p(counts), full_matrices=False)
    seen = np.unique(np.stack([rows, cols], axis=1), axis=0)
    return FactorRecommender.build(
        users.tolist(), items.tolist(), left[:, :dim] * singular[:dim], right[:dim].T, None,
        seen[:, 0], seen[:, 1], counts.sum(axis=0).astype(np.float64))


def register(settings: Settings, recommender: FactorRecommender, name: str) -> int:
    """Log the recommender as the platform's pyfunc, register it, move `champion` to it."""
    mlflow.set_tracking_uri(tracking_uri(settings))
    mlflow.set_experiment("feed-it")
    with tempfile.TemporaryDirectory() as scratch, mlflow.start_run():
        artifact = recommender.save(Path(scratch) / "recommender.npz")
        info = mlflow.pyfunc.log_model(name="model", python_model=RecommenderModel(),
                                       artifacts={ARTIFACT_KEY: str(artifact)})
    version = int(mlflow.register_model(info.model_uri, name).version)
    mlflow.MlflowClient().set_registered_model_alias(name, CHAMPION, str(version))
    return version


@dataclass
class FeedStack:
    settings: Settings
    client: TestClient
    catalog: pd.DataFrame  # product_id, category, family
    recommender: FactorRecommender
    model_name: str
    tryons: list[TryOnEvent]


@pytest.fixture(scope="module")
def feed_stack(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[FeedStack]:
    root = tmp_path_factory.mktemp("feed")
    unique = f"{os.getpid()}{int(time.time()) % 100_000}"
    settings = stack_settings.model_copy(update={
        "topic_prefix": f"feed{unique}.", "streams_app_id": f"feed-{unique}",
        "lake_uri": str(root / "lake"), "streams_web_port": 0, "streams_flush_s": 0.5,
        "feast_dir": root / "feast", "feast_project": f"feed{unique}",
        "streams_features": True, "streams_feed": True,
        "recommender_model_name": f"glamcast-recommender-feed-{unique}",
        "look_gan_model_name": f"glamcast-look-gan-feed-{unique}",  # none: no looks
        "feed_reload_poll_s": 0.5, "feed_pool_refresh_s": 0.5, "feed_debounce_s": 0.3,
    })
    catalog_events, tryons = world_events(World.build(SIMULATION))
    table = lake.table_from_events(CATALOG, catalog_events, partition=0,
                                   offsets=list(range(len(catalog_events))))
    lake.write_event_batch(settings.lake_root, CATALOG, topics.CATALOG, 0, table)
    recommender = fit_recommender(tryons, dim=8)
    assert register(settings, recommender, settings.recommender_model_name) == 1
    ensure_topics(settings)
    features.apply(settings)
    workers = start_workers(settings, 1, loglevel="info", log_dir=root / "logs")
    catalog = pd.DataFrame({"product_id": [e.product_id for e in catalog_events],
                            "category": [str(e.category) for e in catalog_events],
                            "shade_hex": [e.shade_hex for e in catalog_events]})
    catalog["family"] = shade_families_from_hex_array(catalog["shade_hex"])
    try:
        with TestClient(create_app(settings), headers={"X-API-Key": "dev-service"}) as client:
            yield FeedStack(settings, client, catalog, recommender, settings.recommender_model_name,
                            tryons)
    finally:
        stop_workers(workers)


def online(stack: FeedStack, user_id: str) -> dict[str, Any]:
    store = stack.client.app.state.feed_engine.store
    values = store.get_online_features(features=list(USER_REFS),
                                       entity_rows=[{"user_id": user_id}]).to_dict()
    return {name: column[0] for name, column in values.items()}


def tryon(user_id: str, product: pd.Series, action: str, i: int) -> dict:
    return {
        "event_id": f"feed-{user_id}-{i}-{time.time_ns()}",
        "ts": (datetime.now(UTC) - timedelta(seconds=30 - i)).isoformat(),
        "user_id": user_id, "session_id": "s-feed", "action": action,
        "product_id": product["product_id"], "category": product["category"],
        "shade_hex": product["shade_hex"], "finish": "matte", "dwell_ms": 4_000,
        "platform": "ios", "app_version": "2.1.0",
        "face": {"skin_tone": 5, "undertone": "warm", "face_shape": "oval"},
    }


def produce(settings: Settings, events: list[dict]) -> None:
    producer = broker.producer(settings)
    for event in events:
        producer.send(settings.topic_name(topics.TRYON), json.dumps(event).encode(),
                      key=event["user_id"].encode())
    producer.flush()
    producer.close()


def ids(answer: dict) -> list[str]:
    return [item.get("product_id") or item["look_id"] for item in answer["items"]]


def test_unknown_user_gets_a_trending_feed(feed_stack: FeedStack) -> None:
    answer = feed_stack.client.get("/v1/feed/nobody-at-all", params={"k": 7})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["user_id"] == "nobody-at-all" and body["personalized"] is False
    assert body["model_version"] == 1
    assert len(body["items"]) == 7 and len(set(ids(body))) == 7
    assert all(item["reasons"] for item in body["items"])
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True) and 0 <= scores[-1] <= scores[0] <= 1


def test_bad_k_is_a_client_error_with_a_message(feed_stack: FeedStack) -> None:
    client = feed_stack.client
    for k, status in (("0", 422), ("101", 422), ("-3", 422), ("many", 422)):
        answer = client.get("/v1/feed/someone", params={"k": k})
        assert answer.status_code == status, (k, answer.text)
        assert answer.json()["detail"], k
    assert "between 1 and 100" in client.get("/v1/feed/x", params={"k": 500}).json()["detail"]
    assert len(client.get("/v1/feed/x").json()["items"]) == 20  # the default k


def test_readyz_checks_online_store_and_model(feed_stack: FeedStack) -> None:
    answer = feed_stack.client.get("/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ready": True,
                             "checks": {"broker": True, "online_store": True, "model": True}}
    spec = feed_stack.client.get("/openapi.json").json()
    assert "/v1/feed/{user_id}" in spec["paths"]
    assert spec["components"]["schemas"]["Feed"]["examples"]


def test_tryons_rank_coral_up_purchases_are_filtered_and_the_topic_gets_the_feed(
    feed_stack: FeedStack,
) -> None:
    settings, client, catalog = feed_stack.settings, feed_stack.client, feed_stack.catalog
    recommender = feed_stack.recommender
    coral_lips = catalog[(catalog["family"] == "coral") & (catalog["category"] == "lipstick")]
    assert len(coral_lips) >= 2
    coral_index = set(pd.Index(recommender.item_ids).get_indexer(coral_lips["product_id"]))
    # a known person who has seen none of the coral lipsticks in training
    row, user = next((row, str(u)) for row, u in enumerate(recommender.user_ids)
                     if not coral_index & set(recommender.seen(row).tolist()))
    coral = set(catalog.loc[catalog["family"] == "coral", "product_id"])
    unseen_coral = coral - set(recommender.item_ids[recommender.seen(row)])
    before = client.get(f"/v1/feed/{user}", params={"k": 10}).json()
    assert before["personalized"] is True
    coral_before = sum(item in coral for item in ids(before))

    # the coral lipstick the model likes best for this person is the one they try
    scores = recommender.user_factors[row] @ recommender.item_factors.T
    tried = coral_lips.iloc[int(np.argmax(
        scores[pd.Index(recommender.item_ids).get_indexer(coral_lips["product_id"])]))]
    rank_before = ids(before).index(tried["product_id"]) if tried["product_id"] in ids(before) \
        else len(ids(before))
    produce(settings, [tryon(user, tried, "try_on", i) for i in range(6)])
    eventually(lambda: online(feed_stack, user)["fav_shade_family_7d"] == "coral", 60,
             "coral as the favourite family online")
    after = client.get(f"/v1/feed/{user}", params={"k": 10}).json()
    coral_after = [item for item in after["items"] if item.get("product_id") in coral]
    assert len(coral_after) > coral_before
    assert {item["product_id"] for item in coral_after} <= unseen_coral  # training items stay out
    assert all(item["reasons"][0].startswith("because you tried coral") for item in coral_after)
    assert ids(after).index(tried["product_id"]) < rank_before
    mine = next(item for item in after["items"] if item["product_id"] == tried["product_id"])
    assert mine["reasons"][0] == "because you tried coral lipsticks"

    produce(settings, [tryon(user, tried, "purchase", 7)])
    eventually(lambda: tried["product_id"] in (online(feed_stack, user)["purchased_products_7d"]
                                             or []), 60, "the purchase online")
    bought = client.get(f"/v1/feed/{user}", params={"k": 10}).json()
    assert tried["product_id"] not in ids(bought)
    assert len(bought["items"]) == 10

    # the feed stage published the same ranking for this person, purchase filtered
    reader = broker.consumer(settings, group_id=None, consumer_timeout_ms=1_000)
    partitions = [TopicPartition(settings.topic_name(topics.FEED), p)
                  for p in sorted(reader.partitions_for_topic(settings.topic_name(topics.FEED)))]
    reader.assign(partitions)
    reader.seek_to_beginning(*partitions)

    def published_without_purchase() -> dict | None:
        for record in reader:
            message = json.loads(record.value)
            assert record.key.decode() == message["user_id"]
            if (message["user_id"] == user and tried["product_id"] not in ids(message)
                    and any(item["reasons"][0] == "because you tried coral lipsticks"
                            for item in message["items"])):
                return message
        return None

    try:
        message = eventually(published_without_purchase, 60, "the feed update on the topic", every_s=0)
    finally:
        reader.close()
    assert message["model_version"] == 1 and len(message["items"]) == 20
    assert datetime.fromisoformat(message["generated_at"]) > datetime.now(UTC) - timedelta(minutes=5)
    assert set(message["items"][0]) <= {"product_id", "look_id", "products", "score", "reasons"}


def test_moving_the_champion_alias_reloads_the_model(feed_stack: FeedStack) -> None:
    settings, client = feed_stack.settings, feed_stack.client
    user = str(feed_stack.recommender.user_ids[0])
    assert client.get(f"/v1/feed/{user}").json()["model_version"] == 1
    assert register(settings, fit_recommender(feed_stack.tryons, dim=4),
                    feed_stack.model_name) == 2
    eventually(lambda: client.get(f"/v1/feed/{user}").json()["model_version"] == 2, 30,
             "model version 2 in the feed")
    assert client.app.state.feed_engine.snapshot.recommender.dim == 4


def test_a_posted_preference_filters_and_reranks_the_feed_with_its_reasons(
    feed_stack: FeedStack,
) -> None:
    """POST /v1/events/preference → glamcast.preference.v1 → the preference stage →
    user_preferences_fv → GET /v1/feed: no lipstick, nothing above the cap, bold first."""
    settings, client = feed_stack.settings, feed_stack.client
    prices = lake.read_dataset(settings, CATALOG).set_index("product_id")["price"]
    user = str(feed_stack.recommender.user_ids[3])
    before = client.get(f"/v1/feed/{user}", params={"k": 20}).json()
    categories = feed_stack.catalog.set_index("product_id")["category"]
    assert any(categories[p] == "lipstick" for p in ids(before) if p in categories)
    cap = float(np.median(prices))
    assert any(prices[p] > cap for p in ids(before) if p in prices)
    preference = {"event_id": f"pref-{user}-{time.time_ns()}", "ts": datetime.now(UTC).isoformat(),
                  "user_id": user, "boldness": 1.0, "price_cap": cap,
                  "never_categories": ["lipstick"]}
    posted = client.post("/v1/events/preference", json=preference,
                         headers={"X-API-Key": "dev-ingest"})
    assert posted.status_code == 202 and posted.json()["accepted"] == 1, posted.text

    eventually(lambda: online(feed_stack, user)["boldness"] == 1.0, 60,
               "the preference in the online store")
    assert online(feed_stack, user)["never_categories"] == ["lipstick"]
    after = client.get(f"/v1/feed/{user}", params={"k": 20}).json()
    products = [item for item in after["items"] if item.get("product_id")]
    assert len(products) == 20
    assert not [item for item in products if categories[item["product_id"]] == "lipstick"]
    assert all(prices[item["product_id"]] <= cap for item in products)
    budget = f"within your €{cap:,.0f} budget" if cap.is_integer() else \
        f"within your €{cap:,.2f} budget"
    assert all(budget in item["reasons"] for item in products)
    assert any("bold, as you asked" in item["reasons"] for item in products)
    # the lake keeps the preference too (the sink lands the topic as the `preference` dataset)
    eventually(lambda: user in set(lake.read_dataset(settings, "preference")["user_id"]), 60,
               "the preference in the lake")

    # the feed stage's next feed for this person (after a tap) honours the preference too
    catalog = feed_stack.catalog.assign(price=prices.reindex(feed_stack.catalog["product_id"])
                                        .to_numpy())
    blush = catalog[(catalog["category"] == "blush") & (catalog["price"] <= cap)].iloc[0]
    produce(settings, [tryon(user, blush, "like", 0)])
    reader = broker.consumer(settings, group_id=None, consumer_timeout_ms=1_000)
    partitions = [TopicPartition(settings.topic_name(topics.FEED), p)
                  for p in sorted(reader.partitions_for_topic(settings.topic_name(topics.FEED)))]
    reader.assign(partitions)
    reader.seek_to_beginning(*partitions)

    def published_with_budget() -> dict | None:
        for record in reader:
            message = json.loads(record.value)
            if message["user_id"] == user and all(budget in item["reasons"]
                                                  for item in message["items"]):
                return message
        return None

    try:
        message = eventually(published_with_budget, 60, "a feed within budget on the topic",
                             every_s=0)
    finally:
        reader.close()
    assert len(message["items"]) == 20
    assert all(categories[item["product_id"]] != "lipstick" and prices[item["product_id"]] <= cap
               for item in message["items"])
