"""The synthetic world: determinism, valid records, and the documented distributions.

One module-scoped world (800 people, 35 days from 2025-01-20, so Valentine's Day is inside)
serves the distribution tests; bounds are a few standard errors around the documented constants.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from kafka.partitioner.default import DefaultPartitioner

from glamcast.core import topics
from glamcast.core.events import TOPIC_MODELS, Rejection, decode_event
from glamcast.core.shades import hex_to_lab, shade_family
from glamcast.simulator import SimulationConfig, World
from glamcast.simulator import config as rates
from glamcast.simulator.catalog import CATEGORIES
from glamcast.simulator.records import Record
from glamcast.simulator.trends import FADING_TERM, RISING_TERM
from glamcast.simulator.writers import (
    TokenBucket,
    records_in_background,
    simulate_to_files,
    write_to_files,
    write_to_kafka,
)

START = date(2025, 1, 20)
CONFIG = SimulationConfig(users=800, days=35, start=START, seed=11)


@pytest.fixture(scope="module")
def world() -> World:
    return World.build(CONFIG)


@pytest.fixture(scope="module")
def records(world: World) -> list[Record]:
    return list(world.records())


@pytest.fixture(scope="module")
def frames(records: list[Record]) -> dict[str, pd.DataFrame]:
    rows: dict[str, list[dict]] = {}
    for record in records:
        rows.setdefault(record.topic, []).append(json.loads(record.value))
    out = {topic: pd.DataFrame(events) for topic, events in rows.items()}
    out[topics.SOCIAL]["day"] = out[topics.SOCIAL]["ts"].str[:10]
    tryon = out[topics.TRYON]
    tryon["family"] = tryon["shade_hex"].map(shade_family)
    tryon["undertone"] = tryon["face"].map(lambda f: f["undertone"] if isinstance(f, dict) else None)
    tryon["skin_tone"] = tryon["face"].map(lambda f: f["skin_tone"] if isinstance(f, dict) else 0)
    tryon["day"] = tryon["ts"].str[:10]
    return out


def _small(seed: int = 3) -> SimulationConfig:
    return SimulationConfig(users=120, days=4, start=START, seed=seed, posts_per_day=80)


# --- determinism and validity ------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes():
    first = list(World.build(_small()).records())
    again = list(World.build(_small()).records())
    other = list(World.build(_small(seed=4)).records())
    assert first == again
    assert len(first) > 1_000
    assert [r.value for r in first] != [r.value for r in other]


def test_default_start_is_today_minus_days():
    config = SimulationConfig(days=10)
    assert config.start_date == datetime.now(UTC).date() - timedelta(days=10)
    assert World.build(SimulationConfig(users=5, days=10, products=24)).config.start is not None


def test_every_record_decodes_is_keyed_and_in_time_order(records: list[Record], world: World):
    now = datetime.fromtimestamp(CONFIG.end_ms / 1000, UTC) + timedelta(days=1)
    previous = 0
    ids = set()
    for record in records:
        event = decode_event(TOPIC_MODELS[record.topic], record.value, now=now)
        assert not isinstance(event, Rejection), (record.topic, event, record.value[:200])
        key_field = topics.TOPICS[record.topic].key
        assert record.key == getattr(event, key_field).encode()
        assert record.timestamp_ms == int(event.occurred_at.timestamp() * 1000)
        assert record.timestamp_ms >= previous
        previous = record.timestamp_ms
        ids.add(event.event_id)
    assert len(ids) == len(records)
    counts = Counter(record.topic for record in records)
    assert set(counts) == {topics.CATALOG, topics.TRYON, topics.COMMERCE, topics.SOCIAL}
    assert all(count > 0 for count in counts.values())
    assert [r.topic for r in records[: len(world.catalog)]] == [topics.CATALOG] * len(world.catalog)
    assert counts[topics.CATALOG] == CONFIG.products


def test_catalog_covers_all_categories_with_plausible_prices(world: World):
    catalog = world.catalog
    assert set(catalog["category"]) == {category.value for category in CATEGORIES}
    assert catalog["product_id"].is_unique
    assert catalog["shade_family"].tolist() == catalog["shade_hex"].map(shade_family).tolist()
    lipsticks = catalog[catalog["category"] == "lipstick"]
    assert {"nude", "pink", "coral", "red", "berry", "plum", "brown"} <= set(lipsticks["shade_family"])
    assert 3 <= catalog["price"].min() and catalog["price"].max() < 200
    assert catalog.groupby("category")["price"].median()["foundation"] > \
        catalog.groupby("category")["price"].median()["lip_liner"]
    launched_late = (catalog["launched_at_ms"] > CONFIG.start_ms).mean()
    assert 0.02 < launched_late < 0.16  # new_launch_share = 0.08


# --- people ------------------------------------------------------------------------------------


def test_skin_tone_mix_and_consent_share(world: World):
    users = world.users
    mix = users["skin_tone"].value_counts(normalize=True).sort_index()
    assert mix.index.tolist() == list(range(1, 11))
    assert np.abs(mix.to_numpy() - np.array(rates.SKIN_TONE_MIX)).max() < 0.04
    assert abs(users["consented"].mean() - CONFIG.consent_share) < 0.04


def test_face_attributes_sent_only_with_consent(world: World, frames):
    tryon = frames[topics.TRYON]
    sent = tryon.groupby("user_id")["face"].agg(lambda faces: faces.notna().all())
    none_sent = tryon.groupby("user_id")["face"].agg(lambda faces: faces.isna().all())
    consented = world.users.set_index("user_id")["consented"]
    assert (sent | none_sent).all()  # a person either always or never sends a face
    assert (sent == consented.loc[sent.index]).all()
    first = tryon.dropna(subset=["face"]).groupby("user_id")["face"].first()
    truth = world.users.set_index("user_id").loc[first.index]
    assert (first.map(lambda f: f["skin_tone"]) == truth["skin_tone"]).all()
    assert (first.map(lambda f: f["undertone"]) == truth["undertone"]).all()


# --- try-on funnel -----------------------------------------------------------------------------


def test_funnel_rates_match_the_documented_constants(frames):
    actions = frames[topics.TRYON]["action"].value_counts()
    tries = actions["try_on"]
    assert tries > 15_000
    assert actions["like"] / tries == pytest.approx(rates.RATE_LIKE, rel=0.12)
    assert actions["save"] / tries == pytest.approx(rates.RATE_SAVE, rel=0.15)
    assert actions["share"] / tries == pytest.approx(rates.RATE_SHARE, rel=0.25)
    assert actions["add_to_cart"] / tries == pytest.approx(rates.RATE_ADD_TO_CART, rel=0.15)
    assert actions["purchase"] / actions["add_to_cart"] == pytest.approx(
        rates.RATE_PURCHASE_PER_CART, abs=0.06
    )
    assert actions["shade_swap"] / tries == pytest.approx(CONFIG.shade_swaps_per_try_on, rel=0.05)
    positive_share = 1 - (1 - rates.RATE_LIKE) * (1 - rates.RATE_SAVE) * (1 - rates.RATE_SHARE) * (
        1 - rates.RATE_ADD_TO_CART)
    expected_dismiss = rates.RATE_DISMISS_IF_NO_POSITIVE * (1 - positive_share)
    assert actions["dismiss"] / tries == pytest.approx(expected_dismiss, rel=0.15)


def test_dwell_is_lognormal_and_longer_for_liked_shades(frames):
    tryon = frames[topics.TRYON]
    first = tryon.loc[tryon["action"] == "try_on", "dwell_ms"]
    assert 0.8 * rates.DWELL_TRY_ON_MEDIAN_MS < first.median() < 1.35 * rates.DWELL_TRY_ON_MEDIAN_MS
    assert first.quantile(0.99) > 4 * first.median()  # a long right tail
    liked = tryon.loc[tryon["action"] == "like", "dwell_ms"].median()
    dismissed = tryon.loc[tryon["action"] == "dismiss", "dwell_ms"].median()
    assert liked > 1.4 * dismissed


def test_sessions_follow_the_daily_and_weekly_rhythm(frames):
    tryon = frames[topics.TRYON]
    starts = tryon[tryon["action"] == "try_on"]
    hours = starts["ts"].str[11:13].astype(int).value_counts()
    assert hours.loc[[19, 20, 21]].sum() > 3 * hours.loc[[2, 3, 4]].sum()
    weekday = pd.to_datetime(starts["day"]).dt.weekday
    early = pd.to_datetime(starts["day"]) < pd.Timestamp("2025-02-03")  # before the holiday ramp
    per_day = starts[early].groupby([starts["day"], weekday]).size()
    weekend = per_day[per_day.index.get_level_values(1) >= 5].mean()
    midweek = per_day[per_day.index.get_level_values(1) <= 1].mean()
    assert weekend > 1.08 * midweek


def test_undertone_drives_shade_families(frames):
    tries = frames[topics.TRYON]
    tries = tries[(tries["action"] == "try_on") & tries["undertone"].notna()]
    warm_families = tries["family"].isin(["coral", "brown", "orange"])
    cool_families = tries["family"].isin(["berry", "pink", "plum"])
    by_undertone = pd.DataFrame({"warm_share": warm_families, "cool_share": cool_families,
                                 "undertone": tries["undertone"]}).groupby("undertone").mean()
    assert by_undertone.loc["warm", "warm_share"] > by_undertone.loc["cool", "warm_share"] + 0.1
    assert by_undertone.loc["cool", "cool_share"] > by_undertone.loc["warm", "cool_share"] + 0.1


def test_deeper_skin_tones_try_richer_lip_shades_and_matching_foundation(world: World, frames):
    tries = frames[topics.TRYON]
    tries = tries[(tries["action"] == "try_on") & (tries["skin_tone"] > 0)]
    lips = tries[tries["category"] == "lipstick"]
    lightness = lips["shade_hex"].map(lambda code: hex_to_lab(code)[0])
    deep = lightness[lips["skin_tone"] >= 8].mean()
    light = lightness[lips["skin_tone"] <= 3].mean()
    assert deep < light - 3
    foundation = tries[tries["category"] == "foundation"]
    product_tone = foundation["product_id"].map(world.catalog.set_index("product_id")["tone"])
    assert (product_tone - foundation["skin_tone"]).abs().mean() < 1.5  # random picks: ≈ 3.3


def test_trends_pull_try_ons_toward_the_rising_family(frames):
    tries = frames[topics.TRYON]
    tries = tries[tries["action"] == "try_on"]
    coral = tries["family"] == "coral"
    first_week = coral[tries["day"] < "2025-01-27"].mean()
    last_week = coral[tries["day"] >= "2025-02-17"].mean()
    assert last_week > 1.25 * first_week


def test_planted_shade_families_and_finishes_show_in_try_ons(world: World, frames):
    shapes = world.truth["trend_shapes"].set_index(["term_type", "term"])["shape"]
    assert shapes.loc[("shade_family", "mauve")] == "steady_rise"
    assert shapes.loc[("shade_family", "pink")] == "fade"
    assert shapes.loc[("finish", "metallic")] == "steady_rise"
    tries = frames[topics.TRYON]
    tries = tries[tries["action"] == "try_on"]
    first, last = tries["day"] < "2025-01-27", tries["day"] >= "2025-02-17"
    mauve, pink = tries["family"] == "mauve", tries["family"] == "pink"
    metallic = tries["finish"] == "metallic"
    # ×3–×5 curves over 35 days, raised to the pull: shares move by more than ×1.5
    assert mauve[last].mean() > 1.5 * mauve[first].mean()
    assert metallic[last].mean() > 1.5 * metallic[first].mean()
    assert pink[first].mean() > 1.5 * pink[last].mean()


def test_truth_tables_describe_every_person_and_product(world: World):
    truth = world.truth
    assert set(truth) == {"users", "utility", "products", "trends", "trend_shapes"}
    assert len(truth["utility"]) == CONFIG.users * CONFIG.products
    assert truth["users"]["user_id"].tolist() == world.users["user_id"].tolist()
    assert {"family_coral", "finish_matte", "category_lipstick"} <= set(truth["users"].columns)
    utility = truth["utility"].merge(truth["products"][["product_id", "category"]])
    z = utility.groupby(["user_id", "category"])["z"].agg(["mean", "std"])
    assert z["mean"].abs().max() < 1e-4
    assert z["std"].sub(1).abs().median() < 0.2


# --- commerce ----------------------------------------------------------------------------------


def test_commerce_mirrors_try_on_purchases(world: World, frames):
    tryon, shop = frames[topics.TRYON], frames[topics.COMMERCE]
    bought = tryon[tryon["action"] == "purchase"]
    expected = {
        (user, product, str(uuid.uuid5(uuid.UUID("6f1c8a52-3c1e-4f57-9a43-9d0c2f6f5e11"), s)))
        for user, product, s in zip(bought["user_id"], bought["product_id"],
                                    bought["session_id"], strict=True)
    }
    purchases = shop[shop["event_type"] == "purchase"]
    found = set(zip(purchases["user_id"], purchases["product_id"], purchases["user_session"],
                    strict=True))
    assert expected and expected <= found
    assert len(purchases) > len(expected)  # shop-only purchases besides
    assert shop["category_code"].str.startswith("beauty.makeup.").all()
    carts = (shop["event_type"] == "cart").sum()
    assert purchases.shape[0] < carts
    assert set(shop["user_id"]) <= set(world.users["user_id"])


# --- social ------------------------------------------------------------------------------------


def _daily_tag_counts(frames) -> pd.DataFrame:
    posts = frames[topics.SOCIAL].explode("hashtags")
    return posts.groupby(["day", "hashtags"]).size().unstack(fill_value=0)


def test_rising_and_fading_terms(frames):
    daily = _daily_tag_counts(frames)
    first_week, last_week = daily.iloc[:7].sum(), daily.iloc[-7:].sum()
    assert last_week[RISING_TERM] > 2 * first_week[RISING_TERM]
    assert first_week[FADING_TERM] > 2 * last_week[FADING_TERM]
    assert 0.6 < last_week["#makeup"] / first_week["#makeup"] < 1.7  # ordinary terms stay put


def test_planted_trend_shapes_are_the_truth_saved_with_the_world(world: World, frames, tmp_path):
    shapes = world.truth["trend_shapes"]
    planted = shapes[shapes["term"] != shapes["posted_as"].str.lstrip("#").str.lower()]
    assert planted.empty or set(planted["term_type"]) == {"brand"}  # brands keep their spaces
    per_shape = shapes.groupby(["shape", "term_type"]).size().unstack(fill_value=0)
    assert (per_shape.loc[["steady_rise", "breakout", "saturating_rise", "fade"], "hashtag"] >= 3).all()
    assert (per_shape.loc[["steady_rise", "breakout", "saturating_rise", "fade", "holiday_spike",
                           "weekly_seasonal", "random_walk"], "brand"] >= 2).all()
    # Valentine's Day (2025-02-14) is in the window; 618 and Singles' Day are not
    holiday = shapes[shapes["shape"] == "holiday_spike"].set_index("term")
    assert holiday.loc["valentinesmakeup", "window_start"] == pd.Timestamp("2025-02-02")
    assert holiday.loc["valentinesmakeup", "window_end"] == pd.Timestamp("2025-02-18")
    assert pd.isna(holiday.loc["618sale", "window_start"])
    # the planted shapes show in the posts: a breakout jumps ×10 or more within its window
    daily = _daily_tag_counts(frames)
    breakouts = shapes[(shapes["shape"] == "breakout") & (shapes["term_type"] == "hashtag")]
    for row in breakouts.itertuples():
        before = daily.loc[daily.index < str(row.window_start.date()), row.posted_as].mean()
        after = daily.loc[daily.index > str(row.window_end.date()), row.posted_as].mean()
        assert after > 5 * before, row
    world.save_truth(tmp_path)
    saved = pd.read_parquet(tmp_path / "trend_shapes.parquet")
    assert saved["term"].tolist() == shapes["term"].tolist()


def test_valentines_spike(frames):
    daily = _daily_tag_counts(frames)
    assert daily.loc["2025-02-14", "#valentinesmakeup"] > 5 * daily["#valentinesmakeup"].median()
    assert daily.loc["2025-02-14", "#valentinesmakeup"] > 20 * daily["#valentinesmakeup"].iloc[:7].mean()
    posts = frames[topics.SOCIAL].groupby("day").size()
    assert posts.loc["2025-02-14"] > 1.2 * posts.median()


def test_weekend_posting_and_heavy_tailed_engagement(frames):
    social = frames[topics.SOCIAL]
    posts = social.groupby("day").size()
    calm = posts[posts.index < "2025-02-03"]  # before the Valentine's build-up
    weekday = pd.to_datetime(calm.index).weekday
    assert calm[weekday >= 5].mean() > 1.1 * calm[weekday <= 1].mean()
    views = social["views"]
    assert views.quantile(0.99) > 10 * views.median()
    assert (social["likes"] <= social["views"]).all()
    assert (social["product_ids"].str.len() > 0).mean() == pytest.approx(0.45, abs=0.05)
    langs = social.groupby("platform")["lang"].agg(lambda s: set(s))
    assert langs["xiaohongshu"] == {"zh"}


# --- writers -----------------------------------------------------------------------------------


def test_write_to_files_jsonl_and_parquet(tmp_path: Path):
    records = list(World.build(_small()).records())
    expected = Counter(record.topic for record in records)
    assert write_to_files(records, tmp_path / "j", "jsonl") == dict(expected)
    lines = (tmp_path / "j" / f"{topics.TRYON}.jsonl").read_bytes().splitlines()
    assert lines == [r.value for r in records if r.topic == topics.TRYON]
    assert write_to_files(records, tmp_path / "p", "parquet") == dict(expected)
    table = pq.read_table(tmp_path / "p" / f"{topics.TRYON}.parquet")
    assert table.num_rows == expected[topics.TRYON]
    assert str(table.schema.field("ts").type) == "timestamp[us, tz=UTC]"
    assert "face" in table.column_names
    with pytest.raises(ValueError, match="csv"):
        write_to_files(records, tmp_path / "x", "csv")  # type: ignore[arg-type]


class _Cluster:
    """Just enough cluster metadata for kafka-python's DefaultPartitioner."""

    def __init__(self, partitions: set[int]) -> None:
        self._partitions = partitions

    def topics(self):
        return {topics.SOCIAL}

    def partitions_for_topic(self, topic):
        return self._partitions

    def available_partitions_for_topic(self, topic):
        return self._partitions


class _Future:
    def add_errback(self, callback):
        return self


class _FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple] = []
        self.flushed = False

    def send(self, topic, *, key, value, partition, timestamp_ms):
        self.sent.append((topic, key, value, partition, timestamp_ms))
        return _Future()

    def partitions_for(self, topic):
        return {0, 1, 2, 3} if topic == topics.SOCIAL else set(range(8))

    def flush(self):
        self.flushed = True


def test_write_to_kafka_sends_everything_and_honours_the_rate():
    records = [Record(topics.SOCIAL, b"k%d" % i, b"{}", i) for i in range(1_000)]
    producer = _FakeProducer()
    counts = write_to_kafka(records, producer, rate=None)
    assert counts == {topics.SOCIAL: 1_000}
    assert producer.flushed
    default = DefaultPartitioner()
    for topic, key, value, partition, timestamp_ms in producer.sent[:50]:
        metadata = _Cluster(producer.partitions_for(topic))
        assert partition == default.partition(topic, key, key, value, value, metadata)
    assert {sent[3] for sent in producer.sent} == {0, 1, 2, 3}
    assert (producer.sent[5][1], producer.sent[5][2], producer.sent[5][4]) == (b"k5", b"{}", 5)

    started = time.monotonic()
    write_to_kafka(records, _FakeProducer(), rate=2_000.0)
    elapsed = time.monotonic() - started
    # 1,000 events at 2,000/s after an initial burst of 100 (50 ms of events): 0.45 s.
    assert 0.40 < elapsed < 1.5


def test_token_bucket_rejects_a_non_positive_rate():
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_background_generation_yields_the_same_records_and_stops_early():
    config = _small()
    assert list(records_in_background(config)) == list(World.build(config).records())
    stream = records_in_background(config)
    first = next(stream)
    assert first.topic == topics.CATALOG
    stream.close()  # the child process is stopped, not left running


def test_simulate_to_files_writes_topics_and_truth(tmp_path: Path):
    counts = simulate_to_files(_small(), tmp_path, "jsonl")
    assert counts[topics.TRYON] > 0
    assert sorted(p.name for p in (tmp_path / "truth").iterdir()) == [
        "products.parquet", "trend_shapes.parquet", "trends.parquet", "users.parquet",
        "utility.parquet"]
    assert len(pd.read_parquet(tmp_path / "truth" / "users.parquet")) == _small().users


@pytest.mark.parametrize("products", [24, 25, 100])
def test_small_catalogues_have_the_asked_size_and_every_category_on_sale(products: int):
    world = World.build(SimulationConfig(users=5, days=3, products=products, start=START))
    catalog = world.catalog
    assert len(catalog) == products
    on_sale = catalog[catalog["launched_at_ms"] <= world.config.start_ms]
    assert set(on_sale["category"]) == {category.value for category in CATEGORIES}
