"""End to end on the embedded broker: try-on events → stream worker → Feast online store, equal to
a pandas recomputation of the same windows from the lake.

The recomputation below is written out per user from the window definition (docs/features.md),
not with `glamcast.platform.features`, so the two are checked against each other.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from testkit import end_offsets, produce, wait_committed, worker_exited

from glamcast.core import topics
from glamcast.core.features import PRODUCT_FEATURES, USER_FEATURES
from glamcast.core.names import TRYON
from glamcast.core.settings import Settings
from glamcast.core.shades import shade_family
from glamcast.platform import features, lake
from glamcast.platform.features import feature_store
from streams.features import features_group
from streams.ingestion import ingest_group
from streams.worker import WorkerProcess, stop_workers

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
def feature_settings(streams_settings: Settings, unique: str, tmp_path: Path) -> Settings:
    """`streams_settings` with a Feast repository of its own, applied, and the feature stage on."""
    settings = streams_settings.model_copy(
        update={
            "feast_dir": tmp_path / "feast",
            "feast_project": f"f{unique}",
            "streams_features": True,
        }
    )
    features.apply(settings)
    return settings


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


def produce_tryons(settings: Settings, events: list[dict]) -> dict[tuple[str, int], int]:
    """Produce try-on events keyed by user; returns the end offset of each partition written."""
    records = [(topics.TRYON, e["user_id"].encode(), json.dumps(e).encode()) for e in events]
    return end_offsets(produce(settings, records))


def wait_drained(
    settings: Settings, ends: dict[tuple[str, int], int], processes: list[WorkerProcess]
) -> None:
    """Until the lake sink and the feature stage have committed every offset below `ends`."""
    groups = [ingest_group(settings), features_group(settings)]
    wait_committed(settings, groups, ends, 180, abort=worker_exited(processes))


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
    feature_settings: Settings, workers: Callable[..., list[WorkerProcess]]
) -> None:
    settings = feature_settings
    worker = workers(settings)
    rng = random.Random(11)
    users = 40
    events = [tryon(rng, i, users) for i in range(3_000)]
    events += [dict(events[i]) for i in range(0, 3_000, 100)]  # replays: counted once
    wait_drained(settings, produce_tryons(settings, events), worker)

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
    feature_settings: Settings, workers: Callable[..., list[WorkerProcess]], tmp_path: Path
) -> None:
    """After a restart the state holds only what the lake gives back: the new events' users
    must still see their earlier events in their windows."""
    settings = feature_settings
    rng = random.Random(12)
    before = [tryon(rng, i, 8) for i in range(400)]
    after = [tryon(rng, i, 8) for i in range(400, 460)]
    first = workers(settings, log_dir=tmp_path / "first")
    try:
        wait_drained(settings, produce_tryons(settings, before), first)
    finally:
        stop_workers(first)
    second = workers(settings, log_dir=tmp_path / "second")
    try:
        wait_drained(settings, produce_tryons(settings, after), second)
        landed = assert_users_equal_the_lake(settings)
    finally:
        stop_workers(second)
    assert len(landed) == 460
    # the bootstrap reads the longest window and a day before the lake's last day
    start = datetime.fromisoformat(max(e["ts"] for e in before)[:10]).replace(tzinfo=UTC)
    expected = sum(datetime.fromisoformat(e["ts"]) >= start - timedelta(days=8) for e in before)
    log = (tmp_path / "second" / "worker-0.log").read_text(errors="replace")
    assert f"feature state bootstrapped from {expected} lake events" in log
