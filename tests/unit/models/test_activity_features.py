"""Window aggregates of the user and product features, on tiny tables with exact expectations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from glamcast.core.features import EVENT_COLUMNS, PRODUCT_FEATURES, USER_FEATURES
from glamcast.platform.features import _redis_connection_string, _sqlalchemy_url
from models.activity_features import product_popularity_features, user_activity_features
from streams.features import FeatureState

T = datetime(2025, 3, 8, 12, 0, tzinfo=UTC)


def events(*rows: tuple) -> pd.DataFrame:
    """Rows of (event_id, age before T, user, product, action, category, hex, finish, dwell,
    skin tone, undertone)."""
    records = [(eid, T - age, *rest) for eid, age, *rest in rows]
    frame = pd.DataFrame.from_records(records, columns=list(EVENT_COLUMNS))
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["face_skin_tone"] = frame["face_skin_tone"].astype("Int64")
    return frame


H = timedelta(hours=1)
SAMPLE = events(
    ("e1", 0 * H, "u1", "p1", "try_on", "lipstick", "#C0392B", "matte", 100, 4, "warm"),
    ("e2", 0.5 * H, "u1", "p1", "shade_swap", "lipstick", "#C0392B", "matte", 300, None, None),
    ("e3", 1 * H, "u1", "p2", "like", "blush", "#F4A6B7", "satin", 200, 6, "cool"),  # 1 h: out
    ("e4", 23 * H, "u1", "p2", "add_to_cart", "blush", "#F4A6B7", "satin", 400, None, None),
    ("e5", 24 * H, "u1", "p1", "purchase", "lipstick", "#8E2440", "gloss", 500, None, None),
    ("e6", 7 * 24 * H, "u1", "p1", "purchase", "lipstick", "#8E2440", "gloss", 900, 9, "cool"),
    ("e7", 3 * H, "u2", "p1", "dismiss", "lipstick", "#E8B5A0", "satin", 50, None, None),
)


def test_user_windows_are_anchored_at_the_latest_event_and_half_open() -> None:
    out = user_activity_features(SAMPLE).set_index("user_id")
    u1 = out.loc["u1"]
    assert out.columns.tolist() == ["event_timestamp", *USER_FEATURES]
    assert u1["event_timestamp"] == T
    # T - w < ts <= T: an event exactly w before T is outside the window w
    assert (u1["tries_1h"], u1["likes_1h"]) == (2, 0)
    assert (u1["likes_24h"], u1["carts_24h"], u1["purchases_24h"]) == (1, 1, 0)
    assert (u1["tries_7d"], u1["purchases_7d"], u1["events_7d"]) == (2, 1, 5)  # e6 is 7 d old
    assert u1["tries_7d_lipstick"] == 2 and u1["purchases_7d_lipstick"] == 1
    assert u1["tries_7d_blush"] == 0
    assert u1["fav_finish_7d"] == "matte"  # matte 2, satin 2, gloss 1: tie to the first
    assert u1["fav_shade_family_7d"] == "pink"  # red 2, pink 2, berry 1: tie to the first
    assert u1["mean_dwell_ms_7d"] == pytest.approx((100 + 300 + 200 + 400 + 500) / 5)
    assert (u1["skin_tone"], u1["undertone"]) == (4, "warm")  # latest consented face
    assert u1["last_event_ms"] == int(T.timestamp() * 1000)
    u2 = out.loc["u2"]
    assert u2["event_timestamp"] == T - 3 * H
    assert (u2["tries_7d"], u2["events_7d"]) == (0, 1)
    assert pd.isna(u2["skin_tone"]) and pd.isna(u2["undertone"])


def test_duplicates_count_once() -> None:
    doubled = pd.concat([SAMPLE, SAMPLE.iloc[[0]]], ignore_index=True)
    assert user_activity_features(doubled).equals(user_activity_features(SAMPLE))


def test_product_popularity_and_conversion() -> None:
    out = product_popularity_features(SAMPLE).set_index("product_id")
    assert out.columns.tolist() == ["event_timestamp", *PRODUCT_FEATURES]
    p1 = out.loc["p1"]  # anchored at e1 (T): e5 at 24 h and e6 at 7 d fall out of their windows
    assert (p1["product_tries_24h"], p1["product_purchases_24h"]) == (2, 0)
    assert (p1["product_tries_7d"], p1["product_purchases_7d"]) == (2, 1)
    assert p1["product_conversion_7d"] == pytest.approx(0.5)
    p2 = out.loc["p2"]  # anchored at e3 (T - 1 h)
    assert p2["event_timestamp"] == T - H
    assert (p2["product_likes_24h"], p2["product_carts_24h"], p2["product_tries_7d"]) == (1, 1, 0)
    assert p2["product_conversion_7d"] == 0.0


def test_empty_events_give_empty_typed_frames() -> None:
    empty = SAMPLE.iloc[0:0]
    assert user_activity_features(empty).empty
    assert product_popularity_features(empty).columns.tolist()[0] == "product_id"


def test_missing_column_is_named() -> None:
    with pytest.raises(KeyError, match="dwell_ms"):
        user_activity_features(SAMPLE.drop(columns="dwell_ms"))


def test_feature_state_counts_a_replay_once_and_keeps_the_longest_window() -> None:
    state = FeatureState()
    rows = list(SAMPLE.itertuples(index=False, name=None))
    for row in rows + rows[:2]:
        state.add(*(None if pd.isna(value) else value for value in row))
    user = state.users.keys["u1"]
    assert user.ids == {"e1", "e2", "e3", "e4", "e5"}  # e6 is 7 d old: out
    assert sorted(row["user_id"] for row in state.snapshot().users) == ["u1", "u2"]
    assert state.snapshot().users == []  # nothing touched since


def test_store_urls() -> None:
    assert _redis_connection_string("redis://127.0.0.1:6379/2") == "127.0.0.1:6379,db=2"
    assert _redis_connection_string("redis://:pw@cache:6380") == "cache:6380,password=pw"
    assert _sqlalchemy_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
