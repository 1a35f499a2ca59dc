"""The Feast repository against real stores: `local` (SQLite, file offline store, file registry)
and `prod` (Redis online store, SQL registry on PostgreSQL), plus point-in-time training sets.

Each test has its own Feast project and state; the `prod` test uses its own PostgreSQL database
and Feast project (the Redis key prefix), both removed at the end. Addresses come from
GLAMCAST_TEST_REDIS_URL / GLAMCAST_TEST_POSTGRES_URL (default: the development machine's).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pyarrow as pa
import pytest
import redis

from glamcast.core.features import (
    EVENT_COLUMNS,
    USER_ACTIVITY_PUSH_SOURCE,
    USER_ACTIVITY_VIEW,
    USER_FEATURES,
)
from glamcast.core.names import TREND_COUNTS
from glamcast.core.settings import ApiKey, KeyScope, Settings, api_key_sha256
from glamcast.platform import features, lake
from glamcast.platform.features import feature_store, push_features, training_set, write_offline
from models.activity_features import user_activity_features
from streams.features import FeatureState

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("GLAMCAST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "GLAMCAST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
USER_REFS = [f"user_activity_fv:{name}" for name in USER_FEATURES]


def simulated_events(seed: int, users: int, count: int, days: float) -> pd.DataFrame:
    """Try-on events in the lake's columns, spread over `days` from T0."""
    rng = random.Random(seed)
    actions = ["try_on", "shade_swap", "like", "save", "add_to_cart", "purchase", "dismiss"]
    rows = []
    for i in range(count):
        face = rng.random() < 0.5
        rows.append(
            (
                f"ev{seed}-{i}",
                T0 + timedelta(seconds=rng.uniform(0, days * 86_400)),
                f"u{rng.randrange(users)}",
                f"p{rng.randrange(20)}",
                rng.choice(actions),
                rng.choice(["lipstick", "blush", "eyeshadow"]),
                rng.choice(["#C0392B", "#E8B5A0", "#8E2440", "#F4A6B7"]),
                rng.choice(["matte", "satin", "gloss"]),
                rng.randrange(100, 5000),
                rng.randrange(1, 11) if face else None,
                rng.choice(["cool", "warm"]) if face else None,
            )
        )
    frame = pd.DataFrame.from_records(rows, columns=list(EVENT_COLUMNS))
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["face_skin_tone"] = frame["face_skin_tone"].astype("Int64")
    return frame.sort_values("ts", ignore_index=True)


@pytest.fixture
def local_settings(tmp_path: Path, unique: str) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        lake_uri=str(tmp_path / "lake"),
        feast_project=f"t{unique}",
    )


def test_feast_apply_local_registers_the_repository(local_settings: Settings) -> None:
    applied = features.apply(local_settings)
    assert {
        "user",
        "product",
        "term",
        "user_activity_push_source",
        "product_popularity_push_source",
        "user_activity_fv",
        "product_popularity_fv",
        "term_trends_fv",
        "user_embedding_fv",
        "item_embedding_fv",
        "feed_ranking_v1",
    } <= set(applied)
    assert features.apply(local_settings) == applied  # idempotent
    store = feature_store(local_settings)
    assert {fv.name for fv in store.list_feature_views()} >= {"user_activity_fv", "term_trends_fv"}
    service = store.get_feature_service("feed_ranking_v1")
    assert {p.name for p in service.feature_view_projections} >= {
        "user_activity_fv",
        "product_popularity_fv",
    }
    assert (features.feast_dir(local_settings) / "registry.db").exists()

    frame = user_activity_features(simulated_events(1, users=5, count=60, days=3))
    push_features(store, USER_ACTIVITY_PUSH_SOURCE, frame)
    online = store.get_online_features(
        features=USER_REFS, entity_rows=[{"user_id": u} for u in frame["user_id"]]
    ).to_df()
    assert online["tries_7d"].astype(int).tolist() == frame["tries_7d"].tolist()
    offline = pd.read_parquet(Path(local_settings.lake_uri) / "features" / "user_activity.parquet")
    assert len(offline) == len(frame)  # ONLINE_AND_OFFLINE: appended to the offline table


def test_stream_appends_replace_the_local_offline_file_whole(
    local_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feature stage's offline appends (`write_offline`) add every row after the earlier
    ones and swap the whole file in by rename: no temp file is left, and an append that fails
    half way leaves the table as it was (Feast's own append writes over the file in place)."""
    features.apply(local_settings)
    store = feature_store(local_settings)
    state = FeatureState()
    events = simulated_events(3, users=6, count=80, days=2)
    for batch in (events.iloc[:50], events.iloc[50:]):
        for row in batch.itertuples(index=False):
            face_tone = None if pd.isna(row.face_skin_tone) else int(row.face_skin_tone)
            state.add(*row[:9], face_tone, row.face_undertone)
        write_offline(store, USER_ACTIVITY_VIEW, state.snapshot().users)

    directory = Path(local_settings.lake_uri) / "features"
    offline = pd.read_parquet(directory / "user_activity.parquet")
    first, second = events.iloc[:50], events.iloc[50:]
    n = first["user_id"].nunique()
    assert len(offline) == n + second["user_id"].nunique()
    assert set(offline["user_id"].iloc[:n]) == set(first["user_id"])  # appended after
    assert set(offline["user_id"].iloc[n:]) == set(second["user_id"])
    assert offline["events_7d"].iloc[:n].sum() == len(first)  # 2 days: every event in 7 d
    assert offline["events_7d"].iloc[n:].sum() == events["user_id"].isin(second["user_id"]).sum()
    assert [p.name for p in directory.iterdir() if p.name.startswith(".")] == []

    # An append that dies before its rename (here: the rename fails) leaves the table as it was.
    def no_rename(src: str, dst: str) -> None:
        raise OSError("killed before the rename")

    for row in simulated_events(4, users=6, count=5, days=2).itertuples(index=False):
        state.add(*row[:9], None, None)
    monkeypatch.setattr(lake.os, "replace", no_rename)
    with pytest.raises(OSError, match="killed before the rename"):
        write_offline(store, USER_ACTIVITY_VIEW, state.snapshot().users)
    pd.testing.assert_frame_equal(pd.read_parquet(directory / "user_activity.parquet"), offline)


@pytest.fixture
def prod_settings(tmp_path: Path, unique: str) -> Iterator[Settings]:
    """`prod` settings on the real Redis and PostgreSQL: a database and project of its own."""
    database = f"feast_{unique}"
    admin = psycopg.connect(POSTGRES_URL, autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    settings = Settings(
        profile="prod",
        state_dir=tmp_path / "state",
        kafka_bootstrap="127.0.0.1:9",  # unused here; prod requires every address
        mlflow_tracking_uri="http://127.0.0.1:9",
        spark_master="local[1]",
        lake_uri=str(tmp_path / "lake"),
        redis_url=REDIS_URL,
        registry_db_url=f"{base}/{database}",
        api_keys=[ApiKey(name="test", scope=KeyScope.INGEST, sha256=api_key_sha256("test-key"))],
        feast_project=f"t{unique}",
    )
    try:
        yield settings
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"*t{unique}*".encode(), count=1000))
        try:
            feature_store(settings).teardown()
        finally:
            if keys:
                client.delete(*keys)
            client.close()
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
            admin.close()


def test_prod_stores_redis_online_and_postgres_registry(prod_settings: Settings) -> None:
    applied = features.apply(prod_settings)
    assert "feed_ranking_v1" in applied
    with psycopg.connect(prod_settings.registry_db_url.get_secret_value()) as conn:
        names = {
            row[0]
            for row in conn.execute(
                "SELECT feature_view_name FROM feature_views WHERE project_id = %s",
                (prod_settings.feast_project,),
            )
        }
    assert {"user_activity_fv", "product_popularity_fv", "user_embedding_fv"} <= names

    store = feature_store(prod_settings)  # a fresh client reads the registry from PostgreSQL
    assert store.get_feature_service("feed_ranking_v1").name == "feed_ranking_v1"
    frame = user_activity_features(simulated_events(2, users=4, count=40, days=2))
    push_features(store, USER_ACTIVITY_PUSH_SOURCE, frame, offline=False)
    online = store.get_online_features(
        features=USER_REFS, entity_rows=[{"user_id": u} for u in frame["user_id"]]
    ).to_df()
    for column in ("events_7d", "purchases_24h", "last_event_ms"):
        assert online[column].astype("int64").tolist() == frame[column].tolist()
    assert online["fav_finish_7d"].tolist() == frame["fav_finish_7d"].tolist()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert any(
            True for _ in client.scan_iter(match=f"*{prod_settings.feast_project}*".encode())
        )
    finally:
        client.close()


def test_training_set_rows_see_only_earlier_events(local_settings: Settings) -> None:
    """Leakage: a training row at time t gets the features of the user's events before t."""
    features.apply(local_settings)
    store = feature_store(local_settings)
    events = simulated_events(3, users=6, count=240, days=10)
    # What the stream stage pushes offline: after each event, its user's row as of that event.
    history = pd.concat(
        [
            user_activity_features(events.iloc[: i + 1]).query("user_id == @user")
            for i, user in enumerate(events["user_id"])
        ],
        ignore_index=True,
    )
    push_features(store, USER_ACTIVITY_PUSH_SOURCE, history)

    rng = random.Random(4)
    rows = pd.DataFrame(
        {
            "user_id": [f"u{rng.randrange(6)}" for _ in range(40)] + ["u0"],
            "event_timestamp": [
                T0 + timedelta(seconds=rng.uniform(0, 11 * 86_400)) for _ in range(40)
            ]
            + [T0 - timedelta(hours=1)],  # before any event: no features at all
        }
    )
    result = training_set(local_settings, rows, USER_REFS, store=store)
    assert len(result) == len(rows)
    for row in result.itertuples(index=False):
        before = events[(events["user_id"] == row.user_id) & (events["ts"] <= row.event_timestamp)]
        if before.empty or row.event_timestamp - before["ts"].max() >= timedelta(days=7):
            assert pd.isna(row.events_7d)  # nothing before t (or beyond the 7 d TTL)
            continue
        expected = user_activity_features(before).iloc[0]
        assert (
            row.last_event_ms == expected["last_event_ms"] < row.event_timestamp.timestamp() * 1000
        )
        for name in ("events_7d", "tries_24h", "purchases_7d", "likes_1h", "carts_7d"):
            assert int(getattr(row, name)) == expected[name], (row.user_id, name)
        assert row.fav_finish_7d == expected["fav_finish_7d"]


def test_materialize_term_trends_and_embeddings_to_the_online_store(
    local_settings: Settings,
) -> None:
    from jobs.materialize import materialize

    root = local_settings.lake_uri
    end = datetime(2025, 3, 9, 12, 30, tzinfo=UTC)
    hours = [end.replace(minute=0) - timedelta(hours=h) for h in range(1, 49)]
    counts = pa.table(
        {
            "hour": pa.array([h for h in hours for _ in range(2)], lake.TIMESTAMP),
            "term_type": ["hashtag", "finish"] * len(hours),
            "term": ["redlips", "matte"] * len(hours),
            "source": ["social", "tryon"] * len(hours),
            # redlips jumps in the last complete hour; matte is steady
            "weight": [w for h in hours for w in ((9.0 if h == hours[0] else 1.0), 2.0)],
            "events": [1, 1] * len(hours),
        },
        schema=lake.SCHEMAS[TREND_COUNTS],
    )
    lake.write_file(root, "trend_counts/date=2025-03-09/tryon-p0.parquet", counts)
    features.apply(local_settings)
    lake.write_file(
        root,
        "embeddings/users/glamcast-recommender-v3.parquet",
        pa.table(
            {
                "user_id": ["u1", "u2"],
                "embedding": pa.array([[0.5, 1.0], [2.0, -1.0]], pa.list_(pa.float32())),
                "event_timestamp": pa.array([end - timedelta(hours=2)] * 2, lake.TIMESTAMP),
                "model_version": pa.array([3, 3], pa.int32()),
            }
        ),
    )

    result = materialize(local_settings, end=end)
    assert result.scored_hour == hours[0].isoformat()
    assert result.term_rows == 2
    store = feature_store(local_settings)
    trends = store.get_online_features(
        features=["term_trends_fv:trend_score", "term_trends_fv:trend_weight"],
        entity_rows=[{"term": "hashtag:redlips"}, {"term": "finish:matte"}],
    ).to_dict()
    assert trends["trend_weight"] == [9.0, 2.0]
    assert trends["trend_score"] == [pytest.approx(10.0 / 2.0), pytest.approx(1.0)]
    embeddings = store.get_online_features(
        features=["user_embedding_fv:user_embedding", "user_embedding_fv:user_model_version"],
        entity_rows=[{"user_id": "u2"}, {"user_id": "nobody"}],
    ).to_dict()
    assert embeddings["user_embedding"][0] == [2.0, -1.0]
    assert embeddings["user_model_version"] == [3, None]
