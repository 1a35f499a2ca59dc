"""Trend looks (models.trend_looks) and their place in the feed (models.feed_scoring): tiny tables,
exact expectations."""

from __future__ import annotations

import pandas as pd
import pytest

from glamcast.core.features import PURCHASED_FEATURE
from glamcast.platform.trend_looks import trend_looks_for_feed
from glamcast.serving.trends import trend_looks_answer
from models.feed_scoring import build_snapshot, rank_feed, trend_look_fits
from models.shoppable_looks import ProductMatcher
from models.trend_looks import (
    TREND_LOOK_COLUMNS,
    audience_shares,
    look_requests,
    look_terms,
    rematch,
    select_trend_looks,
    trend_look_conditions,
)

CATALOG = pd.DataFrame({
    "product_id": ["p-mauve", "p-red", "p-eye-metal", "p-eye-matte", "p-blush", "p-brow"],
    "category": ["lipstick", "lipstick", "eyeshadow", "eyeshadow", "blush", "brow"],
    "shade_hex": ["#B784A7", "#C8102E", "#8C7853", "#8C7853", "#E8A0A0", "#5A3A29"],
    "finish": ["satin", "matte", "metallic", "matte", "matte", "matte"],
    "brand": ["Glam"] * 6, "name": ["Mauve", "Red", "Bronze", "Taupe", "Rose", "Brow"],
    "price": [18.5, 16.0, 22.0, 20.0, 15.0, 12.0],
})


def _generated(looks: list[tuple[int, int, str, str]]) -> pd.DataFrame:
    """GAN output rows: (request, look, lips hex, eyes finish), other regions fixed."""
    rows = []
    for request, look, lips, eyes in looks:
        for region, category, finish, shade in (
                ("lips", "lipstick", "satin" if lips == "#B784A7" else "matte", lips),
                ("eyes", "eyeshadow", eyes, "#8C7853"), ("cheeks", "blush", "matte", "#E8A0A0"),
                ("brows", "brow", "matte", "#5A3A29")):
            rows.append({"request": request, "look": look, "region": region, "category": category,
                         "finish": finish, "intensity": 0.7, "shade_hex": shade})
    return pd.DataFrame(rows)


def test_look_terms_are_rising_and_breakout_families_and_finishes_breakouts_first() -> None:
    rising = pd.DataFrame({
        "term_type": ["hashtag", "shade_family", "finish", "shade_family", "brand", "finish"],
        "term": ["coralcrush", "mauve", "metallic", "pink", "noir", "gloss"],
        "trend_class": ["rising", "rising", "breakout", "fading", "breakout", "steady"],
    })
    terms = look_terms(rising)
    assert terms.to_dict("records") == [
        {"term_type": "finish", "term": "metallic", "trend_class": "breakout"},
        {"term_type": "shade_family", "term": "mauve", "trend_class": "rising"},
    ]
    assert look_terms(rising, max_terms=1)["term"].tolist() == ["metallic"]
    assert look_terms(None).empty and look_terms(rising.iloc[:0]).empty


def test_audience_shares_count_consented_faces_only() -> None:
    faces = pd.DataFrame({"skin_tone": [5, 5, 5, 8, None, 11, 3],
                          "undertone": ["warm", "warm", "cool", "warm", "warm", "cool", "olive"]})
    shares = audience_shares(faces)
    assert shares.to_dict("records") == [
        {"skin_tone": 5, "undertone": "cool", "audience_share": 0.25},
        {"skin_tone": 5, "undertone": "warm", "audience_share": 0.5},
        {"skin_tone": 8, "undertone": "warm", "audience_share": 0.25},
    ]
    conditions = trend_look_conditions(shares)
    assert conditions.values.tolist() == [[5, "cool"], [5, "warm"], [8, "warm"]]
    assert len(trend_look_conditions(audience_shares(faces.iloc[:0]))) == 30  # nobody yet: all
    requests = look_requests(conditions, oversample=12, seed=3)
    assert requests.columns.tolist() == ["skin_tone", "undertone", "n", "seed"]
    assert requests["n"].tolist() == [12] * 3 and requests["seed"].tolist() == [3] * 3


def test_select_keeps_looks_whose_matched_products_carry_the_term() -> None:
    matcher = ProductMatcher(CATALOG)
    generated = rematch(_generated([
        (0, 0, "#C8102E", "matte"), (0, 1, "#B784A7", "matte"), (0, 2, "#B784A7", "metallic"),
        (1, 0, "#C8102E", "matte"), (1, 1, "#C8102E", "metallic"),
    ]), matcher)
    assert generated.loc[generated["region"] == "lips", "product_id"].tolist() == [
        "p-red", "p-mauve", "p-mauve", "p-red", "p-red"]
    requests = pd.DataFrame({"skin_tone": [5, 8], "undertone": ["warm", "cool"]})
    terms = pd.DataFrame({"term_type": ["shade_family", "finish"], "term": ["mauve", "metallic"],
                          "trend_class": ["rising", "breakout"]})
    assert generated.loc[generated["region"] == "lips", "product_family"].tolist() == [
        "red", "mauve", "mauve", "red", "red"]
    audience = pd.DataFrame({"skin_tone": [5, 8], "undertone": ["warm", "cool"],
                             "audience_share": [0.75, 0.25]})
    finishes = dict(zip(CATALOG["product_id"], CATALOG["finish"], strict=True))
    looks = select_trend_looks(generated, requests, terms, audience, per_condition=1,
                               model_version=3, run_id="r1", origin="2026-12-05",
                               generated_at="2026-12-06T08:00:00Z", finish_of_product=finishes)
    assert list(looks.columns) == list(TREND_LOOK_COLUMNS)
    per_look = looks.groupby("look_id").first()
    # the mauve family: request 0 only (looks 1 and 2), the best one first: look 1 and 2 tie on
    # hits, the smaller mean ΔE wins, then the lower look number
    assert sorted(per_look.index) == [
        "trend-v3-mauve-t5-warm-0", "trend-v3-metallic-t5-warm-0",
        "trend-v3-metallic-t8-cool-0"]
    assert per_look.loc["trend-v3-metallic-t8-cool-0", "audience_share"] == 0.25
    assert per_look.loc["trend-v3-metallic-t5-warm-0", "trend_class"] == "breakout"
    assert (looks.groupby("look_id").size() == 4).all()  # one row per region
    metal = looks[(looks["look_id"] == "trend-v3-metallic-t8-cool-0") & (looks["region"] == "eyes")]
    assert metal["product_id"].tolist() == ["p-eye-metal"]
    assert metal["shade_hex"].tolist() == ["#8C7853"]  # the product's shade
    # no look of the term, no row: the term is simply absent there
    none = select_trend_looks(generated, requests, terms.assign(term=["plum", "gloss"]), audience,
                              per_condition=2, model_version=3)
    assert none.empty and list(none.columns) == list(TREND_LOOK_COLUMNS)


def _trend_table() -> pd.DataFrame:
    rows = []
    for look_id, tone, undertone, lips in (("trend-v3-mauve-t5-warm-0", 5, "warm", "p-mauve"),
                                           ("trend-v3-mauve-t8-cool-0", 8, "cool", "p-mauve")):
        for region, product in (("brows", "p-brow"), ("lips", lips), ("eyes", "p-eye-matte"),
                                ("cheeks", "p-blush")):
            row = CATALOG.set_index("product_id").loc[product]
            rows.append({"look_id": look_id, "term": "mauve", "term_type": "shade_family",
                         "trend_class": "rising", "skin_tone": tone, "undertone": undertone,
                         "audience_share": 0.6 if tone == 5 else 0.4, "look_rank": 0,
                         "region": region, "category": row["category"], "product_id": product,
                         "brand": "Glam", "name": row["name"], "shade_hex": row["shade_hex"],
                         "finish": row["finish"], "intensity": 0.7, "price": row["price"],
                         "delta_e": 1.5, "product_family": None, "model_version": 3,
                         "run_id": "r1", "origin": "2026-12-05",
                         "generated_at": "2026-12-06T08:00:00Z"})
    return pd.DataFrame(rows)


def test_the_answer_follows_the_contract() -> None:
    answer = trend_looks_answer(_trend_table()).model_dump(mode="json")
    assert answer["generated_at"] == "2026-12-06T08:00:00Z" and answer["model_version"] == 3
    assert [look["look_id"] for look in answer["looks"]] == [
        "trend-v3-mauve-t5-warm-0", "trend-v3-mauve-t8-cool-0"]  # largest audience first
    first = answer["looks"][0]
    assert {key: first[key] for key in ("term", "term_type", "trend_class", "skin_tone",
                                        "undertone", "audience_share")} == {
        "term": "mauve", "term_type": "shade_family", "trend_class": "rising", "skin_tone": 5,
        "undertone": "warm", "audience_share": 0.6}
    assert [p["region"] for p in first["products"]] == ["lips", "eyes", "cheeks", "brows"]
    assert first["products"][0] == {
        "region": "lips", "category": "lipstick", "product_id": "p-mauve", "brand": "Glam",
        "name": "Mauve", "shade_hex": "#B784A7", "finish": "satin", "intensity": 0.7,
        "price": 18.5, "delta_e": 1.5}
    assert trend_looks_answer(None).model_dump() == {"generated_at": None, "model_version": None,
                                                     "looks": []}


@pytest.fixture
def snapshot():
    plain = pd.DataFrame({"condition_tone": [5] * 4, "condition_undertone": ["warm"] * 4,
                          "look": [0] * 4, "look_id": ["look-v3-t5-warm-0"] * 4,
                          "product_id": ["p-red", "p-eye-matte", "p-blush", "p-brow"]})
    looks = pd.concat([plain, trend_looks_for_feed(_trend_table())], ignore_index=True)
    return build_snapshot(CATALOG, looks=looks, look_version=3)


def _feed(snapshot, **features):
    return {item.look_id: item for item in rank_feed(snapshot, "u-1", features, 20).items
            if item.look_id}


def test_a_consented_face_gets_the_trend_look_with_its_reason_first(snapshot) -> None:
    looks = _feed(snapshot, skin_tone=5, undertone="warm")
    assert set(looks) == {"look-v3-t5-warm-0", "trend-v3-mauve-t5-warm-0"}
    trend = looks["trend-v3-mauve-t5-warm-0"]
    assert trend.reasons[0] == "rising: mauve"
    assert sorted(trend.products) == ["p-blush", "p-brow", "p-eye-matte", "p-mauve"]
    assert "rising: mauve" not in looks["look-v3-t5-warm-0"].reasons
    # the forecast's "rising" counts as fully trending: above the plain look of the same face
    assert trend.score > looks["look-v3-t5-warm-0"].score
    assert set(_feed(snapshot, skin_tone=8, undertone="cool")) == {"trend-v3-mauve-t8-cool-0"}
    assert _feed(snapshot) == {}  # no consented face, no generated look
    # a look holding a bought product is not offered, trend look or not
    bought = _feed(snapshot, skin_tone=5, undertone="warm", **{PURCHASED_FEATURE: ["p-mauve"]})
    assert set(bought) == {"look-v3-t5-warm-0"}
    # a trend look far from the person's natural ↔ bold slider is not offered
    assert "trend-v3-mauve-t5-warm-0" not in _feed(snapshot, skin_tone=5, undertone="warm",
                                                   boldness=1.0)


def test_taste_gates_trend_looks() -> None:
    assert trend_look_fits(None, None) and trend_look_fits(0.9, None)
    assert trend_look_fits(0.6, 0.2) and not trend_look_fits(0.8, 0.2)
    assert trend_look_fits(0.1, 0.55) and not trend_look_fits(0.0, 1.0)
