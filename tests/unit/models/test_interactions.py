"""Interaction builder and splits: exact weights on tiny tables, the real MovieLens file."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models import interactions as ix

T0 = pd.Timestamp("2026-03-01T10:00:00Z")


def events(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    """(user, product, action, dwell_ms) rows one minute apart."""
    return pd.DataFrame({
        "user_id": [row[0] for row in rows], "product_id": [row[1] for row in rows],
        "action": [row[2] for row in rows], "dwell_ms": [row[3] for row in rows],
        "ts": [T0 + pd.Timedelta(minutes=i) for i in range(len(rows))],
    })


def weight_of(actions: list[str], dwell_ms: int = 0) -> float:
    frame = ix.tryon_interactions(events([("u", "p", action, dwell_ms) for action in actions]))
    return float(frame["weight"].iloc[0])


def test_action_order_try_on_below_reactions_below_cart_below_purchase() -> None:
    try_on = weight_of(["try_on"])
    reactions = [weight_of([action]) for action in ("like", "save", "share")]
    cart, purchase = weight_of(["add_to_cart"]), weight_of(["purchase"])
    assert try_on < min(reactions) and max(reactions) < cart < purchase
    assert weight_of(["dismiss"]) < 0


def test_dwell_counts_on_views_and_is_capped() -> None:
    weights = ix.InteractionWeights()
    assert weight_of(["try_on"], 5_000) == pytest.approx(1.0 + 0.5)
    assert weight_of(["shade_swap"], 10_000) == pytest.approx(0.5 + 1.0)
    assert weight_of(["try_on"], 10 * 60_000) == pytest.approx(1.0 + weights.dwell_cap)
    # a reaction row repeats its view's dwell: that dwell is not counted twice
    assert weight_of(["like"], 30_000) == pytest.approx(3.0)


def test_one_row_per_pair_with_strength_confidence_and_preference() -> None:
    frame = ix.tryon_interactions(events([
        ("u1", "p1", "try_on", 0), ("u1", "p1", "like", 0), ("u1", "p1", "purchase", 0),
        ("u1", "p2", "try_on", 0), ("u1", "p2", "dismiss", 0),
        ("u2", "p1", "try_on", 20_000),
    ]))
    assert frame[["user_id", "product_id"]].values.tolist() == [
        ["u1", "p1"], ["u1", "p2"], ["u2", "p1"]]
    assert frame["weight"].tolist() == pytest.approx([14.0, -3.0, 3.0])
    assert frame["strength"].tolist() == pytest.approx(
        [math.log1p(14.0), -math.log1p(3.0), math.log1p(3.0)])
    alpha = ix.InteractionWeights().alpha
    assert frame["confidence"].tolist() == pytest.approx(
        [1 + alpha * math.log1p(14.0), 1 + alpha * math.log1p(3.0), 1 + alpha * math.log1p(3.0)])
    assert frame["preference"].tolist() == [1, 0, 1]
    assert frame["events"].tolist() == [3, 2, 1]
    assert frame.loc[0, "first_ts"] == T0 and frame.loc[0, "last_ts"] == T0 + pd.Timedelta(minutes=2)


def test_errors_name_unknown_actions_and_missing_columns() -> None:
    with pytest.raises(ValueError, match=r"no weight for action\(s\) \['wink'\]"):
        ix.tryon_interactions(events([("u", "p", "wink", 0)]))
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['ts'\]"):
        ix.tryon_interactions(events([("u", "p", "try_on", 0)]).drop(columns="ts"))


def test_ratings_and_shop_events_use_the_same_builder() -> None:
    ratings = pd.DataFrame({"user_id": ["1", "1", "2"], "product_id": ["10", "11", "10"],
                            "rating": [5.0, 1.0, 3.0], "ts": [T0, T0, T0]})
    pairs = ix.rating_interactions(ratings)
    assert len(pairs) == 3 and (pairs["weight"] == 1.0).all() and (pairs["preference"] == 1).all()
    shop = pd.DataFrame({"user_id": ["1", "1", "1"], "product_id": ["a", "a", "b"],
                         "event_type": ["view", "cart", "remove_from_cart"], "ts": [T0] * 3})
    pairs = ix.commerce_interactions(shop)
    assert pairs["weight"].tolist() == [7.0, -3.0]


def test_stratified_split_keeps_each_users_share() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user_id": np.repeat(["a", "b", "c"], [4, 10, 21]),
                          "product_id": rng.permutation(35).astype(str)})
    train, test = ix.stratified_split(frame, 0.75, seed=1)
    assert train.groupby("user_id").size().to_dict() == {"a": 3, "b": 8, "c": 16}
    assert len(train) + len(test) == len(frame)
    assert not set(train.index) & set(test.index)
    again, _ = ix.stratified_split(frame, 0.75, seed=1)
    assert again.index.equals(train.index)
    other, _ = ix.stratified_split(frame, 0.75, seed=2)
    assert not other.index.equals(train.index)


def test_time_holdout_and_truth() -> None:
    frame = events([
        ("u1", "p1", "try_on", 0), ("u1", "p2", "try_on", 0), ("u2", "p1", "try_on", 0),
        ("u1", "p1", "purchase", 0), ("u1", "p3", "like", 0), ("u1", "p4", "dismiss", 0),
        ("u3", "p1", "try_on", 0), ("u2", "p5", "try_on", 0),
    ])
    split = ix.time_holdout(frame, test_fraction=0.6)
    assert split.cutoff == T0 + pd.Timedelta(minutes=7 * 0.4)
    assert len(split.train_events) == 3 and len(split.test_events) == 5
    train = ix.tryon_interactions(split.train_events)
    test = ix.tryon_interactions(split.test_events)
    truth = ix.holdout_truth(train, test)
    # p1 again (seen in training), p4 dismissed, u3 unknown in training: none is relevant
    assert truth.values.tolist() == [["u1", "p3"], ["u2", "p5"]]


def test_movielens_100k_reads_every_rating(data_dir: Path) -> None:
    ratings = ix.read_movielens_100k(data_dir / "movielens-100k")
    assert len(ratings) == 100_000
    assert ratings["user_id"].nunique() == 943 and ratings["product_id"].nunique() == 1682
    assert str(ratings["ts"].dt.tz) == "UTC"
    assert len(ix.rating_interactions(ratings)) == 100_000  # no (user, movie) pair twice


def test_attributes_take_each_keys_most_frequent_value_and_encode_unknown_as_minus_one() -> None:
    frame = pd.DataFrame({
        "user_id": ["a", "a", "a", "b", "c"],
        "face_skin_tone": [3, 3, 4, None, None],
        "face_undertone": ["warm", None, "warm", "cool", None],
    })
    table = ix.attribute_table(frame, "user_id", ix.USER_ATTRIBUTES)
    assert table.loc["a"].tolist() == [3, "warm"]
    assert table.loc["b", "face_undertone"] == "cool" and pd.isna(table.loc["b", "face_skin_tone"])
    codes, vocabularies = ix.encode_attributes(table, ["c", "a", "zz", "b"])
    assert vocabularies == [[3], ["cool", "warm"]]
    assert codes.tolist() == [[-1, -1], [0, 1], [-1, -1], [-1, 0]]


def test_shade_family_and_catalog_price_bands() -> None:
    frame = ix.add_shade_family(pd.DataFrame({"shade_hex": ["#C21E56", None, "#C21E56"]}))
    assert frame["shade_family"].iloc[0] == frame["shade_family"].iloc[2] is not None
    assert frame["shade_family"].iloc[1] is None
    catalog = pd.DataFrame({
        "product_id": [str(i) for i in range(10)] + ["0"], "brand": ["old"] + ["b"] * 10,
        "category": ["lipstick"] * 10 + ["lipstick"], "price": list(range(10)) + [0],
    })
    bands = ix.catalog_attributes(catalog)
    assert bands.loc["0", "brand"] == "b"  # the latest row of a product wins
    assert bands.loc[[str(i) for i in range(10)], "price_band"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
