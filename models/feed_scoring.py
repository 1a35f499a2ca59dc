"""Feed scoring (pure numpy/pandas): the snapshot, candidates, one blended score, reasons.

The engine (`glamcast.platform.feed_engine`, shared by the API and the feed stream stage) loads
the catalogue, the champions and the online features and calls these functions; nothing here
reads a store. Every weight and threshold is a setting (`FeedWeights.from_settings`; the
defaults below are those of `glamcast.core.settings`).

A feed for a person is built in three steps:

1. **Candidates** (`candidate_indices`): the champion recommender's top `feed_candidates` unseen
   products for a known user, the `feed_candidates` most trending products, the most popular
   products of the person's favourite shade family (7 d), and generated looks for their face
   (skin tone and undertone, when consented) from the look-generator champion.
2. **Score** (`rank_feed`), per candidate, every term in [0, 1]::

       score     = w_a * affinity + w_t * trend + w_f * freshness
                   (feed_weight_affinity 0.6, feed_weight_trend 0.25, feed_weight_freshness 0.15)
       affinity  = a_t * taste + a_s * [family = favourite family 7d]
                 + a_c * category share of the person's 7 d tries + a_f * [finish = favourite]
                   (feed_affinity_taste 0.55, feed_affinity_family 0.25,
                    feed_affinity_category 0.15, feed_affinity_finish 0.05)
       taste     = percentile of the recommender's score u·v + b among all products (known user),
                   percentile of training popularity otherwise (cold user)
       trend     = clip(log(s) / log(S), 0, 1),  s = highest `trend_score` of the product's terms
                   (shade family, brand, category, finish; term_trends_fv: weight this hour over
                   its baseline); S = feed_full_trend_score (4): 4× the baseline or more counts
                   as fully trending
       freshness = 0.5 ** (days since launch / feed_freshness_half_life_days (30))

   A look scores as the mean affinity of its matched products, their highest trend, freshness 1.
   Products bought (user_history_fv, 7 d) or seen in the recommender's training are dropped, and
   so is every look that contains a bought product.

   Explicit preferences (user_preferences_fv) hide products of a "never show me" category or
   above the price cap (and looks holding one), and the natural ↔ bold slider moves the score
   toward items of matching boldness (`shade_boldness`, `boldness_shift`).
3. **Reasons**: "because you tried coral lipsticks" (favourite family and/or most tried
   category), "rising: coral" (a term at ≥ feed_rising_trend_score (1.5) × its baseline),
   "new in" (freshness ≥ feed_new_in_freshness (0.8)), "matches your taste" (taste percentile
   ≥ feed_taste_reason_percentile (0.9): the recommender's top decile), "generated for your
   undertone", "bold, as you asked" / "natural, as you asked", "within your €25 budget",
   "trending now" for a cold person's trending items.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from glamcast.core.features import CATEGORIES, PREFERENCE_FEATURES, PURCHASED_FEATURE
from glamcast.core.settings import Settings
from glamcast.core.shades import lab_from_hex_array, lch_from_lab, shade_families_from_hex_array
from glamcast.core.trend_terms import BRAND, CATEGORY, FINISH, SHADE_FAMILY, normalize_brand

#: `user_activity_fv` features the ranking reads (`user_signals`); the engine reads them online.
ACTIVITY_FEATURES = (
    "fav_shade_family_7d",
    "fav_finish_7d",
    "skin_tone",
    "undertone",
    "last_event_ms",
    *(f"tries_7d_{category}" for category in CATEGORIES),
)


# --- answer (HTTP response and glamcast.feed.v1 message) ---------------------------------------


class FeedItem(BaseModel):
    """One feed entry: a product or a generated look, its score and why it is there."""

    product_id: str | None = Field(None, description="Set for a product.")
    look_id: str | None = Field(None, description="Set for a generated look.")
    products: list[str] | None = Field(
        None, description="A look's matched products (lips, eyes, cheeks...), to shop it."
    )
    score: float = Field(description="Blended score in [0, 1]; the feed is sorted by it.")
    reasons: list[str] = Field(description="Why the item is in the feed, most specific first.")


class Feed(BaseModel):
    """A person's feed; also the message on `glamcast.feed.v1` (keyed by `user_id`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "u-000042",
                    "generated_at": "2026-03-01T12:00:00Z",
                    "model_version": 3,
                    "personalized": True,
                    "items": [
                        {
                            "product_id": "p-0117",
                            "score": 0.81,
                            "reasons": ["because you tried coral lipsticks", "rising: coral"],
                        },
                        {
                            "look_id": "look-v2-t5-warm-0",
                            "products": ["p-0117", "p-0032"],
                            "score": 0.64,
                            "reasons": ["generated for your undertone"],
                        },
                    ],
                }
            ]
        }
    )

    user_id: str
    generated_at: datetime
    items: list[FeedItem]
    model_version: int | None = Field(
        description="Version of the recommender champion that ranked it (None: no champion yet)."
    )
    ranker_version: int | None = Field(
        None, description="Version of the `glamcast-ranker` champion that ordered it (None: the "
        "hand-set blend ordered it)."
    )
    personalized: bool = Field(
        description="False for the trending feed of an unknown or cold person."
    )


# --- weights -----------------------------------------------------------------------------------


def _setting(name: str) -> Any:
    """A field read from the setting `name` by `from_settings`, with that setting's default."""
    return field(default=Settings.model_fields[name].default, metadata={"setting": name})


@dataclass(frozen=True)
class FeedWeights:
    """Weights and thresholds of the blend (see the module docstring), one setting each.

    The three terms' weights sum to 1, and so do the four weights inside affinity."""

    affinity: float = _setting("feed_weight_affinity")
    trend: float = _setting("feed_weight_trend")
    freshness: float = _setting("feed_weight_freshness")
    # inside affinity
    taste: float = _setting("feed_affinity_taste")  # the recommender's (or popularity's) percentile
    family: float = _setting("feed_affinity_family")  # shade family is the favourite (7 d)
    category: float = _setting("feed_affinity_category")  # share of 7 d tries in the category
    finish: float = _setting("feed_affinity_finish")  # finish is the favourite (7 d)
    half_life_days: float = _setting("feed_freshness_half_life_days")  # freshness halves here
    full_trend_score: float = _setting("feed_full_trend_score")  # trend_score giving trend = 1
    # reasons
    rising_trend_score: float = _setting("feed_rising_trend_score")  # "rising: <term>" from here
    taste_reason_pct: float = _setting("feed_taste_reason_percentile")  # "matches your taste"
    new_in_freshness: float = _setting("feed_new_in_freshness")  # "new in" from this freshness
    # explicit preferences (user_preferences_fv)
    boldness: float = _setting("feed_weight_boldness")  # weight of the boldness match at a slider end
    bold_reason: float = _setting("feed_boldness_reason")  # "bold, as you asked" from this boldness
    currency: str = _setting("feed_currency_symbol")  # "within your €25 budget"

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedWeights:
        return cls(**{f.name: getattr(settings, f.metadata["setting"]) for f in fields(cls)})


# --- the in-memory model: items, pools, looks -----------------------------------------------------


@dataclass(frozen=True)
class Looks:
    """Generated looks: per (skin tone, undertone) the row indices of `look_ids`."""

    look_ids: np.ndarray  # (n_looks,) str
    products: list[np.ndarray]  # per look: item indices of its matched products
    by_condition: dict[tuple[int, str], np.ndarray]  # (tone, undertone) → look indices
    # per look: the rising term a forecast run generated it for (trend looks), or None
    terms: np.ndarray | None = None  # (n_looks,) object

    @classmethod
    def empty(cls) -> Looks:
        return cls(np.empty(0, dtype=object), [], {})

    def term(self, look: int) -> str | None:
        """The rising term of a trend look (None for a plain look)."""
        if self.terms is None:
            return None
        value = self.terms[look]
        return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class FeedSnapshot:
    """Everything the ranking needs besides a person's features; replaced, never mutated."""

    item_ids: np.ndarray  # (n,) str; the recommender's items first, then catalogue-only ones
    category: np.ndarray  # (n,) object, None when unknown
    family: np.ndarray  # (n,) object shade family
    finish: np.ndarray  # (n,) object
    brand: np.ndarray  # (n,) object normalized brand
    freshness: np.ndarray  # (n,) float in [0, 1]
    popularity: np.ndarray  # (n,) float: training popularity (+ live tries 24 h)
    popularity_pct: np.ndarray  # (n,) float percentile of popularity
    trend: np.ndarray  # (n,) float in [0, 1]
    trend_term: np.ndarray  # (n,) object: the product's most trending term value, or None
    trend_raw: np.ndarray  # (n,) float: that term's trend_score (0 without)
    trending_order: np.ndarray  # item indices, most trending first (trend, then popularity)
    family_pools: dict[str, np.ndarray]  # family → item indices, most popular first
    looks: Looks
    model_version: int | None = None
    recommender: Any = None  # models.recommender_pyfunc.FactorRecommender
    look_version: int | None = None
    candidates: int = 100
    index: dict[str, int] = field(default_factory=dict)  # product_id → item index
    user_rows: dict[str, int] = field(default_factory=dict)  # user_id → recommender row
    # integer codes of the attributes (-1: unknown), so a request compares numbers, not objects
    family_code: np.ndarray = field(default_factory=lambda: np.empty(0, np.int16))
    category_code: np.ndarray = field(default_factory=lambda: np.empty(0, np.int16))
    finish_code: np.ndarray = field(default_factory=lambda: np.empty(0, np.int16))
    codes: dict[str, int] = field(default_factory=dict)  # family / finish name → code
    price: np.ndarray = field(default_factory=lambda: np.empty(0))  # (n,) float, NaN: unknown
    boldness: np.ndarray = field(default_factory=lambda: np.empty(0))  # (n,) float in [0, 1]

    @property
    def n_items(self) -> int:
        return len(self.item_ids)


def _percentile(values: np.ndarray) -> np.ndarray:
    """Rank percentile in [0, 1] (1 = highest; ties share the lowest rank)."""
    n = len(values)
    if n <= 1:
        return np.ones(n)
    order = pd.Series(values).rank(method="min", ascending=True).to_numpy()
    return (order - 1) / (n - 1)


def _trend_terms(snapshot_items: pd.DataFrame) -> list[list[str]]:
    terms = []
    for row in snapshot_items.itertuples(index=False):
        keys = []
        for term_type, value in (
            (SHADE_FAMILY, row.family),
            (CATEGORY, row.category),
            (FINISH, row.finish),
            (BRAND, row.brand),
        ):
            if isinstance(value, str) and value:
                keys.append(f"{term_type}:{value}")
        terms.append(keys)
    return terms


def snapshot_trend_terms(snapshot: FeedSnapshot) -> list[str]:
    """Every ``term_type:term`` of the snapshot's products (shade family, category, finish,
    brand), sorted: the term trend scores `build_snapshot` takes."""
    frame = pd.DataFrame({"family": snapshot.family, "category": snapshot.category,
                          "finish": snapshot.finish, "brand": snapshot.brand})
    return sorted({key for keys in _trend_terms(frame) for key in keys})


def build_snapshot(
    catalog: pd.DataFrame,
    recommender: Any = None,
    *,
    model_version: int | None = None,
    trend_scores: Mapping[str, float] | None = None,
    live_popularity: Mapping[str, float] | None = None,
    looks: pd.DataFrame | None = None,
    look_version: int | None = None,
    now: datetime | None = None,
    weights: FeedWeights = FeedWeights(),
    candidates: int = 100,
) -> FeedSnapshot:
    """The in-memory pools from a catalogue (product_id, category, shade_hex, finish, brand,
    launched_at; any may be missing but product_id), the champion, the online term trend scores
    (``term_type:term`` → score) and product tries over 24 h, and generated looks (rows of
    ``condition_tone, condition_undertone, look, product_id``)."""
    now = now or datetime.now(UTC)
    catalog = catalog.drop_duplicates("product_id", keep="last").set_index("product_id")
    model_items = [] if recommender is None else [str(item) for item in recommender.item_ids]
    known = set(model_items)
    item_ids = np.asarray(model_items + [p for p in catalog.index if p not in known], dtype=object)
    items = catalog.reindex(item_ids)

    def column(name: str) -> np.ndarray:
        if name not in items.columns:
            return np.full(len(item_ids), None, dtype=object)
        return items[name].astype(object).where(items[name].notna(), None).to_numpy()

    shade = column("shade_hex")
    family = np.full(len(item_ids), None, dtype=object)
    has_shade = np.array([isinstance(value, str) for value in shade], dtype=bool)
    if has_shade.any():
        family[has_shade] = shade_families_from_hex_array(shade[has_shade].tolist())
    brand = np.array([normalize_brand(b) if isinstance(b, str) else None for b in column("brand")],
                     dtype=object)
    frame = pd.DataFrame(
        {"family": family, "category": column("category"), "finish": column("finish"),
         "brand": brand}
    )
    if "launched_at" in items.columns:
        launched = pd.to_datetime(items["launched_at"], utc=True)
        age_days = ((pd.Timestamp(now) - launched).dt.total_seconds() / 86_400).to_numpy()
        freshness = np.where(
            np.isnan(age_days), 0.0, 0.5 ** (np.clip(age_days, 0, None) / weights.half_life_days)
        )
    else:
        freshness = np.zeros(len(item_ids))
    popularity = np.zeros(len(item_ids))
    if recommender is not None:
        share = np.asarray(recommender.popularity, dtype=float)
        popularity[: len(share)] = share / max(share.sum(), 1e-12)
    if live_popularity:
        live = np.array([float(live_popularity.get(p) or 0.0) for p in item_ids])
        if live.sum() > 0:
            popularity = popularity + live / live.sum()
    scores = trend_scores or {}
    trend_raw = np.zeros(len(item_ids))
    trend_term = np.full(len(item_ids), None, dtype=object)
    for position, keys in enumerate(_trend_terms(frame)):
        best = max(keys, key=lambda key: scores.get(key, 0.0), default=None)
        if best is not None and scores.get(best, 0.0) > 0:
            trend_raw[position] = scores[best]
            trend_term[position] = best.split(":", 1)[1]
    with np.errstate(divide="ignore"):
        trend = np.clip(
            np.where(trend_raw > 0, np.log(np.maximum(trend_raw, 1e-12)), 0.0)
            / math.log(weights.full_trend_score), 0.0, 1.0)
    trending_order = np.lexsort((-popularity, -trend))
    family_pools = {}
    for name in {f for f in family if f is not None}:
        members = np.flatnonzero(family == name)
        family_pools[name] = members[np.argsort(-popularity[members], kind="stable")][:candidates]
    names = {name: i for i, name in enumerate(sorted(
        {v for v in (*family, *frame["finish"]) if isinstance(v, str)}))}
    return FeedSnapshot(
        item_ids=item_ids, category=frame["category"].to_numpy(), family=family,
        finish=frame["finish"].to_numpy(), brand=brand, freshness=freshness,
        popularity=popularity, popularity_pct=_percentile(popularity), trend=trend,
        trend_term=trend_term, trend_raw=trend_raw,
        trending_order=trending_order[:candidates], family_pools=family_pools,
        looks=_looks(looks, {p: i for i, p in enumerate(item_ids)}),
        model_version=model_version, recommender=recommender, look_version=look_version,
        candidates=candidates, index={p: i for i, p in enumerate(item_ids)},
        user_rows={} if recommender is None else {
            str(u): i for i, u in enumerate(recommender.user_ids)},
        family_code=_codes(family, names), category_code=_codes(frame["category"], _CATEGORY_CODE),
        finish_code=_codes(frame["finish"], names), codes=names,
        price=pd.to_numeric(pd.Series(column("price")), errors="coerce").to_numpy(float),
        boldness=shade_boldness(shade, frame["finish"].to_numpy()),
    )


_CATEGORY_CODE = {name: i for i, name in enumerate(CATEGORIES)}


def _codes(values: Any, codes: dict[str, int]) -> np.ndarray:
    return np.array([codes.get(value, -1) for value in values], dtype=np.int16)


#: How bold each finish reads, 0 to 1: metallic, shimmer and gloss catch the light and draw the
#: eye; satin barely, matte not at all.
FINISH_BOLDNESS = {"matte": 0.0, "satin": 0.25, "gloss": 0.6, "shimmer": 0.8, "metallic": 1.0}
#: CIELAB chroma that counts as fully colourful (a pure red lipstick is about 60-70).
BOLD_CHROMA = 60.0
#: CIELAB lightness from which a shade counts as deep (and at which depth reaches 0 and 1).
DEEP_FROM_L, DEEPEST_L = 75.0, 25.0


def shade_boldness(shades: Any, finishes: Any) -> np.ndarray:
    """How bold each item reads, in [0, 1] (0 natural, 1 bold)::

        boldness = 0.5 * min(C* / 60, 1) + 0.25 * clip((75 - L*) / 50, 0, 1) + 0.25 * finish

    colourfulness (CIELAB chroma) counts most, then depth (a dark shade is bolder than a pale
    one), then the finish (`FINISH_BOLDNESS`). Without a shade its colour counts 0.5 of each
    part; an unknown finish counts 0.5."""
    shades = np.asarray(shades, dtype=object)
    n = len(shades)
    chroma, depth = np.full(n, 0.5), np.full(n, 0.5)
    known = np.array([isinstance(value, str) for value in shades], dtype=bool)
    if known.any():
        lch = lch_from_lab(lab_from_hex_array(shades[known].tolist()))
        chroma[known] = np.minimum(lch[:, 1] / BOLD_CHROMA, 1.0)
        depth[known] = np.clip((DEEP_FROM_L - lch[:, 0]) / (DEEP_FROM_L - DEEPEST_L), 0.0, 1.0)
    finish = np.array([FINISH_BOLDNESS.get(value, 0.5) for value in finishes], dtype=float)
    return 0.5 * chroma + 0.25 * depth + 0.25 * finish


def _looks(frame: pd.DataFrame | None, index: dict[str, int]) -> Looks:
    if frame is None or frame.empty:
        return Looks.empty()
    ids, products, by_condition, terms = [], [], {}, []
    for (tone, undertone, look), rows in frame.groupby(
        ["condition_tone", "condition_undertone", "look"], sort=True
    ):
        matched = np.array([index[p] for p in rows["product_id"] if p in index], dtype=np.int64)
        if not matched.size:
            continue
        key = (int(tone), str(undertone))
        by_condition.setdefault(key, []).append(len(ids))
        ids.append(str(rows["look_id"].iloc[0]) if "look_id" in rows else
                   f"look-t{int(tone)}-{undertone}-{look}")
        products.append(matched)
        # a trend look (glamcast.platform.trend_looks) names the rising term it was made for
        term = rows["trend_term"].iloc[0] if "trend_term" in rows else None
        terms.append(term if isinstance(term, str) and term else None)
    return Looks(np.asarray(ids, dtype=object), products,
                 {key: np.asarray(value) for key, value in by_condition.items()},
                 np.asarray(terms, dtype=object) if any(terms) else None)


# --- ranking ---------------------------------------------------------------------------------------


def _plural(category: str) -> str:
    words = category.replace("_", " ")
    return words + ("es" if words.endswith(("s", "sh")) else "s")


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def user_signals(features: Mapping[str, Any] | None) -> dict[str, Any]:
    """The features the ranking reads, cleaned: nulls to None, tries per category as a share."""
    features = features or {}
    tries = np.array([float(features.get(f"tries_7d_{c}") or 0) for c in CATEGORIES])
    total = tries.sum()
    share = dict(zip(CATEGORIES, (tries / total) if total else tries, strict=True))
    purchased = features.get(PURCHASED_FEATURE) or []
    tone = features.get("skin_tone")
    bold, cap, never = (features.get(name) for name in PREFERENCE_FEATURES)
    return {
        "family": features.get("fav_shade_family_7d") or None,
        "finish": features.get("fav_finish_7d") or None,
        "category_share": share,
        "top_category": CATEGORIES[int(tries.argmax())] if total else None,
        "skin_tone": int(tone) if _present(tone) else None,
        "undertone": features.get("undertone") or None,
        "purchased": [str(p) for p in purchased],
        "active": bool(total) or _present(features.get("last_event_ms")),
        # explicit preferences (user_preferences_fv); None / empty: not set
        "boldness": float(bold) if _present(bold) else None,
        "price_cap": float(cap) if _present(cap) else None,
        "never": [str(category) for category in never] if never is not None else [],
    }


def preference_blocked(snapshot: FeedSnapshot, signals: Mapping[str, Any]) -> np.ndarray:
    """(n_items,) bool: what the person's preferences hide, a "never show me" category or a
    price above their cap (an unknown price is not above it)."""
    blocked = np.zeros(snapshot.n_items, dtype=bool)
    never = [_CATEGORY_CODE[name] for name in signals.get("never", ()) if name in _CATEGORY_CODE]
    if never:
        blocked |= np.isin(snapshot.category_code, never)
    cap = signals.get("price_cap")
    if cap is not None and len(snapshot.price) == snapshot.n_items:
        with np.errstate(invalid="ignore"):
            blocked |= snapshot.price > cap
    return blocked


def boldness_shift(scores: np.ndarray, boldness: np.ndarray, slider: float | None,
                   weights: FeedWeights) -> np.ndarray:
    """Scores moved toward the items whose boldness matches the natural ↔ bold slider::

        score' = (1 - w * s) * score + w * s * match,  s = |2 * slider - 1|,
        match  = boldness (slider above 0.5) or 1 - boldness (below)

    (w = feed_weight_boldness); at 0.5, or without a slider, nothing moves."""
    if slider is None or slider == 0.5 or len(boldness) != len(scores):
        return scores
    strength = weights.boldness * abs(2 * slider - 1)
    match = boldness if slider > 0.5 else 1.0 - boldness
    return (1 - strength) * scores + strength * match


def _money(amount: float, currency: str) -> str:
    return f"{currency}{amount:,.0f}" if float(amount).is_integer() else f"{currency}{amount:,.2f}"


def _preference_reasons(snapshot: FeedSnapshot, i: int, signals: Mapping[str, Any],
                        weights: FeedWeights) -> list[str]:
    reasons = []
    slider = signals.get("boldness")
    if slider is not None and len(snapshot.boldness) == snapshot.n_items:
        if slider > 0.5 and snapshot.boldness[i] >= weights.bold_reason:
            reasons.append("bold, as you asked")
        elif slider < 0.5 and snapshot.boldness[i] <= 1 - weights.bold_reason:
            reasons.append("natural, as you asked")
    cap = signals.get("price_cap")
    if cap is not None and len(snapshot.price) == snapshot.n_items and snapshot.price[i] <= cap:
        reasons.append(f"within your {_money(cap, weights.currency)} budget")
    return reasons


def candidate_indices(snapshot: FeedSnapshot, user_id: str, signals: Mapping[str, Any]
                      ) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """(candidate item indices, taste per item or None, known to the recommender)."""
    n = snapshot.n_items
    blocked = preference_blocked(snapshot, signals)
    for product in signals["purchased"]:
        position = snapshot.index.get(product)
        if position is not None:
            blocked[position] = True
    taste = None
    pools = [snapshot.trending_order]
    recommender = snapshot.recommender
    row = snapshot.user_rows.get(user_id)
    known = recommender is not None and row is not None
    if known:
        raw = recommender.user_factors[row] @ recommender.item_factors.T + recommender.item_bias
        seen = recommender.seen(row)
        blocked[seen] = True
        taste = np.zeros(n)
        # percentile of the score; float scores practically never tie
        taste[np.argsort(raw, kind="stable")] = np.arange(len(raw)) / max(len(raw) - 1, 1)
        take = min(snapshot.candidates, len(raw))
        allowed = np.where(blocked[: len(raw)], -np.inf, raw)
        pools.append(np.argpartition(-allowed, take - 1)[:take] if take else np.empty(0, int))
    if signals["family"] in snapshot.family_pools:
        pools.append(snapshot.family_pools[signals["family"]])
    merged = np.unique(np.concatenate(pools).astype(np.int64))
    return merged[~blocked[merged]], taste, known


def _product_reasons(snapshot: FeedSnapshot, i: int, signals: Mapping[str, Any],
                     taste_pct: float | None, personalized: bool, weights: FeedWeights
                     ) -> list[str]:
    reasons = []
    family_match = signals["family"] is not None and snapshot.family[i] == signals["family"]
    category = snapshot.category[i]
    category_match = category is not None and category == signals["top_category"]
    if family_match and category_match:
        reasons.append(f"because you tried {signals['family']} {_plural(category)}")
    elif family_match:
        reasons.append(f"because you tried {signals['family']} shades")
    elif category_match:
        reasons.append(f"because you tried {_plural(category)}")
    if taste_pct is not None and taste_pct >= weights.taste_reason_pct:
        reasons.append("matches your taste")
    if snapshot.trend_raw[i] >= weights.rising_trend_score and snapshot.trend_term[i]:
        reasons.append(f"rising: {snapshot.trend_term[i]}")
    if snapshot.freshness[i] >= weights.new_in_freshness:
        reasons.append("new in")
    reasons += _preference_reasons(snapshot, i, signals, weights)
    if not reasons:
        reasons.append("popular now" if personalized else "trending now")
    return reasons


def rank_feed(
    snapshot: FeedSnapshot,
    user_id: str,
    features: Mapping[str, Any] | None,
    k: int,
    weights: FeedWeights = FeedWeights(),
    now: datetime | None = None,
) -> Feed:
    """The top `k` of a person's feed (see the module docstring for the formula)."""
    signals = user_signals(features)
    candidates, taste, known = candidate_indices(snapshot, user_id, signals)
    personalized = known or signals["active"]
    scores, affinity_all = blend_scores(snapshot, signals, candidates, taste, weights)
    entries: list[tuple[float, int, FeedItem]] = []
    order = np.lexsort((candidates, -scores))[:k]
    for position in order:
        i = int(candidates[position])
        entries.append((float(scores[position]), i, FeedItem(
            product_id=str(snapshot.item_ids[i]), score=round(float(scores[position]), 6),
            reasons=product_reasons(snapshot, i, signals, taste, personalized, weights),
        )))
    entries.extend(_look_entries(snapshot, signals, affinity_all, weights))
    entries.sort(key=lambda entry: (-entry[0], entry[1]))
    return Feed(
        user_id=user_id, generated_at=now or datetime.now(UTC),
        items=[item for _, _, item in entries[:k]], model_version=snapshot.model_version,
        personalized=personalized,
    )


def blend_scores(snapshot: FeedSnapshot, signals: Mapping[str, Any], candidates: np.ndarray,
                 taste: np.ndarray | None, weights: FeedWeights) -> tuple[np.ndarray, np.ndarray]:
    """The blend's score of each of `candidates` (`candidate_indices`) and the affinity of every
    product (0 outside the candidates; the looks' scores read it)."""
    base_taste = taste if taste is not None else snapshot.popularity_pct
    codes = snapshot.codes
    family_match = snapshot.family_code[candidates] == codes.get(signals["family"], -2)
    finish_match = snapshot.finish_code[candidates] == codes.get(signals["finish"], -2)
    share = signals["category_share"]
    # the extra last entry is what an unknown category (code -1) reads
    shares = np.array([share[name] for name in CATEGORIES] + [0.0])
    category_share = shares[snapshot.category_code[candidates]]
    affinity_all = np.zeros(snapshot.n_items)
    affinity_all[candidates] = (
        weights.taste * base_taste[candidates] + weights.family * family_match
        + weights.category * category_share + weights.finish * finish_match
    )
    scores = (weights.affinity * affinity_all[candidates]
              + weights.trend * snapshot.trend[candidates]
              + weights.freshness * snapshot.freshness[candidates])
    scores = boldness_shift(scores, snapshot.boldness[candidates], signals["boldness"], weights)
    return scores, affinity_all


def product_reasons(snapshot: FeedSnapshot, i: int, signals: Mapping[str, Any],
                    taste: np.ndarray | None, personalized: bool, weights: FeedWeights
                    ) -> list[str]:
    """The blend's reasons for product `i` (`taste`: `candidate_indices`' percentiles)."""
    return _product_reasons(snapshot, i, signals, None if taste is None else float(taste[i]),
                            personalized, weights)


def look_entries(snapshot: FeedSnapshot, signals: Mapping[str, Any], affinity: np.ndarray,
                 weights: FeedWeights) -> list[FeedItem]:
    """The person's look items (their face's looks they can shop), best first."""
    entries = _look_entries(snapshot, signals, affinity, weights)
    entries.sort(key=lambda entry: (-entry[0], entry[1]))
    return [item for _, _, item in entries]


def _look_entries(snapshot: FeedSnapshot, signals: Mapping[str, Any], affinity: np.ndarray,
                  weights: FeedWeights) -> list[tuple[float, int, FeedItem]]:
    tone, undertone = signals["skin_tone"], signals["undertone"]
    if tone is None or undertone is None:
        return []
    looks = snapshot.looks
    chosen = looks.by_condition.get((tone, undertone))
    if chosen is None:
        return []
    purchased = {snapshot.index[p] for p in signals["purchased"] if p in snapshot.index}
    hidden = preference_blocked(snapshot, signals)
    entries = []
    slider = signals.get("boldness")
    for look in chosen:
        products = looks.products[int(look)]
        if purchased & set(products.tolist()) or hidden[products].any():
            continue
        rising_term = looks.term(int(look))
        bold = (float(snapshot.boldness[products].mean())
                if len(snapshot.boldness) == snapshot.n_items else None)
        if rising_term is not None and not trend_look_fits(bold, slider):
            continue  # a trend look only for people whose taste it fits
        # a trend look's term was called rising by the forecast: it counts as fully trending
        trend = 1.0 if rising_term is not None else float(snapshot.trend[products].max())
        score = (weights.affinity * float(affinity[products].mean())
                 + weights.trend * trend + weights.freshness)
        if bold is not None:
            score = float(boldness_shift(np.array([score]), np.array([bold]), slider,
                                         weights)[0])
        reasons = ["generated for your undertone", "generated for your skin tone"]
        best = int(products[np.argmax(snapshot.trend_raw[products])])
        if rising_term is not None:
            reasons.insert(0, f"rising: {rising_term}")
        elif snapshot.trend_raw[best] >= weights.rising_trend_score and snapshot.trend_term[best]:
            reasons.append(f"rising: {snapshot.trend_term[best]}")
        # an index past the products keeps ties in a stable, product-first order
        entries.append((score, snapshot.n_items + int(look), FeedItem(
            look_id=str(looks.look_ids[int(look)]),
            products=[str(snapshot.item_ids[p]) for p in products],
            score=round(score, 6), reasons=reasons,
        )))
    return entries


#: Largest gap between a trend look's boldness and a person's natural ↔ bold slider for which the
#: look still fits their taste (a look at the other end of the slider is not offered).
TREND_LOOK_MAX_BOLDNESS_GAP = 0.5


def trend_look_fits(look_boldness: float | None, slider: float | None) -> bool:
    """Whether a trend look fits a person's stated taste: no slider (or no boldness known), or
    the look's boldness within `TREND_LOOK_MAX_BOLDNESS_GAP` of the slider. Never-categories and
    the price cap are checked for every look already (`preference_blocked`)."""
    if slider is None or look_boldness is None:
        return True
    return abs(look_boldness - slider) <= TREND_LOOK_MAX_BOLDNESS_GAP
