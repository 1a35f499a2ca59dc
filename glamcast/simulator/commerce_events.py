"""One day of shop events in the REES46 format, for the same people as the try-ons.

In: the world, the day's `TryOnDay`, a day index and a random generator. Out: `CommerceDay`,
columnar arrays of view / cart / remove_from_cart / purchase events.

Two sources: the mirror of the try-on funnel (the product page viewed after a try-on, every
try-on cart and purchase also reaching the shop, some unbought carts removed later), in the same
`user_session` as the try-on session; and shop-only browsing without the mirror (views chosen by
the same tastes, a few carts and purchases).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from glamcast.core.events import CommerceEventType
from glamcast.simulator import config as rates
from glamcast.simulator.choices import choose_categories, choose_products
from glamcast.simulator.rhythms import sample_times_of_day_ms

if TYPE_CHECKING:
    from glamcast.simulator.tryon_sessions import TryOnDay
    from glamcast.simulator.world import World

EVENT_TYPES: tuple[CommerceEventType, ...] = (
    CommerceEventType.VIEW, CommerceEventType.CART,
    CommerceEventType.REMOVE_FROM_CART, CommerceEventType.PURCHASE,
)
VIEW, CART, REMOVE, PURCHASE = range(4)
#: Mean product pages per shop-only session beyond the first.
SHOP_EXTRA_VIEWS = 2.0
SHOP_PAGE_GAP_MEDIAN_MS = 20_000
#: Delay of the shop event after the try-on event it mirrors, ms.
MIRROR_DELAY_MS = 400
REMOVE_DELAY_MEDIAN_MS = 45_000


@dataclass
class CommerceDay:
    ts_ms: np.ndarray  # (events,) int64
    user: np.ndarray  # user index
    product: np.ndarray  # product index
    event_type: np.ndarray  # index into EVENT_TYPES
    session: np.ndarray  # session number: try-on sessions first, then shop-only sessions
    shop_session_offset: int  # session numbers ≥ this are shop-only sessions


def _mirror_tryons(tryons: TryOnDay, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    carted = tryons.chain_cart_ms >= 0
    bought = tryons.chain_purchase_ms >= 0
    viewed = carted | (rng.random(carted.size) < rates.RATE_COMMERCE_VIEW_PER_TRY_ON)
    removed = carted & ~bought & (rng.random(carted.size) < rates.RATE_REMOVE_UNBOUGHT_CART)
    remove_ms = tryons.session_end_ms[tryons.chain_session] + (
        REMOVE_DELAY_MEDIAN_MS * rng.lognormal(0, 0.8, carted.size)
    ).astype(np.int64)
    parts = [
        (viewed, tryons.chain_seen_ms + MIRROR_DELAY_MS, VIEW),
        (carted, tryons.chain_cart_ms + MIRROR_DELAY_MS, CART),
        (bought, tryons.chain_purchase_ms + MIRROR_DELAY_MS, PURCHASE),
        (removed, remove_ms, REMOVE),
    ]
    ts = np.concatenate([times[mask] for mask, times, _ in parts])
    kind = np.concatenate([np.full(mask.sum(), code) for mask, _, code in parts])
    chain = np.concatenate([np.flatnonzero(mask) for mask, _, _ in parts])
    return ts, tryons.chain_user[chain], tryons.chain_product[chain], kind, tryons.chain_session[chain]


def _shop_sessions(world: World, day: int, rng: np.random.Generator,
                   first_session: int) -> tuple[np.ndarray, ...]:
    day_ms = world.config.start_ms + day * 86_400_000
    per_user = rng.poisson(world.shop_rate * world.activity[day])
    session_user = np.repeat(np.arange(per_user.size), per_user)
    pages = 1 + rng.poisson(SHOP_EXTRA_VIEWS, session_user.size)
    view_session = np.repeat(np.arange(session_user.size), pages)
    view_user = session_user[view_session]
    product = choose_products(world, view_user, choose_categories(world, view_user, day, rng),
                              day, rng)
    gaps = (SHOP_PAGE_GAP_MEDIAN_MS * rng.lognormal(0, 0.9, view_session.size)).astype(np.int64)
    elapsed = np.cumsum(gaps) - gaps
    first = np.cumsum(pages) - pages
    start = day_ms + sample_times_of_day_ms(rng, session_user.size)
    view_ms = start[view_session] + elapsed - elapsed[first[view_session]]

    z = world.tastes.z[view_user, product]
    tilt = np.exp(rates.REACTION_UTILITY_SLOPE * z)
    tilt = tilt / tilt.mean() if tilt.size else tilt
    carted = rng.random(z.size) < np.clip(rates.RATE_SHOP_CART_PER_VIEW * tilt, 0, 0.95)
    bought = carted & (rng.random(z.size) < rates.RATE_PURCHASE_PER_CART)
    removed = carted & ~bought & (rng.random(z.size) < rates.RATE_REMOVE_UNBOUGHT_CART)
    cart_ms = view_ms + (8_000 * rng.lognormal(0, 0.6, z.size)).astype(np.int64)
    later_ms = cart_ms + (30_000 * rng.lognormal(0, 0.6, z.size)).astype(np.int64)
    parts = [
        (np.ones(z.size, dtype=bool), view_ms, VIEW),
        (carted, cart_ms, CART),
        (bought, later_ms, PURCHASE),
        (removed, later_ms, REMOVE),
    ]
    ts = np.concatenate([times[mask] for mask, times, _ in parts])
    kind = np.concatenate([np.full(mask.sum(), code) for mask, _, code in parts])
    row = np.concatenate([np.flatnonzero(mask) for mask, _, _ in parts])
    return ts, view_user[row], product[row], kind, first_session + view_session[row]


def generate_commerce_day(world: World, tryons: TryOnDay, day: int,
                          rng: np.random.Generator) -> CommerceDay:
    offset = tryons.session_user.size
    mirror = _mirror_tryons(tryons, rng)
    shop = _shop_sessions(world, day, rng, offset)
    ts, user, product, kind, session = (np.concatenate(pair) for pair in zip(mirror, shop,
                                                                           strict=True))
    return CommerceDay(
        ts_ms=ts.astype(np.int64), user=user, product=product, event_type=kind,
        session=session, shop_session_offset=offset,
    )
