"""One day of social-media posts whose hashtags follow the trend curves.

In: the world, a day index and a random generator. Out: `SocialDay`, columnar arrays of posts.

The number of posts follows the weekly and holiday rhythm (`rhythms.posting_multipliers`); each
post draws 1–8 distinct background hashtags with probability proportional to the day's weights
(`trends.TrendCurves.weights`; Gumbel top-k), and carries each planted hashtag and names each
planted brand independently with its day's rate (so a planted term's shape shows undiluted).
Many posts mention a product tied to one of their hashtags (a `#corallips` or `#coralcrush` post
shows a coral shade) and its brand. Authors are a fixed pseudonymous
pool with Zipf-like activity, a home platform and language, a reach and an engagement rate, so
views, likes, comments and shares are heavy-tailed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from glamcast.core.events import SocialPlatform
from glamcast.simulator.rhythms import sample_times_of_day_ms
from glamcast.simulator.trends import N_BACKGROUND, PLANTED_BRANDS, TREND_TERMS

if TYPE_CHECKING:
    from glamcast.simulator.world import World

PLATFORMS: tuple[SocialPlatform, ...] = tuple(SocialPlatform)
#: Share of authors by home platform (same order as PLATFORMS).
PLATFORM_MIX = {"instagram": 0.34, "tiktok": 0.30, "xiaohongshu": 0.14, "weibo": 0.08,
                "youtube": 0.14}
#: Views multiplier per platform (short video travels further).
PLATFORM_REACH = {"instagram": 1.0, "tiktok": 2.0, "xiaohongshu": 0.8, "weibo": 0.7,
                  "youtube": 1.5}
#: Languages of authors on global platforms; Chinese platforms post in zh.
GLOBAL_LANGS = {"en": 0.62, "es": 0.11, "pt": 0.08, "fr": 0.06, "ko": 0.07, "ja": 0.06}
#: Share of posts that tag a product (and its brand), and that name one more brand.
PRODUCT_MENTION_SHARE = 0.45
EXTRA_BRAND_SHARE = 0.25
MAX_HASHTAGS = 8


@dataclass
class Authors:
    """The pseudonymous author pool."""

    ids: list[str]
    platform: np.ndarray  # index into PLATFORMS
    lang: list[str]
    activity: np.ndarray  # probability of writing a given post
    reach: np.ndarray  # typical views of a post
    engagement: np.ndarray  # share of views that like


def make_authors(count: int, seed: int, rng: np.random.Generator) -> Authors:
    platform = rng.choice(len(PLATFORMS), size=count, p=np.array(list(PLATFORM_MIX.values())))
    global_lang = rng.choice(list(GLOBAL_LANGS), size=count, p=np.array(list(GLOBAL_LANGS.values())))
    chinese = np.isin(platform, [PLATFORMS.index(SocialPlatform.XIAOHONGSHU),
                                 PLATFORMS.index(SocialPlatform.WEIBO)])
    activity = 1.0 / rng.permutation(np.arange(1, count + 1)) ** 0.9
    return Authors(
        ids=[f"a_{hashlib.sha1(f'{seed}:{i}'.encode()).hexdigest()[:12]}" for i in range(count)],
        platform=platform,
        lang=[("zh" if zh else str(lang)) for zh, lang in zip(chinese, global_lang, strict=True)],
        activity=activity / activity.sum(),
        reach=rng.lognormal(7.0, 1.3, count),
        engagement=rng.beta(2.0, 30.0, count),
    )


@dataclass
class SocialDay:
    ts_ms: np.ndarray  # (posts,) int64
    author: np.ndarray  # author index
    hashtags: list[list[str]]
    brands: list[list[str]]
    products: list[list[str]]  # product ids
    views: np.ndarray
    likes: np.ndarray
    comments: np.ndarray
    shares: np.ndarray


def _draw_hashtags(weights: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """(top term indices (n, MAX_HASHTAGS), hashtags per post (n,)): Gumbel top-k sampling."""
    keys = np.log(weights)[None, :] + rng.gumbel(size=(n, weights.size))
    ranked = np.argsort(-keys, axis=1)[:, :MAX_HASHTAGS]
    counts = 1 + rng.binomial(MAX_HASHTAGS - 1, 0.3, n)
    return ranked, counts


def _mentioned_products(world: World, ranked: np.ndarray, counts: np.ndarray, planted: np.ndarray,
                        rng: np.random.Generator) -> np.ndarray:
    """(n,) product index per post, -1 where none: tied to the first linked hashtag if any
    (planted hashtags first: they are what the post is about)."""
    n = counts.size
    linked = world.term_products_mask[ranked] & (np.arange(ranked.shape[1]) < counts[:, None])
    anchor = np.where(linked.any(axis=1), ranked[np.arange(n), linked.argmax(axis=1)], -1)
    planted_linked = planted & world.term_products_mask[N_BACKGROUND:][None, :]
    anchor = np.where(planted_linked.any(axis=1), N_BACKGROUND + planted_linked.argmax(axis=1), anchor)
    product = np.full(n, -1, dtype=np.int64)
    mention = rng.random(n) < PRODUCT_MENTION_SHARE
    for term in np.unique(anchor[mention]):
        rows = np.flatnonzero(mention & (anchor == term))
        candidates, probs = world.term_products[term] if term >= 0 else world.popular_products
        product[rows] = rng.choice(candidates, size=rows.size, p=probs)
    return product


def generate_social_day(world: World, day: int, rng: np.random.Generator) -> SocialDay:
    day_ms = world.config.start_ms + day * 86_400_000
    n = int(rng.poisson(world.config.posts_per_day * world.posting[day]))
    authors = world.authors
    author = rng.choice(len(authors.ids), size=n, p=authors.activity)
    weights = world.curves.weights[:, day]
    ranked, counts = _draw_hashtags(weights[:N_BACKGROUND], n, rng)
    planted = rng.random((n, weights.size - N_BACKGROUND)) < weights[N_BACKGROUND:][None, :]
    planted_brands = rng.random((n, len(PLANTED_BRANDS))) < world.curves.brand_rates[:, day][None, :]
    product = _mentioned_products(world, ranked, counts, planted, rng)
    extra_brand = np.where(rng.random(n) < EXTRA_BRAND_SHARE,
                           rng.choice(len(world.brand_names), size=n, p=world.brand_share), -1)

    platform_reach = np.array([PLATFORM_REACH[p.value] for p in PLATFORMS])
    views = np.rint(
        authors.reach[author] * platform_reach[authors.platform[author]]
        * rng.lognormal(0.0, 0.9, n)
    ).astype(np.int64)
    likes = rng.binomial(views, authors.engagement[author])
    comments = rng.binomial(likes, 0.04)
    shares = rng.binomial(likes, 0.02)

    terms = [term.term for term in TREND_TERMS]
    planted_tags = [[terms[N_BACKGROUND + j] for j in np.flatnonzero(row)] for row in planted]
    hashtags = [tags + [terms[t] for t in row[:k]] for tags, row, k in zip(
        planted_tags, ranked.tolist(), counts.tolist(), strict=True)]
    brand_names = [brand.term for brand in PLANTED_BRANDS]
    products, brands = [], []
    for p, b, hits in zip(product.tolist(), extra_brand.tolist(), planted_brands, strict=True):
        products.append([world.product_ids[p]] if p >= 0 else [])
        named = [world.product_brands[p]] if p >= 0 else []
        if b >= 0 and world.brand_names[b] not in named:
            named.append(world.brand_names[b])
        named.extend(brand_names[j] for j in np.flatnonzero(hits))
        brands.append(named)
    return SocialDay(
        ts_ms=(day_ms + sample_times_of_day_ms(rng, n)).astype(np.int64),
        author=author, hashtags=hashtags, brands=brands, products=products,
        views=views, likes=likes, comments=comments, shares=shares,
    )
