"""The synthetic world: catalogue, people, tastes, trends — and the time-ordered record stream.

In: a `SimulationConfig`. Out: a `World` whose `records()` yields every Kafka record of the run in
time order (the catalogue first, then try-on, commerce and social events day by day), and whose
`truth` holds the latent facts for evaluation (people's affinities, true utilities, the catalogue
with hidden quality, trend curves), also written as Parquet by `save_truth`.

Every random draw comes from a generator seeded by (seed, stream, day), so a run is reproducible
byte for byte and one day's events do not depend on how many were drawn before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from glamcast.core.shades import SHADE_FAMILIES
from glamcast.simulator.catalog import BRANDS, CATEGORIES, FINISHES, make_catalog
from glamcast.simulator.commerce_events import generate_commerce_day
from glamcast.simulator.config import SimulationConfig
from glamcast.simulator.looks import LookCatalog, LookTastes, make_look_tastes, make_looks
from glamcast.simulator.records import EncodedBatch, Record, RecordEncoder
from glamcast.simulator.rhythms import activity_multipliers, posting_multipliers, window_dates
from glamcast.simulator.social_posts import Authors, SocialDay, generate_social_day, make_authors
from glamcast.simulator.tastes import Tastes, make_tastes
from glamcast.simulator.trends import TREND_TERMS, TrendCurves, background_truth, make_trend_curves
from glamcast.simulator.tryon_sessions import TryOnDay, generate_tryon_day
from glamcast.simulator.users import make_users

DAY_MS = 86_400_000
#: Extra pull toward a product in its first weeks on sale, decaying with this many days.
FRESHNESS_BOOST = 0.8
FRESHNESS_DAYS = 10.0
#: Logit of a product before its launch day: never chosen.
NOT_LAUNCHED = -1e9
#: Config fields added after worlds were first saved: left out of `run_tag` at their default.
_TAG_NEUTRAL = frozenset({"feed_follow_share"})
#: Random streams, one per generator, so that each is reproducible on its own.
_STREAMS = {"catalog": 1, "users": 2, "tastes": 3, "trends": 4, "authors": 5,
            "looks": 6, "look_tastes": 7, "tryon": 10, "commerce": 11, "social": 12,
            "feed": 13}


def _rng(seed: int, stream: str, *more: int) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAMS[stream], *more])


@dataclass
class World:
    config: SimulationConfig  # with `start` resolved to a date
    catalog: pd.DataFrame
    users: pd.DataFrame
    tastes: Tastes
    curves: TrendCurves
    authors: Authors
    # What each person's feed shows (user index → its items, each item the product indices of a
    # product or of a look's products), set by the caller; with `config.feed_follow_share` > 0 a
    # share of that person's product try-ons start from it (`feed_choices`). None: no feeds.
    feeds: dict[int, list[np.ndarray]] | None = None

    # --- construction ----------------------------------------------------------------------

    @classmethod
    def build(cls, config: SimulationConfig) -> World:
        """Draw the world of `config` (resolving a missing `start` to today minus `days`)."""
        config = replace(config, start=config.start_date)
        catalog = make_catalog(config, _rng(config.seed, "catalog"))
        users = make_users(config, _rng(config.seed, "users"))
        tastes = make_tastes(users, catalog, _rng(config.seed, "tastes"))
        curves = make_trend_curves(config.start_date, config.days, _rng(config.seed, "trends"))
        authors = make_authors(max(300, 4 * config.posts_per_day), config.seed,
                               _rng(config.seed, "authors"))
        return cls(config, catalog, users, tastes, curves, authors)

    @cached_property
    def run_tag(self) -> str:
        """Short hash of the config: prefixes every id, so two runs never share an event_id.
        Knobs added later (`_TAG_NEUTRAL`) count only when set, so older worlds keep their ids."""
        config = self.config
        shown = [f"{f.name}={getattr(config, f.name)!r}" for f in fields(config)
                 if not (f.name in _TAG_NEUTRAL and getattr(config, f.name) == f.default)]
        text = f"{type(config).__qualname__}({', '.join(shown)})"
        return hashlib.sha256(text.encode()).hexdigest()[:8]

    @cached_property
    def looks(self) -> LookCatalog:
        """The curated looks of the catalogue (`glamcast.simulator.looks`)."""
        return make_looks(self.config, self.catalog, _rng(self.config.seed, "looks"))

    @cached_property
    def look_tastes(self) -> LookTastes:
        """How much each person likes each look."""
        return make_look_tastes(self.users, self.tastes, self.catalog, self.looks,
                                _rng(self.config.seed, "look_tastes"))

    # --- arrays the generators read ------------------------------------------------------------

    @cached_property
    def product_category(self) -> np.ndarray:
        index = {category.value: i for i, category in enumerate(CATEGORIES)}
        return self.catalog["category"].map(index).to_numpy()

    @cached_property
    def products_by_category(self) -> list[np.ndarray]:
        return [np.flatnonzero(self.product_category == c) for c in range(len(CATEGORIES))]

    @cached_property
    def boost(self) -> np.ndarray:
        """(products, days) logit added when choosing: trends, freshness, not-yet-launched."""
        catalog, curves, days = self.catalog, self.curves, self.config.days
        family = catalog["shade_family"].map(SHADE_FAMILIES.index).to_numpy()
        finish = catalog["finish"].map({f.value: i for i, f in enumerate(FINISHES)}).to_numpy()
        trend = (
            np.log(curves.family[family]) + np.log(curves.category[self.product_category])
            + np.log(curves.finish[finish])
        )
        launch_day = (catalog["launched_at_ms"].to_numpy() - self.config.start_ms) // DAY_MS
        age = np.arange(days)[None, :] - launch_day[:, None]  # days on sale
        fresh = FRESHNESS_BOOST * np.exp(-np.maximum(age, 0) / FRESHNESS_DAYS)
        boost = self.config.trend_influence * trend + fresh
        return np.where(age >= 0, boost, NOT_LAUNCHED).astype(np.float32)

    @cached_property
    def session_rate(self) -> np.ndarray:
        """(users,) expected try-on sessions per ordinary day."""
        return self.users["sessions_per_week"].to_numpy() / 7.0

    @cached_property
    def shop_rate(self) -> np.ndarray:
        return self.users["shop_sessions_per_week"].to_numpy() / 7.0

    @cached_property
    def activity(self) -> np.ndarray:
        return activity_multipliers(self.config.start_date, self.config.days)

    @cached_property
    def posting(self) -> np.ndarray:
        return posting_multipliers(self.config.start_date, self.config.days)

    @cached_property
    def product_ids(self) -> list[str]:
        return self.catalog["product_id"].tolist()

    @cached_property
    def product_brands(self) -> list[str]:
        return self.catalog["brand"].tolist()

    @cached_property
    def brand_names(self) -> list[str]:
        return [name for name, _, _ in BRANDS]

    @cached_property
    def brand_share(self) -> np.ndarray:
        weights = np.array([weight for _, _, weight in BRANDS])
        return weights / weights.sum()

    @cached_property
    def _mention_weights(self) -> np.ndarray:
        """How likely a product is to be shown in a post: quality and brand popularity."""
        brand = self.catalog["brand"].map(dict(zip(self.brand_names, self.brand_share,
                                                   strict=True))).to_numpy()
        return np.exp(self.catalog["quality"].to_numpy()) * brand

    @cached_property
    def popular_products(self) -> tuple[np.ndarray, np.ndarray]:
        weights = self._mention_weights
        return np.arange(weights.size), weights / weights.sum()

    @cached_property
    def term_products(self) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """Per trend term, the products a post with it shows: its families, else categories."""
        catalog, weights = self.catalog, self._mention_weights
        out: list[tuple[np.ndarray, np.ndarray] | None] = []
        for term in TREND_TERMS:
            if term.families:
                mask = catalog["shade_family"].isin(term.families).to_numpy()
            elif term.categories:
                mask = catalog["category"].isin(term.categories).to_numpy()
            elif term.finishes:
                mask = catalog["finish"].isin(term.finishes).to_numpy()
            else:
                mask = np.zeros(len(catalog), dtype=bool)
            candidates = np.flatnonzero(mask)
            out.append((candidates, weights[candidates] / weights[candidates].sum())
                       if candidates.size else None)
        return out

    @cached_property
    def term_products_mask(self) -> np.ndarray:
        return np.array([entry is not None for entry in self.term_products])

    def feed_choices(self, users: np.ndarray, day: int) -> np.ndarray | None:
        """(n,) per try-on chain of `users`, the product started from the person's feed, or −1
        when the chain starts from the shelf; None when nobody follows a feed (no `feeds`, or
        `feed_follow_share` 0), so the day's other draws stay exactly as without feeds.

        A chain follows the feed with probability `feed_follow_share` (when the person has a
        feed); it then takes one of the feed's items uniformly and one launched product of it
        uniformly. Draws come from their own stream (seed, "feed", day)."""
        share = self.config.feed_follow_share
        if not self.feeds or share <= 0:
            return None
        rng = _rng(self.config.seed, "feed", day)
        follow = rng.random(len(users)) < share
        picks = rng.random((len(users), 2))
        chosen = np.full(len(users), -1, dtype=np.int64)
        launched = self.boost[:, day] > NOT_LAUNCHED / 2
        for i in np.flatnonzero(follow):
            items = self.feeds.get(int(users[i]))
            if not items:
                continue
            item = np.asarray(items[int(picks[i, 0] * len(items))])
            item = item[launched[item]]
            if item.size:
                chosen[i] = item[int(picks[i, 1] * item.size)]
        return chosen

    # --- the stream ----------------------------------------------------------------------------

    def tryon_day(self, day: int) -> TryOnDay:
        """The try-on sessions of one simulated day (the same draws as in `records()`)."""
        return generate_tryon_day(self, day, _rng(self.config.seed, "tryon", day))

    def social_day(self, day: int) -> SocialDay:
        """The social posts of one simulated day (the same draws as in `records()`)."""
        return generate_social_day(self, day, _rng(self.config.seed, "social", day))

    def day_batches(self, day: int, encoder: RecordEncoder) -> EncodedBatch:
        """All records of one simulated day, encoded, not yet in time order."""
        seed = self.config.seed
        tryons = self.tryon_day(day)
        commerce = generate_commerce_day(self, tryons, day, _rng(seed, "commerce", day))
        social = self.social_day(day)
        return EncodedBatch.concat([
            encoder.tryons(day, tryons), encoder.commerce(day, commerce),
            encoder.social(day, social),
        ])

    def record_batches(self) -> Iterator[list[Record]]:
        """The records of `records()`, in time order, as one list per simulated day."""
        encoder = RecordEncoder(self)
        catalog, _ = encoder.catalog().split_sorted(np.iinfo(np.int64).max)
        yield catalog
        carry = EncodedBatch.empty()
        for day in range(self.config.days):
            # Sessions that run past midnight spill into the next day: hold them back until then.
            ready, carry = EncodedBatch.concat([carry, self.day_batches(day, encoder)]).split_sorted(
                self.config.start_ms + (day + 1) * DAY_MS
            )
            yield ready
        rest, _ = carry.split_sorted(np.iinfo(np.int64).max)
        yield rest

    def records(self) -> Iterator[Record]:
        """Every record of the run in time order: the catalogue first, then day by day."""
        for batch in self.record_batches():
            yield from batch

    # --- truth ---------------------------------------------------------------------------------

    @cached_property
    def truth(self) -> dict[str, pd.DataFrame]:
        """Latent facts: `users` (affinities), `utility` (per person × product), `products`
        (catalogue with hidden quality, skin tone and family), `trends` (per day × hashtag),
        `trend_shapes` (per trend term: its planted shape and window, `trends.PLANTED_COLUMNS`;
        background hashtags as `random_walk`)."""
        frames = self.tastes.truth_frames(self.users, self.catalog)
        dates = window_dates(self.config.start_date, self.config.days)
        frames["products"] = self.catalog.copy()
        frames["trends"] = pd.DataFrame({
            "date": np.repeat(pd.to_datetime(dates), len(TREND_TERMS)),
            "term": [term.term for term in TREND_TERMS] * len(dates),
            "weight": self.curves.weights.T.ravel(),
        })
        frames["trend_shapes"] = pd.concat([background_truth(), self.curves.planted],
                                           ignore_index=True)
        return frames

    def save_truth(self, directory: Path) -> list[Path]:
        """Write each truth table as ``<directory>/<name>.parquet``; returns the paths."""
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, frame in self.truth.items():
            path = directory / f"{name}.parquet"
            frame.to_parquet(path, index=False)
            written.append(path)
        return written
