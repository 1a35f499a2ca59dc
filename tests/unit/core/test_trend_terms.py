"""Trend terms: normalization, weights and the "trending now" score (pure functions)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pandas as pd
import pytest

from glamcast.core import trend_terms
from glamcast.core.trend_terms import (
    DAY_S,
    HOUR_S,
    category_from_code,
    hourly_weights,
    normalize_brand,
    normalize_hashtag,
    shade_family_term,
    social_weight,
    trending_now,
)


@pytest.mark.parametrize(
    ("raw", "term"),
    [
        ("#RedLips", "redlips"),
        ("#Red Lips!", "redlips"),
        ("##red_lips", "red_lips"),
        ("#ＧＬＡＳＳＳＫＩＮ", "glassskin"),  # full-width letters (NFKC)
        ("#小红书 美妆", "小红书美妆"),
        ("#Straße", "strasse"),  # case folding, not just lower()
        ("#!!!", None),
        ("", None),
    ],
)
def test_normalize_hashtag(raw: str, term: str | None) -> None:
    assert normalize_hashtag(raw) == term


@pytest.mark.parametrize(
    ("raw", "term"),
    [
        ("Fenty  Beauty™", "fenty beauty"),
        ("  MAC ", "mac"),
        ("L'Oréal®", "l'oréal"),
        ("   ", None),
        (None, None),
    ],
)
def test_normalize_brand(raw: str | None, term: str | None) -> None:
    assert normalize_brand(raw) == term


def test_category_from_rees46_code() -> None:
    assert category_from_code("beauty.makeup.lip_gloss") == "lip_gloss"
    assert category_from_code("Lipstick") == "lipstick"
    assert category_from_code(None) is None and category_from_code("") is None


def test_shade_family_term_names_families_through_cielab() -> None:
    assert shade_family_term("#c0392b") == "red"
    assert shade_family_term("#E8B5A0") == shade_family_term("#e8b5a0")


def test_social_weight_is_engagement_weighted_and_at_least_one() -> None:
    assert social_weight(0, 0, 0, 0) == 1.0
    assert social_weight(10, 2, 1, 300) == pytest.approx(1 + math.log1p(10 + 4 + 3 + 3))
    assert social_weight(100, 0, 0, 0) > social_weight(10, 0, 0, 0)


def test_weights_cover_every_action_and_event_type() -> None:
    from glamcast.core.events import Action, CommerceEventType

    assert set(trend_terms.TRYON_ACTION_WEIGHTS) == {action.value for action in Action}
    assert set(trend_terms.COMMERCE_EVENT_WEIGHTS) == {kind.value for kind in CommerceEventType}
    assert trend_terms.TRYON_ACTION_WEIGHTS["purchase"] > trend_terms.TRYON_ACTION_WEIGHTS["try_on"]


# --- trending now --------------------------------------------------------------------------------

H = 1_740_000_000 - 1_740_000_000 % HOUR_S  # an hour start


def test_trending_now_compares_the_hour_with_the_same_hour_on_earlier_days() -> None:
    hourly = {
        ("hashtag", "coralcrush"): {H: 30.0, H - DAY_S: 4.0, H - 2 * DAY_S: 2.0, H - HOUR_S: 50.0},
        ("hashtag", "makeup"): {H: 100.0, H - DAY_S: 100.0, H - 2 * DAY_S: 100.0},
        ("brand", "old"): {H - DAY_S: 10.0},
    }
    ranked = trending_now(hourly)

    assert [(item.term_type, item.term) for item in ranked] == [
        ("hashtag", "coralcrush"),
        ("hashtag", "makeup"),
    ]
    top = ranked[0]
    assert top.hour == H and top.weight == 30.0
    assert top.baseline == pytest.approx(
        3.0
    )  # mean of 4 and 2; the 50 an hour before is not "same hour"
    assert top.score == pytest.approx(31 / 4)
    assert ranked[1].score == pytest.approx(1.0)


def test_trending_now_falls_back_to_the_previous_hours_without_history() -> None:
    hourly = {("finish", "gloss"): {H: 9.0, H - HOUR_S: 2.0, H - 2 * HOUR_S: 4.0}}
    (item,) = trending_now(hourly)
    assert item.baseline == pytest.approx(3.0) and item.score == pytest.approx(10 / 4)


def test_trending_now_as_of_another_hour_and_limits() -> None:
    hourly = {("category", f"c{i}"): {H: float(i), H + HOUR_S: 1.0} for i in range(1, 6)}
    assert [item.term for item in trending_now(hourly, as_of_hour=H + 10, limit=2)] == ["c5", "c4"]
    assert trending_now({}) == []
    assert trending_now({("brand", "x"): {H: 0.0}}) == []


def test_hourly_weights_from_lake_trend_counts_sum_sources() -> None:
    hour = pd.Timestamp(datetime.fromtimestamp(H, UTC))
    frame = pd.DataFrame(
        {
            "hour": pd.Series(
                [hour, hour, hour + pd.Timedelta(hours=1)], dtype="datetime64[us, UTC]"
            ),
            "term_type": ["brand", "brand", "brand"],
            "term": ["mac", "mac", "mac"],
            "source": ["social", "commerce", "social"],
            "weight": [1.5, 2.0, 4.0],
            "events": [1, 2, 3],
        }
    )
    assert hourly_weights(frame) == {("brand", "mac"): {H: 3.5, H + HOUR_S: 4.0}}
    assert hourly_weights(frame.iloc[:0]) == {}
