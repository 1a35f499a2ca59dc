"""Configuration of the synthetic world, and the documented rates it is generated with.

`SimulationConfig` holds what a run may change (size, window, seed, behaviour knobs); the module
constants below are the funnel and mix rates the generator targets and the tests check. Rates are
means over the whole run: a person who loves a shade likes, carts and buys it more often than one
who does not, but the per-day average of that modulation is 1, so the totals stay on the rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

# --- try-on funnel (denominator: try_on events, i.e. one per product a person starts trying) ------

#: Share of try-ons that end in a like.
RATE_LIKE = 0.12
#: Share of try-ons that end in a save (to a wish list).
RATE_SAVE = 0.05
#: Share of try-ons that end in a share.
RATE_SHARE = 0.02
#: Share of try-ons that end in an add-to-cart.
RATE_ADD_TO_CART = 0.04
#: Share of add-to-carts that end in a purchase within the session.
RATE_PURCHASE_PER_CART = 0.35
#: Share of try-ons without any positive reaction that the person dismisses explicitly.
RATE_DISMISS_IF_NO_POSITIVE = 0.25
#: How strongly the true (standardized) utility of a shade tilts its reactions: p ∝ exp(k·z).
REACTION_UTILITY_SLOPE = 0.8

# --- dwell times (lognormal: median in ms, sigma of the log) -------------------------------------

DWELL_TRY_ON_MEDIAN_MS = 6_000
DWELL_SHADE_SWAP_MEDIAN_MS = 3_500
DWELL_SIGMA = 0.7
#: Dwell on a shade the person then likes, saves, shares or carts is this much longer.
DWELL_POSITIVE_FACTOR = 1.8
#: Median pause before a reaction (like, cart...) in ms.
REACTION_GAP_MEDIAN_MS = 1_500

# --- commerce (REES46) -------------------------------------------------------------------------

#: Share of try-ons after which the person also opens the product page (a commerce `view`).
RATE_COMMERCE_VIEW_PER_TRY_ON = 0.35
#: Share of carts not bought that are removed again (`remove_from_cart`).
RATE_REMOVE_UNBOUGHT_CART = 0.30
#: Shop-only browsing (no try-on): per viewed product, the share carted.
RATE_SHOP_CART_PER_VIEW = 0.08

# --- people ------------------------------------------------------------------------------------

#: Monk Skin Tone 1..10 mix of the app's audience (global, beauty-app skew toward the middle).
SKIN_TONE_MIX = (0.04, 0.09, 0.13, 0.15, 0.15, 0.13, 0.11, 0.09, 0.06, 0.05)
#: Undertone mix: cool, neutral, warm.
UNDERTONE_MIX = {"cool": 0.34, "neutral": 0.30, "warm": 0.36}
#: Face shape mix.
FACE_SHAPE_MIX = {
    "oval": 0.30, "round": 0.20, "square": 0.14, "heart": 0.16, "oblong": 0.12, "diamond": 0.08,
}
#: App platform mix.
PLATFORM_MIX = {"ios": 0.46, "android": 0.40, "web": 0.14}


@dataclass(frozen=True)
class SimulationConfig:
    """What one simulation run generates. Same config (with an explicit `start`) → same bytes."""

    users: int = 2_000  # people in the world
    days: int = 60  # length of the simulated window
    start: date | None = None  # first UTC day; None: today (UTC) minus `days`, so the run ends now
    seed: int = 7  # seeds every random draw
    products: int = 360  # catalogue size, spread over all 12 categories
    consent_share: float = 0.85  # share of people who consent to send face attributes
    sessions_per_user_per_week: float = 2.5  # mean try-on sessions; per person gamma-distributed
    try_ons_per_session: float = 2.4  # mean products tried per session (at least one)
    shade_swaps_per_try_on: float = 1.2  # mean swaps to other shades of the same category
    shop_sessions_per_user_per_week: float = 0.8  # shop browsing without try-on (REES46 only)
    posts_per_day: int = 700  # social posts on an ordinary weekday
    new_launch_share: float = 0.08  # share of products launched during the window
    choice_sharpness: float = 1.6  # weight of true utility in which shades people pick
    trend_influence: float = 0.6  # weight of hashtag trends in what people try
    looks: int = 400  # curated looks in the catalogue (glamcast.simulator.looks); 0: none
    look_sessions_per_user_per_week: float = 0.6  # visits to the looks tab (mean; ∝ activity)
    looks_per_session: float = 1.5  # looks tried per visit (at least one), each with swaps
    # share of product try-ons a person starts from their feed (World.feeds: what their feed
    # shows, set by whoever serves it, e.g. bench/trend_loop.py) instead of the shelf; 0 (and no
    # feeds) leaves every draw as it was
    feed_follow_share: float = 0.0

    def __post_init__(self) -> None:
        if self.users < 1 or self.days < 1 or self.products < 24:
            raise ValueError("users and days must be ≥ 1 and products ≥ 24 (two per category)")
        if self.looks < 0 or self.look_sessions_per_user_per_week < 0:
            raise ValueError("looks and look_sessions_per_user_per_week must be ≥ 0")
        if not 0.0 <= self.feed_follow_share <= 1.0:
            raise ValueError(f"feed_follow_share {self.feed_follow_share} is not a share in [0, 1]")
        if not 0.0 <= self.consent_share <= 1.0:
            raise ValueError(f"consent_share {self.consent_share} is not a share in [0, 1]")

    @property
    def start_date(self) -> date:
        """The first simulated day (resolving the `None` default against today's UTC date)."""
        return self.start or (datetime.now(UTC).date() - timedelta(days=self.days))

    @property
    def start_ms(self) -> int:
        """Midnight UTC of the first day, in epoch milliseconds."""
        moment = datetime.combine(self.start_date, datetime.min.time(), tzinfo=UTC)
        return int(moment.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        """Midnight UTC after the last day, in epoch milliseconds."""
        return self.start_ms + self.days * 86_400_000
