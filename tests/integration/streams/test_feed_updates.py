"""The feed stage on the embedded broker: a burst of try-ons → one debounced feed per person on
`glamcast.feed.v1`, purchases pushed to Feast and filtered (streams/feed_updates).

No recommender champion here (the feed ranks on the person's own activity and the catalogue),
and the feature stage is off: the stage computes the activity features from its own state.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import TopicPartition
from testkit import eventually, produce, worker_exited

from glamcast.core import topics
from glamcast.core.events import CatalogEvent
from glamcast.core.names import CATALOG
from glamcast.core.settings import Settings
from glamcast.platform import broker, features, lake
from streams.app import ensure_topics
from streams.feed_updates import feed_group
from streams.worker import start_workers, stop_workers

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
#: (product_id, category, shade) — coral, red and nude lipsticks and blushes.
PRODUCTS = [
    ("c1", "lipstick", "#F07850"), ("c2", "lipstick", "#EE7A55"), ("c3", "blush", "#F07850"),
    ("r1", "lipstick", "#B0182A"), ("r2", "blush", "#B0182A"),
    ("n1", "lipstick", "#D8A890"), ("n2", "blush", "#D8A890"), ("n3", "mascara", "#101010"),
]


def catalog_events() -> list[CatalogEvent]:
    return [
        CatalogEvent(event_id=f"cat-{pid}", ts=NOW, product_id=pid, brand="Acme", name=pid,
                     category=category, shade_hex=shade, finish="matte", price=20.0,
                     launched_at=NOW - timedelta(days=400))
        for pid, category, shade in PRODUCTS
    ]


def tryon(user: str, product: str, action: str, i: int) -> dict:
    _, category, shade = next(p for p in PRODUCTS if p[0] == product)
    return {
        "event_id": f"{user}-{i}", "ts": (NOW - timedelta(seconds=60 - i)).isoformat(),
        "user_id": user, "session_id": "s1", "action": action, "product_id": product,
        "category": category, "shade_hex": shade, "finish": "matte", "dwell_ms": 3_000,
        "platform": "web", "app_version": "2.1.0",
    }


def feed_messages(settings: Settings) -> list[tuple[str, dict]]:
    return [(record.key.decode(), json.loads(record.value)) for record in
            broker.read_all(settings, [settings.topic_name(topics.FEED)], idle_ms=1_500)]


def test_a_burst_of_tryons_gives_one_feed_per_person(
    stack_settings: Settings, unique: str, tmp_path: Path
) -> None:
    settings = stack_settings.model_copy(update={
        "topic_prefix": f"fu{unique}.", "streams_app_id": f"feedup-{unique}",
        "lake_uri": str(tmp_path / "lake"), "streams_web_port": 0,
        "feast_dir": tmp_path / "feast", "feast_project": f"fu{unique}",
        "streams_features": False, "streams_feed": True,
        "recommender_model_name": f"no-such-model-{unique}",
        "look_gan_model_name": f"none-{unique}",
        "feed_debounce_s": 1.0, "feed_max_delay_s": 30.0,
    })
    events = catalog_events()
    table = lake.table_from_events(CATALOG, events, partition=0,
                                   offsets=list(range(len(events))))
    lake.write_event_batch(settings.lake_root, CATALOG, topics.CATALOG, 0, table)
    ensure_topics(settings)
    features.apply(settings)
    burst = [tryon("ann", "c1", "try_on", i) for i in range(5)]
    burst += [tryon("bob", "r1", "try_on", i) for i in range(3)]
    burst += [tryon("bob", "r2", "purchase", 4)]
    produce(settings, [(topics.TRYON, event["user_id"].encode(), json.dumps(event).encode())
                       for event in burst])

    workers = start_workers(settings, 1, loglevel="info", log_dir=tmp_path / "logs")
    try:
        eventually(lambda: {key for key, _ in feed_messages(settings)} >= {"ann", "bob"}, 90,
                   "a feed for ann and bob", abort=worker_exited(workers))
        store = features.feature_store(settings)
        history = store.get_online_features(
            features=["user_history_fv:purchased_products_7d"],
            entity_rows=[{"user_id": "bob"}, {"user_id": "ann"}]).to_dict()
        assert history["purchased_products_7d"] == [["r2"], []]
    finally:
        codes = stop_workers(workers)
    assert codes == [0], (tmp_path / "logs" / "worker-0.log").read_text()[-3000:]

    messages = feed_messages(settings)
    assert sorted(key for key, _ in messages) == ["ann", "bob"]  # debounced: one each
    feeds = {key: message for key, message in messages}
    ann, bob = feeds["ann"], feeds["bob"]
    assert ann["model_version"] is None and ann["user_id"] == "ann"
    assert [item["product_id"] for item in ann["items"][:2]] == ["c1", "c2"]
    assert ann["items"][0]["reasons"] == ["because you tried coral lipsticks"]
    assert ann["items"][2]["product_id"] == "c3"  # coral, not a lipstick
    assert ann["items"][2]["reasons"] == ["because you tried coral shades"]
    bob_ids = [item["product_id"] for item in bob["items"]]
    assert "r2" not in bob_ids and bob_ids[0] == "r1"
    assert len(ann["items"]) == len(PRODUCTS) and len(bob["items"]) == len(PRODUCTS) - 1
    committed = broker.consumer(settings, group_id=feed_group(settings))
    try:
        partitions = committed.partitions_for_topic(settings.topic_name(topics.TRYON))
        offsets = [committed.committed(TopicPartition(settings.topic_name(topics.TRYON), p))
                   for p in partitions]
    finally:
        committed.close()
    assert sum(offset or 0 for offset in offsets) == len(burst)  # all committed after publishing
