"""Erasure and retention in the lake: rows of people removed with each file replaced atomically,
partitions dropped whole, face columns emptied (no services)."""

from __future__ import annotations

import os
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from glamcast.core.events import SocialEvent, TryOnEvent
from glamcast.core.names import SOCIAL, TRYON
from glamcast.platform import lake

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FACE = {"skin_tone": 5, "undertone": "warm", "face_shape": "oval"}


def tryon(event_id: str, user: str, ts: datetime = T0, face: dict | None = None) -> TryOnEvent:
    return TryOnEvent(event_id=event_id, ts=ts, user_id=user, session_id="s", action="try_on",
                      product_id="p1", category="lipstick", shade_hex="#C04060", finish="matte",
                      dwell_ms=1200, platform="ios", app_version="1.0", face=face)


def post(event_id: str, author: str) -> SocialEvent:
    return SocialEvent(event_id=event_id, ts=T0, platform="tiktok", post_id=event_id,
                       author_id=author, lang="en")


def write_tryons(root: Path, events: list[TryOnEvent], partition: int = 0) -> list[str]:
    table = lake.table_from_events(TRYON, events, partition=partition,
                                   offsets=list(range(len(events))))
    return lake.write_event_batch(str(root), TRYON, "glamcast.tryon.v1", partition, table)


def relative(root: Path, path: str) -> str:
    return str(Path(path).relative_to(root.resolve()))


def test_remove_rows_counts_per_person_and_keeps_the_rest_and_the_metadata(tmp_path: Path) -> None:
    events = [tryon("a", "ann"), tryon("b", "bob"), tryon("c", "ann"), tryon("d", "cat")]
    table = lake.table_from_events(TRYON, events, partition=0, offsets=[0, 1, 2, 3])
    path = lake.write_file(str(tmp_path), "tryon/date=2025-03-01/f.parquet", table,
                           metadata={"writer": "test"})
    removed = lake.remove_rows(str(tmp_path), relative(tmp_path, path), ["ann", "bob", "zed"])
    assert removed == {"ann": 2, "bob": 1}
    after = pq.read_table(path)
    assert after.column("event_id").to_pylist() == ["d"]
    assert after.schema.equals(lake.SCHEMAS[TRYON])
    assert after.schema.metadata[b"writer"] == b"test"
    assert sorted(os.listdir(Path(path).parent)) == ["f.parquet"]  # no temp file left


def test_a_file_without_the_people_is_not_rewritten(tmp_path: Path) -> None:
    [path] = write_tryons(tmp_path, [tryon("a", "ann")])
    before = os.stat(path)
    assert lake.remove_rows(str(tmp_path), relative(tmp_path, path), ["bob"]) == {}
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_reader_sees_the_whole_old_file_or_the_whole_new_one(tmp_path: Path) -> None:
    """Many rewrites while the lake's reader reads in a loop: every read is a whole file of
    the old or of the new rows, never an error or a part. (A reader that opens the path twice,
    as `pq.read_table(path)` does, could mix two versions; the lake's readers open it once.)"""
    users = [f"u{i}" for i in range(200)]
    events = [tryon(f"e{i}-{j}", user) for i, user in enumerate(users) for j in range(20)]
    [path] = write_tryons(tmp_path, events)
    counts: set[int] = set()
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                counts.add(lake.read_table(str(tmp_path), TRYON).num_rows)
            except BaseException as exc:  # noqa: BLE001 — the test reports it
                errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for user in users[:50]:
            assert lake.remove_rows(str(tmp_path), relative(tmp_path, path), [user]) == {user: 20}
    finally:
        done.set()
        reader.join()
    assert errors == []
    assert counts <= {4000 - 20 * n for n in range(51)} and len(counts) > 1


def test_a_rewrite_that_fails_midway_leaves_the_original(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    [path] = write_tryons(tmp_path, [tryon("a", "ann"), tryon("b", "bob")])
    original = Path(path).read_bytes()

    def disk_full(table: pa.Table, where, **kwargs) -> None:
        where.write(b"PAR1 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(lake.pq, "write_table", disk_full)
    with pytest.raises(OSError, match="No space"):
        lake.remove_rows(str(tmp_path), relative(tmp_path, path), ["ann"])
    assert Path(path).read_bytes() == original
    assert sorted(os.listdir(Path(path).parent)) == [Path(path).name]


def test_remove_people_sweeps_every_table_and_names_each(tmp_path: Path) -> None:
    root = str(tmp_path)
    write_tryons(tmp_path, [tryon("a", "ann"), tryon("b", "bob"),
                            tryon("c", "ann", ts=T0 + timedelta(days=1))])
    social = lake.table_from_events(SOCIAL, [post("p1", "ann"), post("p2", "dan")], partition=0,
                                    offsets=[0, 1])
    lake.write_event_batch(root, SOCIAL, "glamcast.social.v1", 0, social)
    features = pa.table({"user_id": ["ann", "bob", "ann"], "events_7d": [1, 2, 3]})
    lake.write_file(root, "features/user_activity.parquet", features)
    embeddings = pa.table({"user_id": ["bob", "ann"], "model_version": [1, 1]})
    lake.write_file(root, "embeddings/users/m-v1.parquet", embeddings)
    lake.write_file(root, "tryon/date=2025-03-01/.hidden.parquet", features)  # not read

    assert lake.remove_people(root, ["ann"]) == {"ann": {
        "tryon": 2, "social": 1, "features/user_activity": 2, "embeddings/users": 1}}
    assert lake.read_dataset(root, TRYON)["user_id"].tolist() == ["bob"]
    assert lake.read_dataset(root, SOCIAL)["author_id"].tolist() == ["dan"]
    assert pq.read_table(f"{root}/features/user_activity.parquet")["user_id"].to_pylist() == ["bob"]
    assert lake.remove_people(root, ["ann"]) == {}  # a second sweep finds nothing


def test_table_location() -> None:
    assert lake.table_location("tryon/date=2025-03-01/x.parquet") == "tryon"
    assert lake.table_location("forecasts/date=2025-03-01/run/x.parquet") == "forecasts"
    assert lake.table_location("features/user_activity.parquet") == "features/user_activity"
    assert lake.table_location("features/user_activity/part-0.parquet") == "features/user_activity"
    assert lake.table_location("embeddings/users/m-v3.parquet") == "embeddings/users"


def test_expired_dates_keep_the_cutoff_day() -> None:
    days = [date(2025, 1, d) for d in (1, 2, 3, 4)]
    assert lake.expired_dates(days, date(2025, 1, 5), keep_days=2) == days[:2]
    assert lake.expired_dates(days, date(2025, 1, 5), keep_days=10) == []


def test_drop_partition_removes_the_day_whole(tmp_path: Path) -> None:
    write_tryons(tmp_path, [tryon("a", "ann"), tryon("b", "bob", ts=T0 + timedelta(days=1))])
    assert lake.partition_dates(str(tmp_path), TRYON) == [date(2025, 3, 1), date(2025, 3, 2)]
    assert lake.drop_partition(str(tmp_path), TRYON, date(2025, 3, 1)) == 1
    assert lake.partition_dates(str(tmp_path), TRYON) == [date(2025, 3, 2)]
    assert sorted(os.listdir(tmp_path / TRYON)) == ["date=2025-03-02"]  # nothing hidden left
    assert lake.read_dataset(str(tmp_path), TRYON)["event_id"].tolist() == ["b"]


def test_clear_columns_before_a_time(tmp_path: Path) -> None:
    root = str(tmp_path)
    times = pa.array([T0 - timedelta(days=40), T0, T0 - timedelta(days=31)], lake.TIMESTAMP)
    table = pa.table({"user_id": ["a", "b", "c"], "event_timestamp": times,
                      "skin_tone": pa.array([3, 4, None], pa.int64()),
                      "undertone": ["warm", "cool", "cool"]})
    lake.write_file(root, "features/user_activity.parquet", table)
    cleared = lake.clear_columns(root, "features/user_activity.parquet", ["skin_tone", "undertone"],
                                 before=T0 - timedelta(days=30), time_column="event_timestamp")
    assert cleared == 2
    after = pq.read_table(f"{root}/features/user_activity.parquet")
    assert after["skin_tone"].to_pylist() == [None, 4, None]
    assert after["undertone"].to_pylist() == [None, "cool", None]
    assert after.schema.equals(table.schema)
