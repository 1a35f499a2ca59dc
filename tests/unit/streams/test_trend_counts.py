"""Trend counts stage: contributions per event and exactly-once counts files (no broker)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from glamcast.core.events import CommerceEvent, SocialEvent, TryOnEvent
from glamcast.core.names import CATALOG, COMMERCE, SOCIAL, TREND_COUNTS, TRYON
from glamcast.core.shades import shade_family
from glamcast.platform import lake
from streams.lake_files import write_lake_file
from streams.trend_counts import THROUGH_OFFSET_KEY, TrendCounter, contributions, counts_file

T0 = datetime(2025, 3, 1, 10, 15, tzinfo=UTC)
HOUR = datetime(2025, 3, 1, 10, tzinfo=UTC)
TOPIC = "glamcast.social.v1"


def post(
    event_id: str, ts: datetime = T0, hashtags: tuple[str, ...] = ("#RedLips",), **fields: object
) -> SocialEvent:
    values = {
        "event_id": event_id,
        "ts": ts,
        "platform": "tiktok",
        "post_id": event_id,
        "author_id": "a",
        "hashtags": list(hashtags),
        "brands": [],
        "likes": 0,
        "comments": 0,
        "shares": 0,
        "views": 0,
        "lang": "en",
    }
    values.update(fields)
    return SocialEvent(**values)


def social_table(posts: list[SocialEvent], first_offset: int = 0):
    return lake.table_from_events(
        SOCIAL,
        posts,
        partition=0,
        offsets=list(range(first_offset, first_offset + len(posts))),
    )


def rows(table) -> list[tuple]:
    frame = table.to_pandas()
    return sorted(
        zip(
            frame["kafka_offset"],
            frame["hour"],
            frame["term_type"],
            frame["term"],
            frame["weight"],
            strict=True,
        )
    )


# --- contributions --------------------------------------------------------------------------------


def test_social_posts_count_each_normalized_term_once_with_engagement_weight() -> None:
    posts = [
        post(
            "p1",
            hashtags=("#RedLips", "#redlips", "#Red Lips"),
            brands=["Fenty Beauty", "fenty beauty™"],
            likes=10,
            comments=2,
            shares=1,
            views=300,
        ),
        post("p2", ts=T0 + timedelta(hours=1), hashtags=("#!!", "#grwm"), brands=[]),
    ]
    weight = 1 + math.log1p(10 + 4 + 3 + 3)
    hour = pd.Timestamp(HOUR)
    assert rows(contributions(SOCIAL, social_table(posts))) == [
        (0, hour, "brand", "fenty beauty", pytest.approx(weight)),
        (0, hour, "hashtag", "redlips", pytest.approx(weight)),
        (1, hour + pd.Timedelta(hours=1), "hashtag", "grwm", 1.0),
    ]


def test_tryons_count_category_finish_and_shade_family_by_action() -> None:
    events = [
        TryOnEvent(
            event_id="t1",
            ts=T0,
            user_id="u",
            session_id="s",
            action="purchase",
            product_id="p",
            category="lipstick",
            shade_hex="#C0392B",
            finish="satin",
            dwell_ms=5,
            platform="ios",
            app_version="1",
        ),
        TryOnEvent(
            event_id="t2",
            ts=T0,
            user_id="u",
            session_id="s",
            action="dismiss",
            product_id="p",
            category="blush",
            shade_hex="#F4A6B7",
            finish="matte",
            dwell_ms=5,
            platform="ios",
            app_version="1",
        ),
    ]
    table = lake.table_from_events(TRYON, events, partition=0, offsets=[7, 8])
    hour = pd.Timestamp(HOUR)
    assert rows(contributions(TRYON, table)) == [
        (7, hour, "category", "lipstick", 6.0),
        (7, hour, "finish", "satin", 6.0),
        (7, hour, "shade_family", "red", 6.0),
        (8, hour, "category", "blush", 0.0),
        (8, hour, "finish", "matte", 0.0),
        (8, hour, "shade_family", shade_family("#F4A6B7"), 0.0),
    ]


def test_commerce_counts_brand_and_category_code_by_event_type() -> None:
    events = [
        CommerceEvent.model_validate(
            {
                "event_time": "2025-03-01 10:20:00 UTC",
                "event_type": "cart",
                "product_id": 1,
                "category_code": "beauty.lips.lipstick",
                "brand": "Runail",
                "price": 2.5,
                "user_id": 9,
            }
        ),
        CommerceEvent.model_validate(
            {
                "event_time": "2025-03-01 10:21:00 UTC",
                "event_type": "view",
                "product_id": 2,
                "brand": "",
                "price": 1.0,
                "user_id": 9,
            }
        ),
    ]
    table = lake.table_from_events(COMMERCE, events, partition=0, offsets=[0, 1])
    hour = pd.Timestamp(HOUR)
    assert rows(contributions(COMMERCE, table)) == [
        (0, hour, "brand", "runail", 3.0),
        (0, hour, "category", "lipstick", 3.0),
    ]


def test_catalog_and_empty_batches_contribute_nothing() -> None:
    assert contributions(CATALOG, lake.SCHEMAS[CATALOG].empty_table()).num_rows == 0
    assert contributions(SOCIAL, social_table([])).num_rows == 0


# --- exactly-once counts files --------------------------------------------------------------------


def land(
    counter: TrendCounter,
    root: Path,
    posts: list[SocialEvent],
    first_offset: int,
    last_offset: int | None = None,
):
    table = social_table(posts, first_offset)
    last = first_offset + len(posts) - 1 if last_offset is None else last_offset
    increments, files = counter.count(SOCIAL, TOPIC, 0, table, last)
    for file in files:
        write_lake_file(str(root), file)
    return increments


def test_a_replay_with_other_boundaries_counts_each_record_once(tmp_path: Path) -> None:
    posts = [post(f"p{i}", ts=T0 + timedelta(minutes=i)) for i in range(10)]
    counter = TrendCounter(str(tmp_path))
    land(counter, tmp_path, posts[:6], first_offset=0)  # counted, but the worker died uncommitted

    restarted = TrendCounter(str(tmp_path))  # a new worker reads the counts files
    increments = land(restarted, tmp_path, posts[:3], first_offset=0) + land(
        restarted, tmp_path, posts[3:], 3
    )

    totals = lake.read_dataset(tmp_path, TREND_COUNTS)
    assert totals[["term", "weight", "events"]].to_dict("records") == [
        {"term": "redlips", "weight": 10.0, "events": 10}
    ]
    assert sum(item.weight for item in increments) == 4.0  # only p6..p9 were new to the live table
    stored = lake.read_file(str(tmp_path), counts_file(TOPIC, 0, T0.date()))
    assert stored.schema.metadata[THROUGH_OFFSET_KEY.encode()] == b"9"


def test_counts_are_kept_per_date_with_their_own_watermark(tmp_path: Path) -> None:
    late = T0.replace(hour=23, minute=50)
    posts = [post("a", ts=late), post("b", ts=late + timedelta(minutes=20)), post("c", ts=late)]
    counter = TrendCounter(str(tmp_path))
    land(counter, tmp_path, posts, first_offset=0)
    # A replay of offsets 1..2 only: b (the next day) and c were both counted already.
    land(TrendCounter(str(tmp_path)), tmp_path, posts[1:], first_offset=1)

    frame = lake.read_dataset(tmp_path, TREND_COUNTS)
    assert frame[["hour", "events"]].to_dict("records") == [
        {"hour": pd.Timestamp(late.replace(minute=0)), "events": 2},
        {"hour": pd.Timestamp(datetime(2025, 3, 2, 0, tzinfo=UTC)), "events": 1},
    ]
    assert sorted(p.name for p in (tmp_path / "trend_counts").iterdir()) == [
        "date=2025-03-01",
        "date=2025-03-02",
    ]


def test_a_batch_of_invalid_records_still_advances_the_watermark(tmp_path: Path) -> None:
    counter = TrendCounter(str(tmp_path))
    land(
        counter, tmp_path, [post("a")], first_offset=0, last_offset=5
    )  # offsets 1..5 were rejected
    again = TrendCounter(str(tmp_path))
    assert land(again, tmp_path, [post("a")], first_offset=0) == []
    assert lake.read_dataset(tmp_path, TREND_COUNTS)["events"].tolist() == [1]


def test_forget_drops_state_so_the_next_owner_reads_the_files(tmp_path: Path) -> None:
    counter = TrendCounter(str(tmp_path))
    land(counter, tmp_path, [post("a")], first_offset=0)
    other_worker = TrendCounter(str(tmp_path))
    land(other_worker, tmp_path, [post("b")], first_offset=1)  # the partition moved and came back
    counter.forget([(TOPIC, 0)])
    land(counter, tmp_path, [post("c")], first_offset=2)
    assert lake.read_dataset(tmp_path, TREND_COUNTS)["events"].tolist() == [3]
