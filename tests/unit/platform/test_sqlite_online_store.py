"""The `local` online store (`glamcast.platform.sqlite_online_store`): one row per entity, newest wins."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value

from glamcast.core.features import USER_ACTIVITY_VIEW, USER_FEATURES
from glamcast.core.names import EVENT_TIMESTAMP_COL, USER_COL
from glamcast.platform.features import online_rows
from glamcast.platform.sqlite_online_store import SqliteRowWriter, WideSqliteOnlineStore

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


def test_stream_rows_are_written_as_built_and_read_back_value_for_value(tmp_path: Path) -> None:
    """`online_rows` sets each feature in place in one map Value; the store writes that map
    as it is, and every feature reads back with its type: 0 as 0, None as Feast's null."""
    row = {name: None for name in USER_FEATURES}
    row.update(
        {USER_COL: "u7", EVENT_TIMESTAMP_COL: T, "tries_1h": 0, "tries_7d": 3, "likes_24h": 2048,
         "fav_finish_7d": "satin", "mean_dwell_ms_7d": 1234.5, "skin_tone": 6}
    )
    (entity_key, values, ts, created), = online_rows(USER_ACTIVITY_VIEW, [row])
    assert (entity_key, ts, created) == (key("u7"), T, None)
    assert set(values) == set(USER_FEATURES) and len(values) == len(USER_FEATURES)
    assert values["tries_1h"].WhichOneof("val") == "int64_val"  # a real 0, not null
    assert values["undertone"].WhichOneof("val") is None
    with pytest.raises(KeyError):
        values["no_such_feature"]

    cfg = config(tmp_path / "online.db")
    store = WideSqliteOnlineStore()
    store.update(cfg, [], [VIEW], [], [], partial=False)
    store.online_write_batch(cfg, VIEW, [(entity_key, values, ts, created)], None)
    read_ts, read = store.online_read(cfg, VIEW, [key("u7")])[0]
    assert read_ts == T
    assert read == dict(values.items())
    decoded = {name: value.WhichOneof("val") and getattr(value, value.WhichOneof("val"))
               for name, value in read.items()}
    expected = {name: row[name] for name in USER_FEATURES}
    assert decoded == expected


def test_the_direct_writer_stores_what_feasts_path_stores(tmp_path: Path) -> None:
    """`SqliteRowWriter` (the stream stage's writer) and `online_write_batch` of `online_rows`
    (Feast's path) leave the same rows: event time and every feature, value for value."""
    rows = []
    for i in range(50):
        row = {name: None for name in USER_FEATURES}
        row.update({USER_COL: f"u{i}", EVENT_TIMESTAMP_COL: T + timedelta(seconds=i),
                    "tries_1h": i % 3, "tries_7d": 1000 + i, "likes_24h": 2**40 + i,
                    "fav_finish_7d": ["satin", "matte", None][i % 3],
                    "mean_dwell_ms_7d": i * 1.25 if i % 4 else None, "skin_tone": i % 10 + 1})
        rows.append(row)
    feast_store, direct_store = WideSqliteOnlineStore(), WideSqliteOnlineStore()
    feast_cfg, direct_cfg = config(tmp_path / "feast.db"), config(tmp_path / "direct.db")
    feast_store.update(feast_cfg, [], [VIEW], [], [], partial=False)
    direct_store.update(direct_cfg, [], [VIEW], [], [], partial=False)
    feast_store.online_write_batch(feast_cfg, VIEW, online_rows(USER_ACTIVITY_VIEW, rows), None)
    writer = SqliteRowWriter(direct_store, direct_cfg, VIEW, entity=USER_COL,
                             features=USER_FEATURES)
    writer.write(rows, EVENT_TIMESTAMP_COL)
    keys = [key(f"u{i}") for i in range(50)] + [key("nobody")]
    expected = feast_store.online_read(feast_cfg, VIEW, keys)
    assert direct_store.online_read(direct_cfg, VIEW, keys) == expected
    assert expected[-1] == (None, None) and all(ts is not None for ts, _ in expected[:-1])
    # an older row never replaces a newer one on this path either
    writer.write([{**rows[0], EVENT_TIMESTAMP_COL: T - timedelta(days=1), "tries_7d": 1}],
                 EVENT_TIMESTAMP_COL)
    assert direct_store.online_read(direct_cfg, VIEW, [key("u0")]) == expected[:1]
