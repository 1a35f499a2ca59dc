"""One day of try-on sessions: the try-on events and the funnel outcomes behind them.

In: the world, a day index and a random generator. Out: `TryOnDay`, columnar arrays of the day's
try-on events (one row per event, in session order) plus one row per try-on "chain" (a product
tried, the shades swapped to, and the reactions), which the commerce generator mirrors.

A session: a person opens the mirror at a time drawn from the daily rhythm, picks a category,
and tries a few products (`try_on`); for each, swaps to other shades of the category
(`shade_swap`), settles on the favourite of the shades seen, and may like, save, share, add it to
cart (then maybe buy it), or dismiss it. Choices follow true utility and trends
(`choices.choose_products`); reactions follow the funnel rates of `config`, tilted by how much the
person truly likes the shade.

Feeds: with `SimulationConfig.feed_follow_share` > 0 and `World.feeds` set, that share of
product chains starts from an item of the person's feed (`World.feed_choices`): the chain's
category is the item's and its first try-on is the item's product; swaps and reactions follow as
for any chain. Without feeds nothing is drawn for them, so existing worlds are unchanged.

Look sessions (the looks tab, `looks.generate_look_chains`) follow the same funnel with looks in
place of shades: try a look, swap to other looks, settle on the favourite look and react to it.
Their events carry `look_id` and the look's lip product (`LookCatalog.hero`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from glamcast.core.events import Action
from glamcast.simulator import config as rates
from glamcast.simulator.choices import choose_categories, choose_products
from glamcast.simulator.looks import generate_look_chains
from glamcast.simulator.rhythms import sample_times_of_day_ms

if TYPE_CHECKING:
    from glamcast.simulator.world import World

#: Action codes used in the columns, in the order reactions happen after a try-on.
ACTIONS: tuple[Action, ...] = (
    Action.TRY_ON, Action.SHADE_SWAP, Action.LIKE, Action.SAVE, Action.SHARE,
    Action.ADD_TO_CART, Action.PURCHASE, Action.DISMISS,
)
_REACTIONS = ACTIONS[2:]
#: Share of further try-ons in a session that stay in the session's first category.
SAME_CATEGORY_SHARE = 0.75
#: Median pause between one product and the next (browsing the shelf), ms.
NAVIGATION_GAP_MEDIAN_MS = 2_500


@dataclass
class TryOnDay:
    """The day's try-on events (`ts_ms` … `dwell_ms`) and chains (`chain_*`)."""

    ts_ms: np.ndarray  # (events,) int64
    user: np.ndarray  # (events,) user index
    session: np.ndarray  # (events,) session number within the day
    action: np.ndarray  # (events,) index into ACTIONS
    product: np.ndarray  # (events,) product index
    dwell_ms: np.ndarray  # (events,)
    look: np.ndarray  # (events,) look index, -1 for a product try-on
    chain_session: np.ndarray  # (chains,)
    chain_user: np.ndarray
    chain_product: np.ndarray  # the favourite shade the reactions are about
    chain_seen_ms: np.ndarray  # when the favourite shade was on screen
    chain_cart_ms: np.ndarray  # add_to_cart time, -1 if not carted
    chain_purchase_ms: np.ndarray  # purchase time, -1 if not bought
    chain_z: np.ndarray  # standardized true utility of the favourite shade
    session_user: np.ndarray  # (sessions,)
    session_end_ms: np.ndarray  # (sessions,) time of the last event


def _lognormal_ms(rng: np.random.Generator, median_ms: float, n: int) -> np.ndarray:
    return median_ms * rng.lognormal(0.0, rates.DWELL_SIGMA, n)


def _tilted_bernoulli(rng: np.random.Generator, rate: float, tilt: np.ndarray) -> np.ndarray:
    """Draws with mean probability `rate`, each tilted by `tilt` (whose mean is 1)."""
    return rng.random(tilt.size) < np.clip(rate * tilt, 0.0, 0.95)


def _tilt(values: np.ndarray) -> np.ndarray:
    """exp(values) scaled to mean 1, so tilted rates keep their documented mean."""
    weights = np.exp(values)
    return weights / weights.mean() if weights.size else weights


def generate_tryon_day(world: World, day: int, rng: np.random.Generator) -> TryOnDay:
    day_ms = world.config.start_ms + day * 86_400_000

    # --- sessions --------------------------------------------------------------------------
    per_user = rng.poisson(world.session_rate * world.activity[day])
    session_user = np.repeat(np.arange(per_user.size), per_user)
    n_sessions = session_user.size
    session_start = day_ms + sample_times_of_day_ms(rng, n_sessions)
    session_category = choose_categories(world, session_user, day, rng)

    # --- chains: one per product tried -------------------------------------------------------
    tries = 1 + rng.poisson(max(0.0, world.config.try_ons_per_session - 1), n_sessions)
    chain_session = np.repeat(np.arange(n_sessions), tries)
    chain_user = session_user[chain_session]
    n_chains = chain_session.size
    chain_category = np.where(
        rng.random(n_chains) < SAME_CATEGORY_SHARE,
        session_category[chain_session],
        choose_categories(world, chain_user, day, rng),
    )
    # a share of chains start from what the person's feed shows (World.feed_choices)
    feed_pick = world.feed_choices(chain_user, day)
    if feed_pick is not None:
        from_feed = feed_pick >= 0
        chain_category = np.where(from_feed, world.product_category[feed_pick], chain_category)

    # --- views: the first try-on and the shade swaps of each chain --------------------------
    views = 1 + rng.poisson(world.config.shade_swaps_per_try_on, n_chains)
    view_chain = np.repeat(np.arange(n_chains), views)
    view_product = choose_products(
        world, chain_user[view_chain], chain_category[view_chain], day, rng
    )
    if feed_pick is not None:  # the first view of a feed chain is the feed's product
        view_product[(np.cumsum(views) - views)[from_feed]] = feed_pick[from_feed]
    view_z = world.tastes.z[chain_user[view_chain], view_product]

    # --- look sessions: chains of looks, appended after the product sessions and chains ------
    looks = generate_look_chains(world, day, rng)
    view_look = np.concatenate([np.full(view_chain.size, -1), looks.view_look])
    view_product = np.concatenate([view_product, world.looks.hero[looks.view_look]])
    view_z = np.concatenate([view_z, looks.view_z])
    view_chain = np.concatenate([view_chain, n_chains + looks.view_chain])
    views = np.concatenate([views, looks.views])
    chain_session = np.concatenate([chain_session, n_sessions + looks.chain_session])
    chain_user = np.concatenate([chain_user, looks.chain_user])
    session_user = np.concatenate([session_user, looks.session_user])
    session_start = np.concatenate([session_start, looks.session_start_ms])
    n_chains, n_sessions = chain_session.size, session_user.size

    first_view = np.cumsum(views) - views
    # The person settles on the best shade seen: sort each chain by descending z, take the first.
    by_preference = np.lexsort((-view_z, view_chain))
    favourite_view = by_preference[first_view]
    chain_product = view_product[favourite_view]
    chain_look = view_look[favourite_view]
    chain_z = view_z[favourite_view]

    # --- reactions to the favourite ----------------------------------------------------------
    slope = rates.REACTION_UTILITY_SLOPE
    liked_tilt = _tilt(slope * chain_z)
    like = _tilted_bernoulli(rng, rates.RATE_LIKE, liked_tilt)
    save = _tilted_bernoulli(rng, rates.RATE_SAVE, liked_tilt)
    share = _tilted_bernoulli(rng, rates.RATE_SHARE, liked_tilt)
    cart = _tilted_bernoulli(rng, rates.RATE_ADD_TO_CART, liked_tilt)
    purchase = cart & (rng.random(n_chains) < rates.RATE_PURCHASE_PER_CART)
    positive = like | save | share | cart
    dismiss = np.zeros(n_chains, dtype=bool)
    dismiss[~positive] = _tilted_bernoulli(
        rng, rates.RATE_DISMISS_IF_NO_POSITIVE, _tilt(-slope * chain_z[~positive])
    )
    flags = np.stack([like, save, share, cart, purchase, dismiss])  # (reactions, chains)

    # --- events in session order -------------------------------------------------------------
    n_views = view_chain.size
    view_rank = np.arange(n_views) - first_view[view_chain]
    view_action = np.where(view_rank == 0, 0, 1)
    dwell = np.where(
        view_action == 0,
        _lognormal_ms(rng, rates.DWELL_TRY_ON_MEDIAN_MS, n_views),
        _lognormal_ms(rng, rates.DWELL_SHADE_SWAP_MEDIAN_MS, n_views),
    )
    dwell[favourite_view[positive]] *= rates.DWELL_POSITIVE_FACTOR
    dwell = np.rint(dwell).astype(np.int64)

    reaction_kind, reaction_chain = np.nonzero(flags)
    n_reactions = reaction_chain.size
    event_chain = np.concatenate([view_chain, reaction_chain])
    event_rank = np.concatenate([view_rank, 1_000 + reaction_kind])  # reactions after views
    event_action = np.concatenate([view_action, 2 + reaction_kind])
    event_product = np.concatenate([view_product, chain_product[reaction_chain]])
    event_look = np.concatenate([view_look, chain_look[reaction_chain]])
    event_dwell = np.concatenate([dwell, dwell[favourite_view[reaction_chain]]])
    # Time from this event to the next: the dwell (plus browsing) for views, a pause otherwise.
    event_gap = np.concatenate([
        dwell + _lognormal_ms(rng, NAVIGATION_GAP_MEDIAN_MS, n_views).astype(np.int64),
        _lognormal_ms(rng, rates.REACTION_GAP_MEDIAN_MS, n_reactions).astype(np.int64),
    ])
    order = np.lexsort((event_rank, event_chain))
    event_chain, event_action = event_chain[order], event_action[order]
    event_product, event_dwell, event_gap = event_product[order], event_dwell[order], event_gap[order]
    event_look = event_look[order]
    event_session = chain_session[event_chain]

    elapsed = np.cumsum(event_gap) - event_gap  # time since the day's first event started
    session_first = np.searchsorted(event_session, np.arange(n_sessions))
    ts = session_start[event_session] + elapsed - elapsed[session_first[event_session]]

    # --- chain facts the commerce mirror needs -----------------------------------------------
    view_position = np.empty(n_views, dtype=np.int64)  # where each view landed after sorting
    view_position[order[order < n_views]] = np.flatnonzero(order < n_views)
    cart_ms = np.full(n_chains, -1, dtype=np.int64)
    purchase_ms = np.full(n_chains, -1, dtype=np.int64)
    sorted_is_reaction = order >= n_views
    kinds = reaction_kind[order[sorted_is_reaction] - n_views]
    reaction_ts, reaction_chains = ts[sorted_is_reaction], event_chain[sorted_is_reaction]
    cart_rows = kinds == _REACTIONS.index(Action.ADD_TO_CART)
    purchase_rows = kinds == _REACTIONS.index(Action.PURCHASE)
    cart_ms[reaction_chains[cart_rows]] = reaction_ts[cart_rows]
    purchase_ms[reaction_chains[purchase_rows]] = reaction_ts[purchase_rows]
    session_end = np.full(n_sessions, day_ms, dtype=np.int64)
    np.maximum.at(session_end, event_session, ts)

    return TryOnDay(
        ts_ms=ts.astype(np.int64),
        user=session_user[event_session],
        session=event_session,
        action=event_action,
        product=event_product,
        dwell_ms=event_dwell,
        look=event_look,
        chain_session=chain_session,
        chain_user=chain_user,
        chain_product=chain_product,
        chain_seen_ms=ts[view_position[favourite_view]],
        chain_cart_ms=cart_ms,
        chain_purchase_ms=purchase_ms,
        chain_z=chain_z,
        session_user=session_user,
        session_end_ms=session_end,
    )
