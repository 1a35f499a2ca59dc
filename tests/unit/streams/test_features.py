"""The stream stage's incremental window state against the pandas window definitions.

`FeatureState` keeps counters and evicts events as keys' latest events move on;
`user_activity_features` / `product_popularity_features` recompute from all events. Fed the same
events (out of time order, with replays and events too late for any window), every key's row
must be equal, at every checkpoint.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from glamcast.core.features import EVENT_COLUMNS, PRODUCT_FEATURES, USER_FEATURES
from models.activity_features import product_popularity_features, user_activity_features
from streams.features import FeatureState, product_feature_row, user_feature_row

T0 = datetime(2025, 3, 1, tzinfo=UTC)
ACTIONS = ["try_on", "shade_swap", "like", "save", "share", "add_to_cart", "purchase", "dismiss"]


def random_events(seed: int, count: int) -> list[tuple]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        face = rng.random() < 0.3
        rows.append(
            (
                f"e{i}",
                # minutes apart, so windows of 1 h to 7 d all see events come and go; some ties
                T0 + timedelta(minutes=rng.randrange(0, 20 * 24 * 60, 7)),
                f"u{rng.randrange(6)}",
                f"p{rng.randrange(5)}",
                rng.choice(ACTIONS),
                rng.choice(["lipstick", "blush", "eyeshadow", "foundation"]),
                rng.choice(["#C0392B", "#E8B5A0", "#8E2440", "#F4A6B7", "#5B2C3A"]),
                rng.choice(["matte", "satin", "gloss"]),
                rng.randrange(100, 5000),
                rng.randrange(1, 11) if face else None,
                rng.choice(["cool", "warm", None]) if face else None,
            )
        )
    # mostly in time order with stragglers, plus replays of earlier records
    rows.sort(key=lambda row: row[1] + timedelta(hours=rng.uniform(-30, 30)))
    replays = [rows[i] for i in range(0, count, 9)]
    for replay in replays:
        rows.insert(rng.randrange(len(rows)), replay)
    return rows


def frame(rows: list[tuple]) -> pd.DataFrame:
    out = pd.DataFrame.from_records(rows, columns=list(EVENT_COLUMNS))
    out["ts"] = pd.to_datetime(out["ts"], utc=True)
    out["face_skin_tone"] = out["face_skin_tone"].astype("Int64")
    return out


def same(got: object, expected: object) -> bool:
    if expected is None or (not isinstance(expected, str) and pd.isna(expected)):
        return got is None
    if isinstance(expected, float):
        return math.isclose(got, expected, rel_tol=1e-12)  # type: ignore[arg-type]
    return got == expected


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_state_equals_the_recomputation_at_every_checkpoint(seed: int) -> None:
    rows = random_events(seed, 1_500)
    state = FeatureState()
    for i, row in enumerate(rows, start=1):
        state.add(*row)
        if i % 250 and i != len(rows):
            continue
        # An event older than its key's window on arrival stays outside it (the latest event
        # only moves on), so recomputing over every event seen so far must agree.
        seen = frame(rows[:i])
        users = user_activity_features(seen).set_index("user_id")
        for user, windows in state.users.keys.items():
            got = user_feature_row(user, windows)
            assert got["event_timestamp"] == users.loc[user, "event_timestamp"]
            for name in USER_FEATURES:
                assert same(got[name], users.loc[user, name]), (i, user, name)
        products = product_popularity_features(seen).set_index("product_id")
        for product, windows in state.products.keys.items():
            got = product_feature_row(product, windows)
            for name in PRODUCT_FEATURES:
                assert same(got[name], products.loc[product, name]), (i, product, name)


def test_an_event_older_than_the_window_on_arrival_is_not_counted() -> None:
    state = FeatureState()
    late = ("late", T0, "u1", "p1", "purchase", "blush", "#C0392B", "matte", 10, 3, "cool")
    state.add(
        "now",
        T0 + timedelta(days=7),
        "u1",
        "p1",
        "like",
        "blush",
        "#C0392B",
        "matte",
        20,
        None,
        None,
    )
    state.add(*late)  # exactly 7 d before the latest event: outside T - 7 d < ts <= T
    row = user_feature_row("u1", state.users.keys["u1"])
    assert (row["events_7d"], row["purchases_7d"], row["skin_tone"]) == (1, 0, None)
    assert row["mean_dwell_ms_7d"] == 20.0


def test_the_latest_face_leaves_with_its_event() -> None:
    state = FeatureState()
    state.add("a", T0, "u1", "p1", "like", "blush", "#C0392B", "matte", 10, 3, "cool")
    state.add(
        "b", T0 + timedelta(days=1), "u1", "p1", "like", "blush", "#C0392B", "matte", 10, None, None
    )
    assert user_feature_row("u1", state.users.keys["u1"])["skin_tone"] == 3
    state.add(
        "c", T0 + timedelta(days=7), "u1", "p1", "like", "blush", "#C0392B", "matte", 10, None, None
    )
    row = user_feature_row("u1", state.users.keys["u1"])
    assert (row["skin_tone"], row["undertone"], row["events_7d"]) == (None, None, 2)
