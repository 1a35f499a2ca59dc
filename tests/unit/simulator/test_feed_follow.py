"""Try-ons that follow the feed (`SimulationConfig.feed_follow_share`, `World.feeds`): off by
default and without feeds (every draw and id as before), and followed when on."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from glamcast.simulator import SimulationConfig, World

CONFIG = SimulationConfig(users=200, days=4, start=date(2026, 3, 2), seed=5, products=120,
                          looks=24)


def _same_day(a, b) -> bool:
    return all(np.array_equal(getattr(a, name), getattr(b, name)) for name in (
        "ts_ms", "user", "action", "product", "look", "dwell_ms", "chain_product"))


def test_default_worlds_are_unchanged() -> None:
    plain = World.build(CONFIG)
    # a feed-follow share of 0 is not part of the world's identity: the same ids as before
    assert plain.run_tag == World.build(replace(CONFIG, feed_follow_share=0.0)).run_tag
    assert plain.run_tag != World.build(replace(CONFIG, feed_follow_share=0.2)).run_tag
    with_feeds = World.build(CONFIG)
    with_feeds.feeds = {user: [np.array([0])] for user in range(CONFIG.users)}
    assert with_feeds.feed_choices(np.arange(10), 0) is None  # share 0: nobody follows
    assert _same_day(plain.tryon_day(2), with_feeds.tryon_day(2))
    following = World.build(replace(CONFIG, feed_follow_share=0.5))
    assert following.feed_choices(np.arange(10), 0) is None  # no feeds: nothing drawn
    assert _same_day(plain.tryon_day(2), following.tryon_day(2))


@pytest.mark.parametrize("share", [0.3, 1.0])
def test_try_ons_start_from_the_feed(share: float) -> None:
    world = World.build(replace(CONFIG, feed_follow_share=share))
    launched = np.flatnonzero(world.boost[:, 0] > -1e8)
    lipstick = [p for p in launched if world.catalog["category"].iloc[p] == "lipstick"][:2]
    shown = np.array(lipstick)  # a look's products are one item; here two lipsticks
    fed = np.arange(0, CONFIG.users, 2)  # every other person has a feed
    world.feeds = {int(user): [shown] for user in fed}
    day = world.tryon_day(0)
    first_tries = (day.action == 0) & (day.look < 0)
    from_feed = np.isin(day.product[first_tries], shown)
    has_feed = np.isin(day.user[first_tries], fed)
    assert from_feed[~has_feed].mean() < 0.2  # without a feed: the shelf only
    share_fed = from_feed[has_feed].mean()
    assert share_fed >= share * 0.8  # followed (plus shelf picks of the same lipsticks)
    if share == 1.0:
        assert from_feed[has_feed].all()
