"""The retention job: which partitions go and which lose their face attributes, and a run on a
small lake (no services)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from glamcast.core.events import TryOnEvent
from glamcast.core.names import CATALOG, COMMERCE, TRYON
from glamcast.core.settings import Settings
from glamcast.platform import lake
from jobs.enforce_retention import EnforceRetentionConfig, enforce_retention, retention_plan

TODAY = date(2025, 6, 30)
NOW = datetime(2025, 6, 30, 9, 0, tzinfo=UTC)


def days_ago(*ages: int) -> list[date]:
    return [TODAY - timedelta(days=age) for age in ages]


def test_plan_drops_before_each_cutoff_and_clears_face_attributes_sooner() -> None:
    partitions = {
        TRYON: days_ago(400, 396, 395, 100, 31, 30, 29, 0),
        COMMERCE: days_ago(800, 731, 730, 1),
        CATALOG: days_ago(2000),  # no retention: kept
    }
    plan = retention_plan(partitions, {TRYON: 395, COMMERCE: 730}, face_retention_days=30,
                          today=TODAY, face_datasets=[TRYON])
    assert plan.drop == {TRYON: days_ago(400, 396), COMMERCE: days_ago(800, 731)}
    assert plan.clear_face == {TRYON: days_ago(395, 100, 31)}  # the 30-day-old one keeps them
    assert plan.face_cutoff == TODAY - timedelta(days=30)


def test_plan_of_a_young_lake_is_empty() -> None:
    plan = retention_plan({TRYON: days_ago(3, 2, 1)}, {TRYON: 395}, 30, TODAY, [TRYON])
    assert plan.drop == {} and plan.clear_face == {}


def tryon(event_id: str, day: date) -> TryOnEvent:
    return TryOnEvent(event_id=event_id, ts=datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
                      user_id="u1", session_id="s", action="try_on", product_id="p1",
                      category="lipstick", shade_hex="#C04060", finish="matte", dwell_ms=1,
                      platform="ios", app_version="1.0",
                      face={"skin_tone": 4, "undertone": "warm", "face_shape": "oval"})


def test_a_run_deletes_old_partitions_and_empties_old_faces(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, lake_uri=str(tmp_path / "lake"),
                        retention_days={TRYON: 100}, face_retention_days=10)
    root = settings.lake_root
    ages = (120, 50, 5)
    events = [tryon(f"e{age}", day) for age, day in zip(ages, days_ago(*ages), strict=True)]
    table = lake.table_from_events(TRYON, events, partition=0, offsets=[0, 1, 2])
    lake.write_event_batch(root, TRYON, "glamcast.tryon.v1", 0, table)
    stamps = pa.array([NOW - timedelta(days=20), NOW], lake.TIMESTAMP)
    lake.write_file(root, "features/user_activity.parquet", pa.table({
        "user_id": ["u1", "u2"], "event_timestamp": stamps, "skin_tone": [4, 5],
        "undertone": ["warm", "cool"]}))

    dry = enforce_retention(settings, EnforceRetentionConfig(now=NOW, dry_run=True))
    assert dry.plan.drop == {TRYON: days_ago(120)} and dry.dropped_files == {}
    assert len(lake.read_dataset(settings, TRYON)) == 3

    result = enforce_retention(settings, EnforceRetentionConfig(now=NOW))
    assert result.dropped_files == {TRYON: 1}
    assert result.face_rows == {TRYON: 1, "features/user_activity": 1}
    left = lake.read_dataset(settings, TRYON)
    assert left["event_id"].tolist() == ["e50", "e5"]
    assert left["face_skin_tone"].isna().tolist() == [True, False]
    assert left["face_undertone"].tolist() == [None, "warm"]
    assert left["face_shape"].tolist() == [None, "oval"]
    features = pq.read_table(f"{root}/features/user_activity.parquet")
    assert features["skin_tone"].to_pylist() == [None, 5]

    again = enforce_retention(settings, EnforceRetentionConfig(now=NOW))
    assert again.dropped_files == {} and again.face_rows == {}  # nothing left to do
