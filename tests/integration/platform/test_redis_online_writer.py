"""The stream stage's direct Redis writes (`glamcast.platform.redis_online_writer`) are what
Feast's own Redis writer writes, byte for byte, and Feast's `get_online_features` reads them."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from glamcast.core.features import (
    PRODUCT_FEATURES,
    PRODUCT_POPULARITY_VIEW,
    USER_ACTIVITY_VIEW,
    USER_FEATURES,
)
from glamcast.core.names import EVENT_TIMESTAMP_COL, PRODUCT_COL, USER_COL
from glamcast.core.settings import Settings
from glamcast.platform import features
from glamcast.platform.redis_online_writer import RedisRowWriter

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("GLAMCAST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
T0 = datetime(2026, 11, 20, 12, 0, 0, 250_000, tzinfo=UTC)


@pytest.fixture
def redis_settings(tmp_path: Path, unique: str) -> Iterator[Settings]:
    settings = Settings(state_dir=tmp_path / "state", lake_uri=str(tmp_path / "lake"),
                        feast_project=f"rw{unique}", feast_online_store="redis",
                        redis_url=REDIS_URL)
    features.apply(settings)
    yield settings
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"*rw{unique}".encode(), count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _rows(entity: str, kinds: dict[str, str], ids: list[str], seed: int) -> list[dict]:
    """Rows with every feature set, some null, the values of each type's range."""
    rng = random.Random(seed)
    out = []
    for number, key in enumerate(ids):
        row = {entity: key, EVENT_TIMESTAMP_COL: T0 + timedelta(seconds=number, microseconds=7)}
        for name, kind in kinds.items():
            if rng.random() < 0.15:
                row[name] = None
            else:
                row[name] = {"Int64": lambda: rng.randint(0, 10**6),
                             "Int32": lambda: rng.randint(-5, 300),
                             "Float64": lambda: rng.uniform(0, 5e4),
                             "Float32": lambda: rng.uniform(0, 1),
                             "String": lambda: rng.choice(["coral", "nude", "mätte", "satin"]),
                             }[kind]()
        out.append(row)
    return out


VIEWS = [(USER_ACTIVITY_VIEW, USER_COL, USER_FEATURES, [f"u{i}" for i in range(40)]),
         (PRODUCT_POPULARITY_VIEW, PRODUCT_COL, PRODUCT_FEATURES, [f"p-{i}" for i in range(15)])]


@pytest.mark.parametrize(("view", "entity", "kinds", "ids"), VIEWS,
                         ids=[view for view, *_ in VIEWS])
def test_direct_writes_equal_feasts_writes_and_feast_reads_them(
    redis_settings: Settings, view: str, entity: str, kinds: dict[str, str], ids: list[str]
) -> None:
    store = features.feature_store(redis_settings)
    assert isinstance(features._direct_writer(store, view), RedisRowWriter)
    rows = _rows(entity, kinds, ids, seed=len(ids))
    client = redis.Redis.from_url(REDIS_URL)
    writer = features._direct_writer(store, view)
    keys = [writer.redis_key(key) for key in ids]
    try:
        # Feast's own writer first: its hashes are the reference
        feature_view = store.get_feature_view(view)
        store.provider.online_write_batch(store.config, feature_view,
                                          features.online_rows(view, rows), None)
        reference = [client.hgetall(key) for key in keys]
        client.delete(*keys)

        features.write_online(store, view, rows)
        assert [client.hgetall(key) for key in keys] == reference
    finally:
        client.close()

    read = store.get_online_features(
        features=[f"{view}:{name}" for name in kinds],
        entity_rows=[{entity: key} for key in [*ids, "nobody"]]).to_dict()
    assert read[entity] == [*ids, "nobody"]
    for name, kind in kinds.items():
        expected = [row[name] for row in rows] + [None]
        if kind == "Float32":
            assert read[name] == pytest.approx(expected, rel=1e-6, nan_ok=True), name
        else:
            assert read[name] == expected, name


def test_a_later_row_replaces_the_whole_row(redis_settings: Settings) -> None:
    store = features.feature_store(redis_settings)
    first = _rows(USER_COL, USER_FEATURES, ["ann"], seed=1)[0]
    later = {**_rows(USER_COL, USER_FEATURES, ["ann"], seed=2)[0],
             EVENT_TIMESTAMP_COL: T0 + timedelta(hours=1)}
    features.write_online(store, USER_ACTIVITY_VIEW, [first])
    features.write_online(store, USER_ACTIVITY_VIEW, [later])
    read = store.get_online_features(features=[f"{USER_ACTIVITY_VIEW}:{name}"
                                                for name in USER_FEATURES],
                                     entity_rows=[{USER_COL: "ann"}]).to_dict()
    for name, kind in USER_FEATURES.items():
        if kind == "Float32":
            assert read[name] == pytest.approx([later[name]], rel=1e-6), name
        else:
            assert read[name] == [later[name]], name
