"""End to end on the embedded broker: try-on events → stream worker → Feast online store, equal to
a pandas recomputation of the same windows from the lake.

The recomputation below is written out per user from the window definition (docs/features.md),
not with `glamcast.platform.features`, so the two are checked against each other.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from glamcast.core import topics
from glamcast.platform import broker, features, lake
from glamcast.core.features import PRODUCT_FEATURES, USER_FEATURES
from glamcast.platform.features import feature_store
from glamcast.core.settings import Settings
from glamcast.core.shades import shade_family
from streams.app import ensure_topics
from streams.features import features_group
from streams.ingestion import committed_offsets
from streams.worker import WorkerProcess, start_workers, stop_workers
from glamcast.core.names import TRYON

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
ACTIONS = ["try_on", "shade_swap", "like", "save", "share", "add_to_cart", "purchase", "dismiss"]
SHADES = ["#C0392B", "#E8B5A0", "#8E2440", "#F4A6B7", "#5B2C3A", "#D96A4A"]
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
KINDS = {
    "tries": {"try_on", "shade_swap"},
    "likes": {"like"},
    "carts": {"add_to_cart"},
    "purchases": {"purchase"},
}


@pytest.fixture
def feature_settings(stack_settings: Settings, unique: str, tmp_path: Path) -> Settings:
    settings = stack_settings.model_copy(
        update={
            "topic_prefix": f"f{unique}.",
            "streams_app_id": f"features-{unique}",
            "lake_uri": str(tmp_path / "lake"),
            "streams_web_port": 0,
            "streams_batch_events": 2_000,
            "streams_flush_s": 0.5,
            "feast_dir": tmp_path / "feast",
            "feast_project": f"f{unique}",
            "streams_features": True,
        }
    )
    ensure_topics(settings)
    features.apply(settings)
    return settings


@pytest.fixture
def worker(feature_settings: Settings, tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    started = start_workers(feature_settings, 1, loglevel="info", log_dir=tmp_path / "logs")
    yield started
    stop_workers(started)


def tryon(rng: random.Random, i: int, users: int) -> dict:
    event = {
        "event_id": f"e{i}",
        "ts": (T0 + timedelta(seconds=rng.uniform(0, 10 * 86_400))).isoformat(),
        "user_id": f"u{rng.randrange(users)}",
        "session_id": f"s{rng.randrange(1000)}",
        "action": rng.choice(ACTIONS),
        "product_id": f"p{rng.randrange(40)}",
        "category": rng.choice(["lipstick", "blush", "eyeshadow", "mascara"]),
        "shade_hex": rng.choice(SHADES),
        "finish": rng.choice(["matte", "satin", "gloss", "shimmer"]),
        "dwell_ms": rng.randrange(100, 20_000),
        "platform": "ios",
        "app_version": "2.1.0",
    }
    if rng.random() < 0.4:
        event["face"] = {
            "skin_tone": rng.randrange(1, 11),
            "undertone": rng.choice(["cool", "neutral", "warm"]),
            "face_shape": "oval",
        }
    return event


def expected_user(events: pd.DataFrame) -> dict:
    """One user's features from the window definition, written out."""
    latest = events["ts"].max()
    row: dict = {"last_event_ms": int(latest.timestamp() * 1000)}
    for suffix, length in WINDOWS.items():
        inside = events[events["ts"] > latest - length]
        for kind, actions in KINDS.items():
            row[f"{kind}_{suffix}"] = int(inside["action"].isin(actions).sum())
    week = events[events["ts"] > latest - WINDOWS["7d"]]
    for kind in ("tries", "purchases"):
        for category in ("lipstick", "blush", "eyeshadow", "mascara", "foundation"):
            chosen = week["action"].isin(KINDS[kind]) & (week["category"] == category)
            row[f"{kind}_7d_{category}"] = int(chosen.sum())
    row["events_7d"] = len(week)
    families = week["shade_hex"].map(shade_family).value_counts()
    row["fav_shade_family_7d"] = min(families[families == families.max()].index)
    finishes = week["finish"].value_counts()
    row["fav_finish_7d"] = min(finishes[finishes == finishes.max()].index)
    row["mean_dwell_ms_7d"] = week["dwell_ms"].mean()
    faces = week[week["face_skin_tone"].notna()].sort_values(["ts", "event_id"])
    row["skin_tone"] = None if faces.empty else int(faces["face_skin_tone"].iloc[-1])
    row["undertone"] = None if faces.empty else faces["face_undertone"].iloc[-1]
    return row


def expected_product(events: pd.DataFrame) -> dict:
    latest = events["ts"].max()
    row = {}
    for suffix in ("24h", "7d"):
        inside = events[events["ts"] > latest - WINDOWS[suffix]]
        for kind, actions in KINDS.items():
            row[f"product_{kind}_{suffix}"] = int(inside["action"].isin(actions).sum())
    tries = row["product_tries_7d"]
    row["product_conversion_7d"] = row["product_purchases_7d"] / tries if tries else 0.0
    return row


def wait_for(check, timeout_s: float, what: str, processes: list[WorkerProcess]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if any(p.process.poll() is not None for p in processes):
            break
        time.sleep(0.2)
    logs = "\n".join(p.log.read_text(errors="replace")[-4000:] for p in processes if p.log)
    pytest.fail(f"timed out or worker died waiting for {what}\n{logs}")


def produce(settings: Settings, events: list[dict]) -> dict[tuple[str, int], int]:
    """Produce try-on events; returns the end offset of each partition written."""
    producer = broker.producer(settings, linger_ms=20, batch_size=1024 * 1024)
    topic = settings.topic_name(topics.TRYON)
    try:
        futures = [
            producer.send(topic, key=e["user_id"].encode(), value=json.dumps(e).encode())
            for e in events
        ]
        producer.flush()
        metadata = [future.get(timeout=30) for future in futures]
    finally:
        producer.close()
    ends: dict[tuple[str, int], int] = {}
    for meta in metadata:
        ends[(meta.topic, meta.partition)] = max(
            ends.get((meta.topic, meta.partition), 0), meta.offset + 1
        )
    return ends


def wait_drained(
    settings: Settings, ends: dict[tuple[str, int], int], processes: list[WorkerProcess]
) -> None:
    """Until the lake sink and the feature stage have committed every offset below `ends`."""
    admin = broker.admin_client(settings)
    group = features_group(settings)

    def drained() -> bool:
        ingested = committed_offsets(settings, admin)
        pushed = admin.list_group_offsets(group).get(group, {})
        pushed_offsets = {(tp.topic, tp.partition): meta.offset for tp, meta in pushed.items()}
        return all(
            ingested.get(tp, 0) >= end and pushed_offsets.get(tp, 0) >= end
            for tp, end in ends.items()
        )

    try:
        wait_for(drained, 180, "the lake sink and the feature stage to commit", processes)
    finally:
        admin.close()


def assert_users_equal_the_lake(settings: Settings) -> pd.DataFrame:
    """Every user's online features equal the recomputation from the lake; returns the lake."""
    landed = lake.read_dataset(settings, TRYON)
    user_ids = sorted(landed["user_id"].unique())
    online = (
        feature_store(settings)
        .get_online_features(
            features=[f"user_activity_fv:{name}" for name in USER_FEATURES],
            entity_rows=[{"user_id": user} for user in user_ids],
        )
        .to_df()
        .set_index("user_id")
    )
    for user, group_events in landed.groupby("user_id"):
        expected = expected_user(group_events)
        got = online.loc[user]
        for name, value in expected.items():
            if name == "mean_dwell_ms_7d":
                assert got[name] == pytest.approx(value), (user, name)
            elif value is None:
                assert pd.isna(got[name]), (user, name)
            else:
                assert got[name] == value, (user, name, got[name], value)
    return landed


def test_online_features_equal_a_recomputation_from_the_lake(
    feature_settings: Settings, worker: list[WorkerProcess]
) -> None:
    settings = feature_settings
    rng = random.Random(11)
    users = 40
    events = [tryon(rng, i, users) for i in range(3_000)]
    events += [dict(events[i]) for i in range(0, 3_000, 100)]  # replays: counted once
    wait_drained(settings, produce(settings, events), worker)

    landed = assert_users_equal_the_lake(settings)
    assert len(landed) == 3_000
    store = feature_store(settings)
    product_ids = sorted(landed["product_id"].unique())
    products = (
        store.get_online_features(
            features=[f"product_popularity_fv:{name}" for name in PRODUCT_FEATURES],
            entity_rows=[{"product_id": product} for product in product_ids],
        )
        .to_df()
        .set_index("product_id")
    )
    for product, group_events in landed.groupby("product_id"):
        for name, value in expected_product(group_events).items():
            assert products.loc[product, name] == pytest.approx(value), (product, name)

    offline = pd.read_parquet(Path(settings.lake_uri) / "features" / "user_activity.parquet")
    assert set(offline["user_id"]) == set(landed["user_id"])  # appended offline too


def test_a_restarted_worker_rebuilds_its_windows_from_the_lake(
    feature_settings: Settings, tmp_path: Path
) -> None:
    """After a restart the state holds only what the lake gives back: the new events' users
    must still see their earlier events in their windows."""
    settings = feature_settings
    rng = random.Random(12)
    before = [tryon(rng, i, 8) for i in range(400)]
    after = [tryon(rng, i, 8) for i in range(400, 460)]
    first = start_workers(settings, 1, loglevel="info", log_dir=tmp_path / "first")
    try:
        wait_drained(settings, produce(settings, before), first)
    finally:
        stop_workers(first)
    second = start_workers(settings, 1, loglevel="info", log_dir=tmp_path / "second")
    try:
        wait_drained(settings, produce(settings, after), second)
        landed = assert_users_equal_the_lake(settings)
    finally:
        stop_workers(second)
    assert len(landed) == 460
    # the bootstrap reads the longest window and a day before the lake's last day
    start = datetime.fromisoformat(max(e["ts"] for e in before)[:10]).replace(tzinfo=UTC)
    expected = sum(datetime.fromisoformat(e["ts"]) >= start - timedelta(days=8) for e in before)
    log = (tmp_path / "second" / "worker-0.log").read_text(errors="replace")
    assert f"feature state bootstrapped from {expected} lake events" in log
