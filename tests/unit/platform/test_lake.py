"""The Parquet lake: schemas, layout, atomic writes and deduplicating readers (no services)."""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from glamcast.core.events import CommerceEvent, SocialEvent, TryOnEvent
from glamcast.core.names import COMMERCE, SOCIAL, TREND_COUNTS, TRYON
from glamcast.core.settings import Settings
from glamcast.platform import lake

T0 = datetime(2025, 3, 1, 22, 30, tzinfo=UTC)


def tryon(event_id: str, ts: datetime = T0, **fields: object) -> TryOnEvent:
    values = {
        "event_id": event_id,
        "ts": ts,
        "user_id": "u1",
        "session_id": "s1",
        "action": "try_on",
        "product_id": "p1",
        "category": "lipstick",
        "shade_hex": "#C04060",
        "finish": "matte",
        "dwell_ms": 1200,
        "platform": "ios",
        "app_version": "1.0",
    }
    values.update(fields)
    return TryOnEvent(**values)


def write_tryons(
    root: Path, events: list[TryOnEvent], partition: int = 0, first_offset: int = 0
) -> list[str]:
    offsets = list(range(first_offset, first_offset + len(events)))
    table = lake.table_from_events(TRYON, events, partition=partition, offsets=offsets)
    return lake.write_event_batch(str(root), TRYON, "glamcast.tryon.v1", partition, table)


# --- events to Arrow ---------------------------------------------------------------------------


def test_tryon_table_flattens_face_and_keeps_utc_microseconds() -> None:
    with_face = tryon(
        "a",
        ts=datetime(2025, 3, 2, 1, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
        face={"skin_tone": 7, "undertone": "warm", "face_shape": "oval"},
    )
    table = lake.table_from_events(
        TRYON, [with_face, tryon("b")], partition=3, offsets=[10, 11]
    )

    assert table.schema == lake.SCHEMAS[TRYON]
    rows = table.to_pylist()
    assert rows[0]["ts"] == datetime(2025, 3, 1, 23, 0, 0, 123456, tzinfo=UTC)  # +02:00 → UTC
    assert (rows[0]["face_skin_tone"], rows[0]["face_undertone"], rows[0]["face_shape"]) == (
        7,
        "warm",
        "oval",
    )
    assert (rows[1]["face_skin_tone"], rows[1]["face_undertone"], rows[1]["face_shape"]) == (
        None,
        None,
        None,
    )
    assert rows[0]["action"] == "try_on" and type(rows[0]["action"]) is str
    assert [(row["kafka_partition"], row["kafka_offset"]) for row in rows] == [(3, 10), (3, 11)]


def test_commerce_table_keeps_rees46_columns_and_adds_ts() -> None:
    event = CommerceEvent.model_validate(
        {
            "event_time": "2019-10-01 00:00:07 UTC",
            "event_type": "cart",
            "product_id": 5802432,
            "category_id": 2018,
            "category_code": "",
            "brand": "runail",
            "price": 2.62,
            "user_id": 463240011,
            "user_session": "26dd6e6e",
        }
    )
    row = lake.table_from_events(COMMERCE, [event]).to_pylist()[0]

    assert lake.SCHEMAS[COMMERCE].names[:9] == [
        "event_time",
        "event_type",
        "product_id",
        "category_id",
        "category_code",
        "brand",
        "price",
        "user_id",
        "user_session",
    ]
    assert row["ts"] == row["event_time"] == datetime(2019, 10, 1, 0, 0, 7, tzinfo=UTC)
    assert (row["product_id"], row["user_id"], row["category_code"]) == (
        "5802432",
        "463240011",
        None,
    )
    assert row["kafka_partition"] is None and row["kafka_offset"] is None


def test_social_lists_stay_lists() -> None:
    post = SocialEvent(
        event_id="s",
        ts=T0,
        platform="tiktok",
        post_id="p",
        author_id="a",
        hashtags=["#RedLips", "#grwm"],
        brands=["Fenty Beauty"],
        likes=3,
        lang="en",
    )
    row = lake.table_from_events(SOCIAL, [post]).to_pylist()[0]
    assert row["hashtags"] == ["#RedLips", "#grwm"] and row["product_ids"] == []


# --- layout and atomic writes --------------------------------------------------------------------


def test_batch_files_are_split_by_event_date_and_named_by_offset_range(tmp_path: Path) -> None:
    events = [
        tryon("a", T0),
        tryon("b", T0 + timedelta(hours=2)),
        tryon("c", T0 + timedelta(minutes=5)),
    ]
    paths = write_tryons(tmp_path, events, partition=2, first_offset=100)

    relative = sorted(str(Path(path).relative_to(tmp_path)) for path in paths)
    assert relative == [
        "tryon/date=2025-03-01/glamcast.tryon.v1-p2-100-102.parquet",  # a (100) and c (102)
        "tryon/date=2025-03-02/glamcast.tryon.v1-p2-101-101.parquet",
    ]
    assert [name for name in os.listdir(tmp_path / "tryon" / "date=2025-03-01")] == [
        "glamcast.tryon.v1-p2-100-102.parquet"
    ]  # no temp file left behind


def test_write_file_replaces_the_same_name_and_keeps_metadata(tmp_path: Path) -> None:
    first = pa.table({"x": [1]})
    second = pa.table({"x": [2, 3]})
    lake.write_file(str(tmp_path), "d/date=2025-01-01/f.parquet", first)
    lake.write_file(str(tmp_path), "d/date=2025-01-01/f.parquet", second, metadata={"k": "v"})

    stored = lake.read_file(str(tmp_path), "d/date=2025-01-01/f.parquet")
    assert stored is not None and stored["x"].to_pylist() == [2, 3]
    assert stored.schema.metadata[b"k"] == b"v"
    assert lake.read_file(str(tmp_path), "d/date=2025-01-01/missing.parquet") is None


def test_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    class NotATable:
        schema = pa.schema([])

    with pytest.raises(TypeError):
        lake.write_file(str(tmp_path), "d/f.parquet", NotATable())  # type: ignore[arg-type]
    assert os.listdir(tmp_path / "d") == []


def test_remove_temp_files_only_removes_old_hidden_temps(tmp_path: Path) -> None:
    directory = tmp_path / "tryon" / "date=2025-03-01"
    directory.mkdir(parents=True)
    old, fresh, data = (
        directory / ".f.parquet.abc.tmp",
        directory / ".g.parquet.def.tmp",
        directory / "f.parquet",
    )
    for path in (old, fresh, data):
        path.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))

    assert lake.remove_temp_files(str(tmp_path), older_than_s=3600) == 1
    assert not old.exists() and fresh.exists() and data.exists()


# --- readers -------------------------------------------------------------------------------------


def test_read_dataset_deduplicates_replayed_batches(tmp_path: Path) -> None:
    events = [tryon(f"e{i}", T0 + timedelta(minutes=i)) for i in range(6)]
    write_tryons(tmp_path, events[:4], first_offset=0)  # landed, then the worker died uncommitted
    write_tryons(tmp_path, events[2:], first_offset=2)  # the replay, other batch boundaries

    assert lake.read_table(tmp_path, TRYON).num_rows == 8
    frame = lake.read_dataset(tmp_path, TRYON)
    assert frame["event_id"].tolist() == [f"e{i}" for i in range(6)]
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"


def test_read_dataset_filters_by_time_and_selects_columns(tmp_path: Path) -> None:
    events = [tryon(f"e{i}", T0 + timedelta(hours=i)) for i in range(5)]  # 22:30 .. 02:30 next day
    write_tryons(tmp_path, events)

    window = lake.read_dataset(
        tmp_path,
        TRYON,
        start=T0 + timedelta(hours=1),
        end=datetime(2025, 3, 2, 2, 0),
        columns=["event_id", "ts"],
    )
    assert window["event_id"].tolist() == ["e1", "e2", "e3"]
    assert list(window.columns) == ["event_id", "ts"]
    by_date = lake.read_dataset(tmp_path, TRYON, start=date(2025, 3, 2))
    assert by_date["event_id"].tolist() == ["e2", "e3", "e4"]
    by_string = lake.read_dataset(tmp_path, TRYON, end="2025-03-01T23:30:00+00:00")
    assert by_string["event_id"].tolist() == ["e0"]
    with pytest.raises(lake.LakeError, match="no column"):
        lake.read_dataset(tmp_path, TRYON, columns=["nope"])


def test_read_dataset_takes_settings_and_returns_typed_empty_frames(tmp_path: Path) -> None:
    settings = Settings(lake_uri=str(tmp_path))
    empty = lake.read_dataset(settings, SOCIAL)
    assert empty.empty and list(empty.columns) == lake.SCHEMAS[SOCIAL].names
    write_tryons(tmp_path, [tryon("a")])
    assert lake.read_dataset(settings, TRYON)["event_id"].tolist() == ["a"]


def test_files_with_older_schemas_read_with_null_new_columns(tmp_path: Path) -> None:
    old = lake.table_from_events(TRYON, [tryon("old")], partition=0, offsets=[0]).drop_columns(
        ["look_id"]
    )
    directory = tmp_path / "tryon" / "date=2025-03-01"
    directory.mkdir(parents=True)
    pq.write_table(old, directory / "glamcast.tryon.v1-p0-0-0.parquet")
    frame = lake.read_dataset(tmp_path, TRYON)
    assert frame["event_id"].tolist() == ["old"] and frame["look_id"].isna().all()


def test_trend_counts_are_summed_over_partition_files(tmp_path: Path) -> None:
    hour = datetime(2025, 3, 1, 10, tzinfo=UTC)

    def counts(weight: float, events: int) -> pa.Table:
        return pa.table(
            {
                "hour": pa.array([hour, hour + timedelta(hours=1)], lake.TIMESTAMP),
                "term_type": ["hashtag", "hashtag"],
                "term": ["redlips", "redlips"],
                "source": ["social", "social"],
                "weight": [weight, 1.0],
                "events": [events, 1],
            },
            schema=lake.SCHEMAS[TREND_COUNTS],
        )

    lake.write_file(str(tmp_path), "trend_counts/date=2025-03-01/t-p0.parquet", counts(2.5, 2))
    lake.write_file(str(tmp_path), "trend_counts/date=2025-03-01/t-p1.parquet", counts(4.0, 3))

    frame = lake.read_dataset(tmp_path, TREND_COUNTS)
    assert frame.to_dict("records") == [
        {
            "hour": pd.Timestamp(hour),
            "term_type": "hashtag",
            "term": "redlips",
            "source": "social",
            "weight": 6.5,
            "events": 5,
        },
        {
            "hour": pd.Timestamp(hour + timedelta(hours=1)),
            "term_type": "hashtag",
            "term": "redlips",
            "source": "social",
            "weight": 2.0,
            "events": 2,
        },
    ]
    later = lake.read_dataset(tmp_path, TREND_COUNTS, start=hour + timedelta(minutes=30))
    assert later["weight"].tolist() == [2.0]


def test_filesystem_maps_spark_s3a_to_s3() -> None:
    _fs, path = lake.filesystem("/tmp/some/../lake")
    assert path == "/tmp/lake"
    s3, bucket_path = lake.filesystem("s3a://bucket/lake/?region=eu-west-1")
    assert s3.type_name == "s3" and bucket_path == "bucket/lake"
