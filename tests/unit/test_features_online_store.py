"""The `local` online store (`glamcast.sqlite_online_store`): one row per entity, newest wins."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value

from glamcast.sqlite_online_store import WideSqliteOnlineStore

T = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
VIEW = SimpleNamespace(name="user_activity_fv")


def config(path: Path) -> SimpleNamespace:
    return SimpleNamespace(
        project="p1",
        entity_key_serialization_version=3,
        online_store=SimpleNamespace(path=str(path)),
    )


def key(user: str) -> EntityKey:
    return EntityKey(join_keys=["user_id"], entity_values=[Value(string_val=user)])


def test_rows_round_trip_and_an_older_write_never_replaces_a_newer(tmp_path: Path) -> None:
    cfg = config(tmp_path / "online.db")
    store = WideSqliteOnlineStore()
    store.update(cfg, [], [VIEW], [], [], partial=False)
    newer = {"tries_7d": Value(int64_val=5), "undertone": Value(), "fav": Value(string_val="red")}
    store.online_write_batch(cfg, VIEW, [(key("u1"), newer, T, None)], None)
    older = {"tries_7d": Value(int64_val=1), "undertone": Value(), "fav": Value(string_val="nude")}
    store.online_write_batch(cfg, VIEW, [(key("u1"), older, T - timedelta(seconds=1), None)], None)

    (ts, values), (missing_ts, missing) = store.online_read(cfg, VIEW, [key("u1"), key("nobody")])
    assert ts == T  # microseconds kept
    assert values == newer
    assert (missing_ts, missing) == (None, None)
    _, only = store.online_read(cfg, VIEW, [key("u1")], requested_features=["fav"])[0]
    assert only == {"fav": Value(string_val="red")}


def test_a_table_in_feasts_own_layout_is_replaced_on_apply(tmp_path: Path) -> None:
    path = tmp_path / "online.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            'CREATE TABLE "p1_user_activity_fv" (entity_key BLOB, feature_name TEXT, value BLOB, '
            "event_ts timestamp, created_ts timestamp, PRIMARY KEY(entity_key, feature_name))"
        )
    cfg = config(path)
    store = WideSqliteOnlineStore()
    store.update(cfg, [], [VIEW], [], [], partial=False)
    store.online_write_batch(cfg, VIEW, [(key("u1"), {"x": Value(int64_val=1)}, T, None)], None)
    assert store.online_read(cfg, VIEW, [key("u1")])[0][1] == {"x": Value(int64_val=1)}
