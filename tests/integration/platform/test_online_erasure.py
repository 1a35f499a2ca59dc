"""People deleted from the online store, on both backends: the `local` SQLite store and Redis
(`features.delete_online`); nobody else's row is touched."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from glamcast.core.features import USER_ACTIVITY_PUSH_SOURCE, USER_HISTORY_PUSH_SOURCE
from glamcast.core.settings import Settings
from glamcast.platform import features
from glamcast.platform.features import feature_store, push_features

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("GLAMCAST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PEOPLE = ["ann", "bob", "cat"]
REFS = ["user_activity_fv:events_7d", "user_history_fv:purchased_products_7d"]


@pytest.fixture(params=["sqlite", "redis"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path, unique: str
                   ) -> Iterator[Settings]:
    settings = Settings(state_dir=tmp_path / "state", lake_uri=str(tmp_path / "lake"),
                        feast_project=f"er{unique}", feast_online_store=request.param,
                        redis_url=REDIS_URL if request.param == "redis" else None)
    yield settings
    if request.param == "redis":
        client = redis.Redis.from_url(REDIS_URL)
        try:
            keys = list(client.scan_iter(match=f"*er{unique}".encode(), count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


def test_delete_online_removes_every_user_view_of_the_people(store_settings: Settings) -> None:
    import pandas as pd

    from glamcast.core.features import USER_FEATURES

    features.apply(store_settings)
    store = feature_store(store_settings)
    now = pd.Timestamp.now(tz="UTC")
    activity = pd.DataFrame({"user_id": PEOPLE, "event_timestamp": now})
    for name, kind in USER_FEATURES.items():
        activity[name] = {"Int32": 1, "Int64": 1, "Float32": 0.5, "Float64": 0.5,
                          "String": "x"}[kind]
    push_features(store, USER_ACTIVITY_PUSH_SOURCE, activity, offline=False)
    history = pd.DataFrame({"user_id": PEOPLE[:2], "event_timestamp": now,
                            "purchased_products_7d": [["p1"], ["p2"]]})
    push_features(store, USER_HISTORY_PUSH_SOURCE, history, offline=False)

    deleted = features.delete_online(store, ["ann", "cat", "zed"])
    assert deleted == {"ann": {"user_activity_fv": 1, "user_history_fv": 1},
                       "cat": {"user_activity_fv": 1}}
    values = store.get_online_features(
        features=REFS, entity_rows=[{"user_id": user} for user in PEOPLE]).to_dict()
    assert values["events_7d"] == [None, 1, None]
    assert values["purchased_products_7d"] == [None, ["p2"], None]
    assert features.delete_online(store, ["ann", "cat"]) == {}  # nothing left
