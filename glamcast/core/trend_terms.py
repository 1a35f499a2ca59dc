"""Trend terms: how raw event fields become trend terms, how much each signal weighs, and the
"trending now" score. Pure functions, shared by the stream workers, the API and the tests.

Terms are pairs ``(term_type, term)``:

- ``hashtag`` — social hashtags, NFKC-normalized, case-folded, without ``#``, spaces or
  punctuation other than ``_`` (``"#Red Lips!"`` → ``"redlips"``); counted once per post;
- ``brand`` — social `brands[]` and commerce `brand`: NFKC, case-folded, single spaces, without
  ™/®/© (``"Fenty  Beauty™"`` → ``"fenty beauty"``);
- ``category`` — try-on `category`, or the last segment of a commerce `category_code`
  (``"beauty.lips.lipstick"`` → ``"lipstick"``);
- ``finish`` — try-on `finish`;
- ``shade_family`` — try-on `shade_hex` named through CIELAB (`glamcast.core.shades.shade_family`).

Weights per event (all non-negative, so hourly sums stay counts a forecaster can model):

- social: ``1 + ln(1 + likes + 2·comments + 3·shares + views/100)`` (engagement-weighted; a
  post nobody engaged with still counts 1);
- commerce: by `event_type` (`COMMERCE_EVENT_WEIGHTS`);
- try-on: by `action` (`TRYON_ACTION_WEIGHTS`).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from glamcast.core.shades import shade_family

# --- vocabularies ------------------------------------------------------------------------------

HASHTAG = "hashtag"
BRAND = "brand"
CATEGORY = "category"
FINISH = "finish"
SHADE_FAMILY = "shade_family"
TERM_TYPES = (HASHTAG, BRAND, CATEGORY, FINISH, SHADE_FAMILY)

#: Signal sources, one per input topic that feeds trend counts.
SOCIAL_SOURCE = "social"
COMMERCE_SOURCE = "commerce"
TRYON_SOURCE = "tryon"
SOURCES = (SOCIAL_SOURCE, COMMERCE_SOURCE, TRYON_SOURCE)

TRYON_ACTION_WEIGHTS: dict[str, float] = {
    "try_on": 1.0,
    "shade_swap": 1.0,
    "like": 2.0,
    "save": 3.0,
    "share": 3.0,
    "add_to_cart": 4.0,
    "purchase": 6.0,
    "dismiss": 0.0,  # an explicit "not for me": counted as an event, adds no weight
}

COMMERCE_EVENT_WEIGHTS: dict[str, float] = {
    "view": 1.0,
    "cart": 3.0,
    "remove_from_cart": 0.0,
    "purchase": 6.0,
}

#: Engagement coefficients of the social weight (see the module docstring).
SOCIAL_ENGAGEMENT = {"likes": 1.0, "comments": 2.0, "shares": 3.0, "views": 0.01}

# --- normalization -----------------------------------------------------------------------------

_NOT_HASHTAG = re.compile(r"[^\w]+")  # \w is Unicode-aware: keeps letters, digits, marks and _
_TRADEMARKS = re.compile(r"[™®©]")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=131_072)
def normalize_hashtag(raw: str) -> str | None:
    """``"#Red Lips!"`` → ``"redlips"``; None when nothing is left."""
    text = unicodedata.normalize("NFKC", raw).casefold()
    term = _NOT_HASHTAG.sub("", text)
    return term or None


@lru_cache(maxsize=65_536)
def normalize_brand(raw: str | None) -> str | None:
    """``"Fenty  Beauty™"`` → ``"fenty beauty"``; None for blank or missing brands."""
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", _TRADEMARKS.sub("", raw)).casefold()
    term = _SPACES.sub(" ", text).strip()
    return term or None


@lru_cache(maxsize=16_384)
def category_from_code(category_code: str | None) -> str | None:
    """The last segment of a REES46 `category_code`: ``"beauty.lips.lipstick"`` → ``"lipstick"``."""
    if not category_code:
        return None
    term = category_code.strip().rsplit(".", 1)[-1].strip().casefold()
    return term or None


def shade_family_term(shade_hex: str) -> str:
    """The shade-family term of a ``#RRGGBB`` shade (cached in `glamcast.core.shades`)."""
    return shade_family(shade_hex.upper())


def social_weight(likes: int, comments: int, shares: int, views: int) -> float:
    """Engagement weight of one social post (>= 1)."""
    engagement = (
        SOCIAL_ENGAGEMENT["likes"] * likes
        + SOCIAL_ENGAGEMENT["comments"] * comments
        + SOCIAL_ENGAGEMENT["shares"] * shares
        + SOCIAL_ENGAGEMENT["views"] * views
    )
    return 1.0 + math.log1p(engagement)


# --- trending now ------------------------------------------------------------------------------

HOUR_S = 3600
DAY_S = 86_400


@dataclass(frozen=True)
class TrendingTerm:
    """One term's weight in the hour being scored, against its baseline for that hour."""

    term_type: str
    term: str
    hour: int  # start of the hour, epoch seconds (UTC)
    weight: float
    baseline: float
    score: float  # (weight + 1) / (baseline + 1)


def trending_now(
    hourly: Mapping[tuple[str, str], Mapping[int, float]],
    *,
    as_of_hour: int | None = None,
    baseline_days: int = 7,
    limit: int | None = 20,
) -> list[TrendingTerm]:
    """Rank terms by how far their weight in one hour lies above that hour's baseline.

    In: weights per term and hour start (epoch seconds). `as_of_hour` defaults to the latest
    hour with data. The baseline of a term is its mean weight at the same hour of day on the
    previous `baseline_days` days that have any data (a day without data is unknown, not zero);
    when no earlier day has data at that hour, it is the term's mean over the observed hours of
    the preceding 24. The score is ``(weight + 1) / (baseline + 1)``: the +1 keeps a term seen
    once from outranking steady large ones. Out: terms with weight > 0 in that hour, best first.
    """
    observed = {hour for weights in hourly.values() for hour in weights}
    if not observed:
        return []
    hour = as_of_hour if as_of_hour is not None else max(observed)
    hour -= hour % HOUR_S
    same_hours = [
        hour - k * DAY_S for k in range(1, baseline_days + 1) if hour - k * DAY_S in observed
    ]
    previous = [hour - k * HOUR_S for k in range(1, 25) if hour - k * HOUR_S in observed]
    reference = same_hours or previous
    ranked = []
    for (term_type, term), weights in hourly.items():
        weight = weights.get(hour, 0.0)
        if weight <= 0:
            continue
        baseline = (
            sum(weights.get(h, 0.0) for h in reference) / len(reference) if reference else 0.0
        )
        ranked.append(
            TrendingTerm(term_type, term, hour, weight, baseline, (weight + 1) / (baseline + 1))
        )
    ranked.sort(key=lambda item: (-item.score, -item.weight, item.term_type, item.term))
    return ranked[:limit] if limit is not None else ranked


def hourly_weights(trend_counts: pd.DataFrame) -> dict[tuple[str, str], dict[int, float]]:
    """A `trend_counts` frame (lake) → weights per term and hour, summed over sources."""
    if trend_counts.empty:
        return {}
    hours = (trend_counts["hour"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    grouped = (
        trend_counts.assign(_hour=hours).groupby(["term_type", "term", "_hour"])["weight"].sum()
    )
    result: dict[tuple[str, str], dict[int, float]] = {}
    for (term_type, term, hour), weight in grouped.items():
        result.setdefault((term_type, term), {})[int(hour)] = float(weight)
    return result
